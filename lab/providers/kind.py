"""The kind provider: the kind CLI creates the cluster from clusters/kind.yaml; nodes are containers."""
from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import yaml

from lab import REPO_ROOT, catalog, published_ports
from lab.docker_api import docker_client
from lab.errors import LabError
from lab.nodes import DockerNode
from lab.proc import run, run_logged
from lab.providers.base import Cluster, HostCheck, Provider, not_up
from lab.state import State, private_folder

if TYPE_CHECKING:
    from lab.spec import LabSpec

CLUSTER_TEMPLATE = REPO_ROOT / "clusters" / "kind.yaml"
ROLE_LABEL = "io.x-k8s.kind.role"
KIND_NETWORK = "kind"  # kind puts every cluster on this Docker network and creates it when missing


def kind_binary() -> str:
    path = shutil.which("kind")
    if path is None:
        raise LabError("kind is not installed: apt-get install kind (Debian sid), or see https://kind.sigs.k8s.io")
    return path


def minor(kubernetes: str) -> int:
    return int(kubernetes.lstrip("v").split(".")[1])


def cluster_config(spec: LabSpec, host_cgroup_v1: bool = False) -> dict:
    """The kind Cluster document for a spec on a host with the given cgroup version (pure)."""
    template = yaml.safe_load(CLUSTER_TEMPLATE.read_text())
    worker = template.pop("wasmWorker")
    cgroup_patch = template.pop("cgroupV1Patch")
    cgroupfs = template.pop("cgroupfsOnV1")
    config = copy.deepcopy(template)
    config["name"] = spec.name
    control_plane = config["nodes"][0]
    control_plane["extraPortMappings"] = [
        {"containerPort": spec.host_port(v), "hostPort": spec.host_port(v), "listenAddress": "127.0.0.1",
         "protocol": "TCP"}
        for v in catalog.load().variants
    ]
    config["nodes"] += [copy.deepcopy(worker) for _ in range(spec.workers)]
    if minor(spec.kubernetes) >= 35:
        config.setdefault("kubeadmConfigPatches", []).append(cgroup_patch)
    if host_cgroup_v1:
        config.setdefault("kubeadmConfigPatches", []).append(cgroupfs["kubeadmConfigPatch"])
        config.setdefault("containerdConfigPatches", []).extend(cgroupfs["containerdConfigPatches"])
    return config


def unmapped_variants(spec: LabSpec, port_bindings: dict) -> list[str]:
    """The variants of a spec whose host port the control-plane container does not publish, from
    Docker's HostConfig.PortBindings ({"30080/tcp": [{"HostIp": ..., "HostPort": "30080"}]})."""
    def published(port: int) -> bool:
        return any(b.get("HostPort") == str(port) for b in port_bindings.get(f"{port}/tcp") or [])
    return [v for v in spec.variants if not published(spec.host_port(v))]


def host_cgroup_v1() -> bool:
    """Whether Docker's host uses cgroup v1 (kind nodes then get the cgroupfs driver)."""
    return str(docker_client().info().get("CgroupVersion", "2")) == "1"


