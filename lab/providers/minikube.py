"""The minikube provider: one minikube profile per lab (docker driver, containerd runtime).

`minikube start -p <name> --driver=docker --container-runtime=containerd --nodes=1+workers`
creates it, with its kubeconfig written to the lab's state folder (KUBECONFIG points there while
minikube runs, so ~/.kube/config is never touched) and the variants' NodePorts published on
127.0.0.1 (`--ports`). The workers (<name>-m02, …) become the wasm pool: labelled and tainted
like kind's. Nodes are reached over `minikube ssh`/`minikube cp` (lab.nodes.SshNode), images with
`minikube image load`.

minikube rewrites containerd's config on every `minikube start`, so a restarted profile has lost
the wasm runtimes: `lab.up` always runs the shim installer after the cluster step, which finds
its block missing, re-adds it, restarts containerd and re-checks `containerd config dump`.
After a `minikube start` of your own, run `invoke lab.up` again."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from lab.errors import LabError
from lab.nodes import SshNode
from lab.proc import run, run_logged
from lab.providers.base import Cluster, Provider
from lab.spec import ALL_VARIANTS

POOL_LABEL, POOL_VALUE = "wasm-lab.dev/pool", "wasm"
TAINT = {"key": "wasm-lab.dev/wasm", "value": "true", "effect": "NoSchedule"}


def minikube_binary() -> str:
    path = shutil.which("minikube")
    if path is None:
        raise LabError("minikube is not installed (Debian has no package; see https://minikube.sigs.k8s.io), "
                       "or use provider kind")
    return path


def start_argv(spec, binary: str = "minikube") -> list[str]:
    """The `minikube start` command for a spec (pure: unit-tested)."""
    argv = [binary, "start", "-p", spec.name, "--driver=docker", "--container-runtime=containerd",
            f"--kubernetes-version={spec.kubernetes}", f"--nodes={1 + spec.workers}", "--embed-certs",
            "--wait=apiserver,system_pods,node_ready", "--keep-context"]
    argv += [f"--ports=127.0.0.1:{spec.host_port(v)}:{spec.host_port(v)}" for v in ALL_VARIANTS]
    return argv


def parse_node_list(text: str) -> list[str]:
    """`minikube node list` prints "name<TAB>ip" per node."""
    return [line.split()[0] for line in text.splitlines() if line.strip()]


def worker_names(profile: str, names: list[str]) -> list[str]:
    """minikube names the first node after the profile and the others <profile>-m02, -m03, …"""
    return [n for n in names if n != profile]


class MinikubeProvider(Provider):
    name = "minikube"

    def __init__(self, runner=run, logged_runner=run_logged, kube_factory=None):
        self._run, self._run_logged, self._kube_factory = runner, logged_runner, kube_factory

    def _env(self, kubeconfig: Path) -> dict:
        return {**os.environ, "KUBECONFIG": str(kubeconfig), "MINIKUBE_IN_STYLE": "false"}

    def profiles(self) -> list[str]:
        done = self._run([minikube_binary(), "profile", "list", "-o", "json"], check=False)
        try:
            data = json.loads(done.stdout or "{}")
        except json.JSONDecodeError:
            return []
        return [p["Name"] for key in ("valid", "invalid") for p in data.get(key) or []]

    def exists(self, spec) -> bool:
        return spec.name in self.profiles()

    def status(self, spec) -> str:
        done = self._run([minikube_binary(), "status", "-p", spec.name, "-o", "json"], check=False)
        try:
            data = json.loads(done.stdout or "{}")
        except json.JSONDecodeError:
            return "Unknown"
        data = data[0] if isinstance(data, list) and data else data
        return data.get("Host", "Unknown") if isinstance(data, dict) else "Unknown"

    def ensure(self, spec, node_image, state) -> Cluster:
        state_dir = state.dir
        state_dir.mkdir(parents=True, exist_ok=True)
        kubeconfig = state_dir / "kubeconfig"
        created = not self.exists(spec)
        if created or self.status(spec) != "Running":
            # also after a stop: minikube start rewrites containerd's config; InstallShims re-applies it
            self._run_logged(start_argv(spec, minikube_binary()), label=f"minikube: starting profile {spec.name}",
                             log=state_dir / "minikube-start.log", env=self._env(kubeconfig))
        else:
            self._run([minikube_binary(), "update-context", "-p", spec.name], env=self._env(kubeconfig))
        names = parse_node_list(self._run([minikube_binary(), "node", "list", "-p", spec.name]).stdout)
        workers = worker_names(spec.name, names)
        if not workers:
            raise LabError(f"minikube profile {spec.name} has no worker node; delete it (invoke lab.down) and "
                           "run lab.up with workers >= 1")
        self._label_pool(kubeconfig, spec.name, workers)
        return Cluster(name=spec.name, kubeconfig=kubeconfig, context=spec.name, created_by_lab=created,
                       nodes=[SshNode(spec.name, n) for n in names],
                       wasm_nodes=[SshNode(spec.name, n) for n in workers])

    def _label_pool(self, kubeconfig: Path, context: str, workers: list[str]) -> None:
        if self._kube_factory is not None:
            kube = self._kube_factory(kubeconfig, context)
        else:
            from lab.kube import Kube

            kube = Kube(kubeconfig, context)
        for name in workers:
            node = kube.core.read_node(name)
            taints = [t.to_dict() if hasattr(t, "to_dict") else t for t in (node.spec.taints or [])]
            taints = [{k: v for k, v in t.items() if v is not None} for t in taints]
            body = {"metadata": {"labels": {POOL_LABEL: POOL_VALUE}}}
            if not any(t.get("key") == TAINT["key"] for t in taints):
                body["spec"] = {"taints": taints + [TAINT]}
            kube.core.patch_node(name, body)

    def load_images(self, cluster, refs):
        for ref in refs:
            self._run_logged([minikube_binary(), "-p", cluster.name, "image", "load", ref],
                             label=f"minikube: loading {ref}", log=cluster.kubeconfig.parent / "minikube-load.log")
        return list(refs)

    def delete(self, spec, state) -> list[str]:
        state_dir = state.dir
        if not self.exists(spec):
            return []
        self._run_logged([minikube_binary(), "delete", "-p", spec.name], label=f"minikube: deleting {spec.name}",
                         log=state_dir / "minikube-delete.log", env=self._env(state_dir / "kubeconfig"))
        return [f"minikube profile {spec.name}"]
