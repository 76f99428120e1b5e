"""The running lab as the bench reaches it, through its provider's read-only `attach`."""
from __future__ import annotations

import dataclasses
import time

from lab.state import State


class LabCluster:
    """The running lab as the bench reaches it, whatever its provider: the API, the nodes, and a
    way to load an image back into one node."""

    def __init__(self, spec):
        from lab import providers

        self.spec = spec
        self.provider = providers.get(spec.provider)
        self.state = State(spec.name)
        self.cluster = self.provider.attach(spec, self.state)

    def node(self, name: str):
        return next((n for n in self.cluster.nodes if n.name == name), None)

    def load_back(self, node_name: str, ref: str) -> float:
        """Load `ref` from the host's Docker into one node the way lab.up did; the seconds it took."""
        started = time.monotonic()
        self.provider.load_images(dataclasses.replace(self.cluster, wasm_nodes=[self.node(node_name)]), [ref])
        return round(time.monotonic() - started, 3)

    def pod_image(self, ref: str) -> str:
        """The name a pod uses for an image loaded with load_back (a registry's, when the
        provider pushes there)."""
        names = self.provider.pulled_names(self.spec, [ref])
        return names[0] if names else ref

    def close(self) -> None:
        self.cluster.close_nodes()