class KindProvider(Provider):
    name = "kind"
    registry_network = KIND_NETWORK

    def preflight(self, spec: LabSpec) -> None:
        docker_client()  # kind's nodes are containers: no engine answering is said before anything is made

    def exists(self, spec: LabSpec) -> bool:
        clusters = run([kind_binary(), "get", "clusters"]).stdout.split()
        return spec.name in clusters

    def ensure(self, spec: LabSpec, node_image: str | None, state: State) -> Cluster:
        kubeconfig = state.dir / "kubeconfig"
        if state.get("cluster_creating") and self.exists(spec):
            # A create that was interrupted leaves half-made nodes: start again from nothing.
            self._delete(spec, kubeconfig, state.dir)
        created = False
        if not self.exists(spec):
            private_folder(state.dir)
            config_path = state.dir / "kind-config.yaml"
            config_path.write_text(yaml.safe_dump(cluster_config(spec, host_cgroup_v1()), sort_keys=False))
            argv = [kind_binary(), "create", "cluster", "--name", spec.name, "--config", config_path,
                    "--kubeconfig", kubeconfig]
            if node_image:
                argv += ["--image", node_image]
            if not state.get("kind_network_created"):
                state.set("kind_network_created", not _kind_network_exists())
            state.set("cluster_creating", True)
            run_logged(argv, label=f"kind: creating cluster {spec.name}", log=state.dir / "kind-create.log")
            state.set("cluster_creating", False)
            state.set("cluster_created", True)
            created = True
        else:
            if not self._start_stopped_nodes(spec):
                self._refuse_dead_api_server_port(spec)
            self._refuse_unmapped_ports(spec)
            self._write_kubeconfig(spec, kubeconfig)
        kubeconfig.chmod(0o600)  # the cluster's admin credentials
        return self._cluster(spec, kubeconfig, created)

    def _refuse_dead_api_server_port(self, spec: LabSpec) -> None:
        """Nodes that were Up already, whose API server port refuses, never become Ready: said in a
        second rather than after the wait for Ready nodes. (Nodes just started get their ports anew.)"""
        refused = published_ports.refusing(self.published_ports(spec))
        if published_ports.api_server_refuses(refused):
            raise LabError(published_ports.dead_ports_error(f"kind cluster {spec.name}", refused))

    def published_ports(self, spec: LabSpec) -> list[published_ports.Published]:
        running = docker_client().containers.list(filters={"label": f"io.x-k8s.kind.cluster={spec.name}"})
        return [p for c in sorted(running, key=lambda c: c.name or "")
                for p in published_ports.of_container(c.name or c.id or "", c.attrs)]

    @staticmethod
    def _refuse_unmapped_ports(spec: LabSpec) -> None:
        """kind maps host ports only when it creates a cluster: a variant added to the catalog later
        (or another host_port_base) has no port on a cluster made before, and would never answer."""
        bindings = docker_client().containers.get(f"{spec.name}-control-plane").attrs["HostConfig"]["PortBindings"]
        missing = unmapped_variants(spec, bindings or {})
        if missing:
            raise LabError(f"kind cluster {spec.name} maps no host port for "
                           + ", ".join(f"{v} ({spec.host_port(v)})" for v in missing)
                           + ": it was created before these variants existed or with another host_port_base;"
                           " `invoke lab.down` then `invoke lab.up` makes it again with every port")

    @staticmethod
    def _write_kubeconfig(spec: LabSpec, kubeconfig: Path) -> None:
        kubeconfig.write_text(run([kind_binary(), "get", "kubeconfig", "--name", spec.name]).stdout)
        kubeconfig.chmod(0o600)

    def _cluster(self, spec: LabSpec, kubeconfig: Path, created: bool = False) -> Cluster:
        nodes = self.nodes(spec)
        return Cluster(name=spec.name, kubeconfig=kubeconfig, context=f"kind-{spec.name}", created_by_lab=created,
                       nodes=[n for n, _ in nodes], wasm_nodes=[n for n, role in nodes if role == "worker"])

    def attach(self, spec: LabSpec, state: State) -> Cluster:
        if not self.exists(spec):
            raise not_up(spec)
        kubeconfig = state.dir / "kubeconfig"
        if not kubeconfig.exists():  # a cluster of the lab's name whose state folder is gone
            private_folder(state.dir)
            self._write_kubeconfig(spec, kubeconfig)
        return self._cluster(spec, kubeconfig)

    def collect_logs(self, spec: LabSpec, folder: Path) -> list[str]:
        run([kind_binary(), "export", "logs", folder / "kind-logs", "--name", spec.name], check=False)
        return ["kind-logs"]

    def host_checks(self) -> dict[str, HostCheck]:
        return {"kind": lambda: (True, run([kind_binary(), "version"]).stdout.strip())}

    def identity(self, spec: LabSpec) -> str | None:
        try:
            return docker_client().containers.get(f"{spec.name}-control-plane").id
        except docker.errors.NotFound:
            return None

    def nodes(self, spec: LabSpec) -> list[tuple[DockerNode, str]]:
        names = run([kind_binary(), "get", "nodes", "--name", spec.name]).stdout.split()
        found = []
        for name in sorted(names):
            node = DockerNode(name)
            found.append((node, node.container.labels.get(ROLE_LABEL, "")))
        return found

    def _start_stopped_nodes(self, spec: LabSpec) -> list[str]:
        started = []
        for node, _ in self.nodes(spec):
            if node.container.status != "running":
                node.container.start()
                started.append(node.name)
        return started

    def load_images(self, cluster: Cluster, refs: list[str]) -> list[str]:
        if not refs:
            return []
        workers = ",".join(n.name for n in cluster.wasm_nodes)
        run_logged([kind_binary(), "load", "docker-image", "--name", cluster.name, "--nodes", workers, *refs],
                   label=f"kind: loading {len(refs)} image(s) into {workers}",
                   log=cluster.kubeconfig.parent / "kind-load.log")
        return refs

    def delete(self, spec: LabSpec, state: State) -> list[str]:
        removed = []
        if self.exists(spec):
            self._delete(spec, state.dir / "kubeconfig", state.dir)
            removed.append(f"kind cluster {spec.name}")
        if state.get("kind_network_created") and _kind_network_exists() and not run([kind_binary(), "get", "clusters"]).stdout.split():
            docker_client().networks.get(KIND_NETWORK).remove()
            removed.append(f"docker network {KIND_NETWORK}")
        return removed

    def _delete(self, spec: LabSpec, kubeconfig: Path, log_dir: Path) -> None:
        run_logged([kind_binary(), "delete", "cluster", "--name", spec.name, "--kubeconfig", kubeconfig],
                   label=f"kind: deleting cluster {spec.name}", log=log_dir / "kind-delete.log")


def _kind_network_exists() -> bool:
    return bool(docker_client().networks.list(names=[KIND_NETWORK]))
