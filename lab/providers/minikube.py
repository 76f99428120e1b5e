"""The minikube provider: one minikube profile per lab (docker driver, containerd runtime).

`minikube start -p <name> --driver=docker --container-runtime=containerd --nodes=1+workers`
creates it, with its kubeconfig written to the lab's state folder (KUBECONFIG points there while
minikube runs, so ~/.kube/config is never touched). The checks reach the NodePorts at the first
node's address on minikube's Docker network: `--ports` cannot be used, since minikube publishes
them on every node and the second node's container then fails ("port is already allocated").
The workers (<name>-m02, …) become the wasm pool: labelled and tainted
like kind's. Nodes are reached over `minikube ssh`/`minikube cp` (lab.nodes.SshNode), images with
`minikube image load`.

minikube edits containerd's config on every `minikube start` (sandbox image, cgroup driver, …)
and restarts it, so `lab.up` always runs the shim installer after the cluster step: it re-checks
its block, re-adds what is missing and verifies `containerd config dump`. After a `minikube
start` of your own, run `invoke lab.up` again.

Offline, the kit supplies minikube itself (built from its Go module) and a base image made from
the kit node (`--base-image`), and minikube is told to fetch nothing: no preload, no image cache,
no addons, and the kit's pod network (podnet) as a custom CNI manifest instead of kindnet."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import LabError
from lab.nodes import SshNode
from lab.proc import run, run_logged
from lab.providers.base import Cluster, HostCheck, Provider, not_up
from lab.state import State, private_folder

if TYPE_CHECKING:
    from lab.spec import LabSpec

POOL_LABEL, POOL_VALUE = "wasm-lab.dev/pool", "wasm"
TAINT = {"key": "wasm-lab.dev/wasm", "value": "true", "effect": "NoSchedule"}


# Where the kit's minikube-node image keeps its pod network manifest (see its Dockerfile).
KIT_CNI_MANIFEST = "/etc/wasm-lab/minikube-cni.yaml"


def minikube_binary() -> str:
    """minikube from PATH, else the one the kit built (invoke kit.build --only minikube)."""
    path = shutil.which("minikube")
    if path is not None:
        return path
    try:
        from lab import kit

        entry = kit.artifact("minikube")
        built = Path(entry["path"]) / "bin" / "minikube"
        if built.is_file():
            return str(built)
    except (KeyError, OSError, RuntimeError, ValueError):
        pass
    raise LabError("minikube is not installed (Debian has no package; see https://minikube.sigs.k8s.io); "
                   "build it with `invoke kit.build --only minikube`, or use provider kind")


def start_argv(spec: LabSpec, binary: str = "minikube", base_image: str | None = None, cni_manifest: Path | None = None,
               as_root: bool = False) -> list[str]:
    """The `minikube start` command for a spec (pure: unit-tested)."""
    argv = [binary, "start", "-p", spec.name, "--driver=docker", "--container-runtime=containerd",
            f"--kubernetes-version={spec.kubernetes}", f"--nodes={1 + spec.workers}", "--embed-certs",
            "--wait=apiserver,system_pods,node_ready", "--keep-context", "--interactive=false"]
    if base_image:
        # The kit's base image: everything is inside it. --cache-images=false matters: minikube
        # would otherwise remove preloaded images it cannot find in its (empty) cache.
        argv += [f"--base-image={base_image}", "--preload=false", "--cache-images=false",
                 "--install-addons=false"]
        if cni_manifest:
            argv.append(f"--cni={cni_manifest}")
    if base_image or as_root:
        # minikube refuses root with the docker driver, and a Kubernetes newer than it knows
        # (the kit's) after asking GitHub for the list of releases; --force lets it go on.
        argv.append("--force")
    return argv


def parse_node_list(text: str) -> dict[str, str]:
    """`minikube node list` prints "name<TAB>ip" per node, the first node first."""
    return dict(line.split()[:2] for line in text.splitlines() if len(line.split()) >= 2)


def worker_names(profile: str, names: list[str]) -> list[str]:
    """minikube names the first node after the profile and the others <profile>-m02, -m03, …"""
    return [n for n in names if n != profile]


class MinikubeProvider(Provider):
    name = "minikube"

    def __init__(self, runner=run, logged_runner=run_logged, kube_factory=None, file_from_image=None,
                 docker_client=None):
        self._run, self._run_logged, self._kube_factory = runner, logged_runner, kube_factory
        self._docker_client = docker_client
        self._binary = None
        if file_from_image is None:
            from lab.images import file_from_image
        self._file_from_image = file_from_image

    @property
    def binary(self) -> str:
        # resolved once: the kit's copy is checksummed on every lookup
        if self._binary is None:
            self._binary = minikube_binary()
        return self._binary

    def _docker(self):
        if self._docker_client is None:
            from lab.docker_api import docker_client

            self._docker_client = docker_client()
        return self._docker_client

    def _env(self, kubeconfig: Path) -> dict:
        return {**os.environ, "KUBECONFIG": str(kubeconfig), "MINIKUBE_IN_STYLE": "false",
                "MINIKUBE_WANTUPDATENOTIFICATION": "false"}

    def profiles(self) -> list[str]:
        done = self._run([self.binary, "profile", "list", "-o", "json"], check=False)
        try:
            data = json.loads(done.stdout or "{}")
        except json.JSONDecodeError:
            return []
        return [p["Name"] for key in ("valid", "invalid") for p in data.get(key) or []]

    def preflight(self, spec: LabSpec) -> None:
        self._docker()  # the docker driver: no engine answering is said before anything is made

    def exists(self, spec: LabSpec) -> bool:
        return spec.name in self.profiles()

    def status(self, spec: LabSpec) -> str:
        done = self._run([self.binary, "status", "-p", spec.name, "-o", "json"], check=False)
        try:
            data = json.loads(done.stdout or "{}")
        except json.JSONDecodeError:
            return "Unknown"
        data = data[0] if isinstance(data, list) and data else data
        return data.get("Host", "Unknown") if isinstance(data, dict) else "Unknown"

    def ensure(self, spec: LabSpec, node_image: str | None, state: State) -> Cluster:
        state_dir = state.dir
        private_folder(state_dir)
        kubeconfig = state_dir / "kubeconfig"
        created = not self.exists(spec)
        binary = self.binary
        if created or self.status(spec) != "Running":
            # also after a stop: minikube start edits containerd's config; InstallRuntimes re-checks it
            cni = None
            if node_image:
                cni = state_dir / "minikube-cni.yaml"
                cni.write_bytes(self._file_from_image(node_image, KIT_CNI_MANIFEST))
            argv = start_argv(spec, binary, node_image, cni, as_root=os.geteuid() == 0)
            if created:
                state.set("cluster_creating", True)  # lab.down deletes a profile whose start failed
            self._run_logged(argv, label=f"minikube: starting profile {spec.name}",
                             log=state_dir / "minikube-start.log", env=self._env(kubeconfig))
            if created:
                state.set("cluster_creating", False)
                state.set("cluster_created", True)
        else:
            self._run([binary, "update-context", "-p", spec.name], env=self._env(kubeconfig))
        if kubeconfig.exists():
            kubeconfig.chmod(0o600)  # the cluster's admin credentials
        cluster = self._cluster(spec, kubeconfig, created)
        if not cluster.wasm_nodes:
            raise LabError(f"minikube profile {spec.name} has no worker node; delete it (invoke lab.down) and "
                           "run lab.up with workers >= 1")
        self._label_pool(kubeconfig, spec.name, [n.name for n in cluster.wasm_nodes])
        return cluster

    def _cluster(self, spec: LabSpec, kubeconfig: Path, created: bool = False) -> Cluster:
        addresses = parse_node_list(self._run([self.binary, "node", "list", "-p", spec.name]).stdout)
        names = list(addresses)
        return Cluster(name=spec.name, kubeconfig=kubeconfig, context=spec.name, created_by_lab=created,
                       nodes=[SshNode(spec.name, n, self.binary) for n in names],
                       wasm_nodes=[SshNode(spec.name, n, self.binary) for n in worker_names(spec.name, names)],
                       check_host=addresses.get(spec.name, "127.0.0.1"))

    def attach(self, spec: LabSpec, state: State) -> Cluster:
        kubeconfig = state.dir / "kubeconfig"
        if not self.exists(spec) or not kubeconfig.exists():
            raise not_up(spec)
        return self._cluster(spec, kubeconfig)

    def collect_logs(self, spec: LabSpec, folder: Path) -> list[str]:
        done = self._run([self.binary, "logs", "-p", spec.name, "--file", str(folder / "minikube.log")], check=False)
        return ["minikube.log"] if done.returncode == 0 else []

    def host_checks(self) -> dict[str, HostCheck]:
        return {"minikube": lambda: (True, self._run([self.binary, "version", "--short"]).stdout.strip())}

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
            body: dict = {"metadata": {"labels": {POOL_LABEL: POOL_VALUE}}}
            if not any(t.get("key") == TAINT["key"] for t in taints):
                body["spec"] = {"taints": taints + [TAINT]}
            kube.core.patch_node(name, body)

    def identity(self, spec: LabSpec) -> str | None:
        import docker

        try:
            return self._docker().containers.get(spec.name).id  # the profile's first node
        except docker.errors.NotFound:
            return None

    def load_images(self, cluster: Cluster, refs: list[str]) -> list[str]:
        for ref in refs:
            self._run_logged([self.binary, "-p", cluster.name, "image", "load", ref],
                             label=f"minikube: loading {ref}", log=cluster.kubeconfig.parent / "minikube-load.log")
        return list(refs)

    def delete(self, spec: LabSpec, state: State) -> list[str]:
        state_dir = state.dir
        if not self.exists(spec):
            return []
        self._run_logged([self.binary, "delete", "-p", spec.name], label=f"minikube: deleting {spec.name}",
                         log=state_dir / "minikube-delete.log", env=self._env(state_dir / "kubeconfig"))
        return [f"minikube profile {spec.name}"] + self._remove_network(spec.name)

    def _remove_network(self, profile: str) -> list[str]:
        """The profile's Docker network, when `minikube delete` left it (it does with Debian's
        docker.io: its `network inspect` template fails there, so it believes the network gone)."""
        client = self._docker()
        label = f"name.minikube.sigs.k8s.io={profile}"
        removed = []
        for network in client.networks.list(filters={"label": label}):
            if network.name == profile and not network.attrs.get("Containers"):
                network.remove()
                removed.append(f"Docker network {profile}")
        return removed
