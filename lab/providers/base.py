"""What every cluster provider offers the pipeline: one small interface."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from lab.nodes import Node

if TYPE_CHECKING:
    from lab.errors import LabError
    from lab.published_ports import Published
    from lab.spec import LabSpec
    from lab.state import State

HostCheck = Callable[[], "tuple[bool, str]"]   # lab.doctor's check: (passed, what it saw)


@dataclass
class Cluster:
    name: str
    kubeconfig: Path
    context: str
    created_by_lab: bool = False
    nodes: list[Node] = field(default_factory=list)
    wasm_nodes: list[Node] = field(default_factory=list)
    check_host: str = "127.0.0.1"  # where the host reaches the NodePorts

    def close_nodes(self) -> None:
        """An action is done with the nodes: nothing that reaches them outlives it."""
        for node in self.nodes:
            node.close()


def not_up(spec: LabSpec) -> LabError:
    from lab.errors import LabError

    return LabError(f"lab {spec.name} is not up ({spec.provider}); run invoke lab.up first")


class Provider:
    """Every method takes the validated `LabSpec`; `state` is the lab's `State` (what it created)."""
    name = "base"
    creates_clusters = True   # False: the provider only works inside a cluster someone else made
    registry_network: str | None = None  # the Docker network a lab registry joins so the nodes reach it

    def ensure(self, spec: LabSpec, node_image: str | None, state: State) -> Cluster:
        """Create the cluster when missing (or reuse it), and return it with its nodes.

        Records in `state` what it created, for delete()."""
        raise NotImplementedError

    def attach(self, spec: LabSpec, state: State) -> Cluster:
        """Reach the lab's running cluster as it is (read-only, never creates anything): its
        kubeconfig, its nodes and where the NodePorts answer. LabError when it is not up."""
        raise NotImplementedError

    def collect_logs(self, spec: LabSpec, folder: Path) -> list[str]:
        """Write the provider's own logs of the cluster into `folder`; return what was written."""
        return []

    def load_images(self, cluster: Cluster, refs: list[str]) -> list[str]:
        """Make local images available to the wasm nodes; return the refs actually loaded."""
        raise NotImplementedError

    def delete(self, spec: LabSpec, state: State) -> list[str]:
        """Remove what ensure() created, as recorded in `state`; return what was removed."""
        raise NotImplementedError

    def exists(self, spec: LabSpec) -> bool:
        raise NotImplementedError

    def preflight(self, spec: LabSpec) -> None:
        """Refuse early (LabError) what cannot work, before any artifact is built."""

    def host_checks(self) -> dict[str, HostCheck]:
        """lab.doctor's checks of what this provider needs on the host: name -> () -> (ok, detail)."""
        return {}

    def published_ports(self, spec: LabSpec) -> list[Published]:
        """The host ports the lab's running node containers publish:
        none for a provider whose nodes publish none."""
        return []

    def identity(self, spec: LabSpec) -> str | None:
        """What tells this cluster from another one made later under the same name."""
        return None

    def pulled_names(self, spec: LabSpec, refs: list[str]) -> list[str]:
        """Other names under which the nodes will hold the loaded images (a registry's)."""
        return []

    def forget_pushed(self, spec: LabSpec, refs: list[str]) -> list[str]:
        """Remove the host's tags that load_images() made to push `refs` to a registry; return
        what was removed."""
        return []

    def release(self, spec: LabSpec, state: State) -> list[str]:
        """Undo what ensure() added around the lab in a cluster it did not create (labels, helper
        pods); return what was removed."""
        return []
