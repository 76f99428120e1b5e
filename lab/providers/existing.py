"""The existing-cluster provider: a cluster you already have, named by a kubeconfig context.

The lab never creates, stops or deletes such a cluster. It picks the wasm nodes (the `selector`
setting; by default the nodes labelled wasm-lab.dev/pool=wasm, else every worker), reaches each
through an installer pod (lab/providers/installer_pod.py) to install and verify the runtimes exactly as on kind,
and labels the nodes. Images reach the nodes through the registry you name (`registry:
host:port`, pushed with your Docker engine), or, without one, are imported straight into each
wasm node's containerd (`ctr -n k8s.io images import`, the way `kind load` does it). lab.down
undoes what the lab did and nothing else: each action takes back what it recorded (containerd
config restored byte for byte, shim files, labels, RuntimeClasses, the namespace, imported images),
and `release` the pool labels and installer pods.

Refused, with the reason: nodes whose runtime is not containerd, and k3s/rke2 nodes (their
containerd config is regenerated from config.toml.tmpl under /var/lib/rancher/<k3s|rke2>/agent/etc/
containerd on every start, so an edit of config.toml would not last)."""
from __future__ import annotations

import atexit
import base64
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from lab.errors import InputError, LabError
from lab.nodes import Node
from lab.proc import console
from lab.providers import installer_pod
from lab.providers.base import Cluster, Provider, not_up
from lab.registry import push_image
from lab.state import State, private_folder, write_private

if TYPE_CHECKING:
    from lab.spec import LabSpec

POOL_LABEL, POOL_VALUE = "wasm-lab.dev/pool", "wasm"
DEFAULT_SELECTOR = f"{POOL_LABEL}={POOL_VALUE}"
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
RANCHER_DIRS = {"k3s": "/var/lib/rancher/k3s/agent/etc/containerd",
                "rke2": "/var/lib/rancher/rke2/agent/etc/containerd"}
IMPORT_DIR = "/var/lib/wasm-lab/images"
STATE_FILE = "existing.json"
FILE_KEYS = {"certificate-authority": "certificate-authority-data", "client-certificate": "client-certificate-data",
             "client-key": "client-key-data"}


def kubeconfig_files() -> list[Path]:
    value = os.environ.get("KUBECONFIG")
    if value:
        return [Path(p).expanduser() for p in value.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def _load(files: list[Path]) -> list[tuple[Path, dict]]:
    docs = []
    for path in files:
        if path.exists():
            docs.append((path, yaml.safe_load(path.read_text()) or {}))
    return docs


def _named(docs, section: str, name: str):
    for path, doc in docs:
        for item in doc.get(section) or []:
            if item.get("name") == name:
                return path, item
    return None, None


def contexts(files: list[Path] | None = None) -> list[str]:
    return [c.get("name") for _, doc in _load(files or kubeconfig_files()) for c in doc.get("contexts") or []]


def own_kubeconfig(state_dir: Path, context: str) -> Path:
    """The lab's copy of `context` (0600, in its state folder), written again from the user's
    kubeconfig each time the lab reaches the cluster: a cluster recreated under the same context
    (a new API port, new credentials) is reached, not the copy's dead address."""
    kubeconfig = state_dir / "kubeconfig"
    write_private(kubeconfig, yaml.safe_dump(minified_kubeconfig(context), sort_keys=False))
    return kubeconfig


def minified_kubeconfig(context: str, files: list[Path] | None = None) -> dict:
    """One context with its cluster and user, file references inlined (like `kubectl config view
    --minify --flatten`), so the lab keeps its own copy and never touches yours."""
    files = files or kubeconfig_files()
    docs = _load(files)
    _, ctx = _named(docs, "contexts", context)
    if ctx is None:
        known = ", ".join(contexts(files)) or "none"
        raise InputError(f"context: {context!r} is not in {os.pathsep.join(map(str, files))} (contexts: {known})")
    cluster_path, cluster = _named(docs, "clusters", ctx["context"]["cluster"])
    user_path, user = _named(docs, "users", ctx["context"].get("user", ""))
    if cluster is None:
        raise LabError(f"context {context!r} names cluster {ctx['context']['cluster']!r}, which no kubeconfig defines")
    for item, path in ((cluster.get("cluster", {}), cluster_path), ((user or {}).get("user", {}), user_path)):
        for key, inline in FILE_KEYS.items():
            if key in item:
                referenced = Path(item.pop(key)).expanduser()
                if not referenced.is_absolute():
                    referenced = path.parent / referenced
                item[inline] = base64.b64encode(referenced.read_bytes()).decode()
    return {"apiVersion": "v1", "kind": "Config", "current-context": context, "preferences": {},
            "contexts": [ctx], "clusters": [cluster], "users": [user] if user else []}


def parse_selector(selector: str) -> dict[str, str | None]:
    """`a=b,c` → {"a": "b", "c": None} (None: the label only has to exist)."""
    wanted = {}
    for part in filter(None, (p.strip() for p in selector.split(","))):
        key, _, value = part.partition("=")
        wanted[key] = value if "=" in part else None
    return wanted


def _matches(labels: dict, wanted: dict) -> bool:
    return all(k in labels and (v is None or labels[k] == v) for k, v in wanted.items())


def select_nodes(nodes, selector: str):
    """The wasm nodes, and how they were chosen (pure: unit-tested)."""
    if selector:
        chosen = [n for n in nodes if _matches(n.metadata.labels or {}, parse_selector(selector))]
        if not chosen:
            raise LabError(f"selector: no node matches {selector!r}")
        return chosen, f"selector {selector}"
    pool = [n for n in nodes if _matches(n.metadata.labels or {}, parse_selector(DEFAULT_SELECTOR))]
    if pool:
        return pool, f"label {DEFAULT_SELECTOR}"
    workers = [n for n in nodes if not any(k in (n.metadata.labels or {}) for k in CONTROL_PLANE_LABELS)]
    if not workers:
        raise LabError("the cluster has no worker node: label the node(s) for wasm with "
                       f"`kubectl label node NAME {DEFAULT_SELECTOR}` or set selector")
    return workers, "all workers"


def refuse_unsupported(node) -> None:
    """Nodes the lab cannot edit safely, judged from what the node reports (no pod needed)."""
    info = node.status.node_info if node.status else None
    runtime = (info.container_runtime_version if info else "") or ""
    kubelet = (info.kubelet_version if info else "") or ""
    name = node.metadata.name
    for distribution, folder in RANCHER_DIRS.items():
        if f"+{distribution}" in kubelet or f"-{distribution}" in runtime:
            raise LabError(_rancher_message(name, distribution, folder))
    if runtime and not runtime.startswith("containerd://"):
        raise LabError(f"node {name} runs {runtime}; wasm-lab installs wasm runtimes into containerd only")


def refuse_foreign_bundles(node, runtimes) -> None:
    """Runtimes with a bundle dpkg-install Debian trixie packages on the node: only on trixie nodes."""
    from lab import artifacts

    bundled = [r for r in runtimes if artifacts.may_need_bundles(r)]
    info = node.status.node_info if node.status else None
    os_image = (getattr(info, "os_image", "") or "") if info else ""
    if bundled and "trixie" not in os_image.lower():
        raise LabError(f"node {node.metadata.name} runs {os_image or 'an unknown OS'}; runtime(s) {', '.join(bundled)} "
                       "install Debian trixie packages on the node (dpkg -i, see docs/runtimes.md), which only fits "
                       "trixie nodes; choose runtime wasmtime, or nodes running Debian trixie")


def _rancher_message(name: str, distribution: str, folder: str) -> str:
    return (f"node {name} runs {distribution}: its containerd config is generated from {folder}/config.toml.tmpl "
            f"on every {distribution} start, so wasm-lab's edit of config.toml would not last; not supported "
            f"(put the shims on the node and add the runtimes to that template yourself)")


def registry_ref(registry: str, ref: str) -> str:
    """Where a local image goes in the registry: wasm-lab/httpbin:tag → registry/wasm-lab/httpbin:tag."""
    name = ref.split("/", 1)[1] if "/" in ref and ("." in ref.split("/")[0] or ":" in ref.split("/")[0]) else ref
    return f"{registry.rstrip('/')}/{name}"


class ExistingProvider(Provider):
    name = "existing"
    creates_clusters = False

    def __init__(self, kube_factory=None, docker_client=None):
        self._kube_factory = kube_factory
        self._docker = docker_client
        self._pods: list[installer_pod.InstallerPodNode] = []
        self.spec = None

    # ---------------------------------------------------------------- helpers
    def kube(self, kubeconfig: Path, context: str):
        if self._kube_factory is not None:
            return self._kube_factory(kubeconfig, context)
        from lab.kube import Kube

        return Kube(kubeconfig, context)

    def docker(self):
        if self._docker is None:
            from lab.docker_api import docker_client

            self._docker = docker_client()
        return self._docker

    @staticmethod
    def _record(state_dir: Path) -> dict:
        path = state_dir / STATE_FILE
        return json.loads(path.read_text()) if path.exists() else {}

    @staticmethod
    def _save(state_dir: Path, record: dict) -> None:
        private_folder(state_dir)
        (state_dir / STATE_FILE).write_text(json.dumps(record, indent=2, sort_keys=True))

    # ---------------------------------------------------------------- Provider
    def exists(self, spec: LabSpec) -> bool:
        return spec.context in contexts()

    def preflight(self, spec: LabSpec) -> None:
        """Fail before anything is built when the context is unknown or its API server does not answer."""
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            kubeconfig = Path(folder) / "kubeconfig"
            kubeconfig.write_text(yaml.safe_dump(minified_kubeconfig(spec.context)))
            try:
                kube = self.kube(kubeconfig, spec.context)
            except Exception as error:
                raise InputError(f"context: {spec.context!r} cannot be used ({error.__class__.__name__})")
            try:
                kube.core.list_node(limit=1, _request_timeout=15)
            except Exception as error:
                raise LabError(f"context {spec.context}: the cluster's API server does not answer "
                               f"({error.__class__.__name__}: {str(error).splitlines()[0][:160]})")

    def ensure(self, spec: LabSpec, node_image: str | None, state: State) -> Cluster:
        self.spec = spec
        state_dir = state.dir
        kubeconfig = own_kubeconfig(state_dir, spec.context)
        kube = self.kube(kubeconfig, spec.context)
        nodes = kube.core.list_node().items
        chosen, how = select_nodes(nodes, spec.selector)
        for node in chosen:
            refuse_unsupported(node)
            refuse_foreign_bundles(node, spec.runtimes)
        record = self._record(state_dir)
        labelled = set(record.get("pool_labelled", []))
        for node in chosen:
            if (node.metadata.labels or {}).get(POOL_LABEL) != POOL_VALUE:
                # the variants' Deployments select the pool label: the lab adds it and takes it away again
                kube.core.patch_node(node.metadata.name, {"metadata": {"labels": {POOL_LABEL: POOL_VALUE}}})
                labelled.add(node.metadata.name)
        record.update({"context": spec.context, "nodes": sorted(n.metadata.name for n in chosen), "chosen_by": how,
                       "pool_labelled": sorted(labelled)})
        self._save(state_dir, record)
        wasm_nodes: list[Node] = [self._installer_node(kube, n.metadata.name, spec) for n in chosen]
        for node in wasm_nodes:
            self._refuse_rancher_files(node)
        return Cluster(name=spec.context, kubeconfig=kubeconfig, context=spec.context, created_by_lab=False,
                               nodes=wasm_nodes, wasm_nodes=wasm_nodes, check_host=_internal_ip(chosen[0]))

    def attach(self, spec: LabSpec, state: State) -> Cluster:
        self.spec = spec
        kubeconfig = state.dir / "kubeconfig"
        names = self._record(state.dir).get("nodes") or []
        if not self.exists(spec) or not kubeconfig.exists() or not names:
            raise not_up(spec)
        kube = self.kube(own_kubeconfig(state.dir, spec.context), spec.context)
        chosen = [n for n in kube.core.list_node().items if n.metadata.name in names]
        if not chosen:
            raise LabError(f"context {spec.context}: none of the lab's nodes ({', '.join(names)}) is in the cluster any more")
        wasm_nodes: list[Node] = [self._installer_node(kube, n.metadata.name, spec) for n in chosen]
        return Cluster(name=spec.context, kubeconfig=kubeconfig, context=spec.context, created_by_lab=False,
                       nodes=wasm_nodes, wasm_nodes=wasm_nodes, check_host=_internal_ip(chosen[0]))

    def _installer_node(self, kube, name: str, spec: LabSpec) -> installer_pod.InstallerPodNode:
        node = installer_pod.InstallerPodNode(kube.core, spec.name, name, image=spec.installer_image or None)
        if not self._pods:
            atexit.register(self.remove_installer_pods)
        self._pods.append(node)
        return node

    def _refuse_rancher_files(self, node) -> None:
        for distribution, folder in RANCHER_DIRS.items():
            if node.run(["test", "-d", folder], check=False).returncode == 0:
                raise LabError(_rancher_message(node.name, distribution, folder))

    def remove_installer_pods(self) -> None:
        """At exit, after an interruption: the pods an action was still using."""
        for node in self._pods:
            try:
                node.close()
            except Exception:  # the cluster may be gone; a leftover pod ends itself (installer_pod.POD_DEADLINE)
                pass
        self._pods = []

    def load_images(self, cluster: Cluster, refs: list[str]) -> list[str]:
        if not refs:
            return []
        registry = self.spec.registry if self.spec else ""
        if registry:
            return self._push(registry, refs)
        console.print("  no registry set: importing the images into each wasm node's containerd through its "
                      "installer pod (ctr images import, as kind load does); set registry: host:port to pull instead")
        client = self.docker()
        for ref in refs:
            archive = b"".join(client.api.get_image(ref))
            target = f"{IMPORT_DIR}/{ref.replace('/', '_').replace(':', '_')}.tar"
            for node in cluster.wasm_nodes:
                node.put_file(target, archive, 0o600)
                node.run(["ctr", "-n", "k8s.io", "images", "import", "--all-platforms", target])
                node.run(["rm", "-f", target])
        return refs

    def _push(self, registry: str, refs: list[str]) -> list[str]:
        """Tagged for your registry and pushed; the tags stay until release() takes them back."""
        pushed = [registry_ref(registry, ref) for ref in refs]
        for ref, remote in zip(refs, pushed):
            push_image(self.docker(), ref, remote)
        return pushed

    def _untag(self, refs: list[str]) -> list[str]:
        import docker

        removed = []
        for ref in refs:
            try:
                self.docker().images.remove(ref)
                removed.append(f"image tag {ref}")
            except docker.errors.ImageNotFound:
                pass
        return removed

    def delete(self, spec: LabSpec, state: State) -> list[str]:
        return []  # never deletes a cluster it did not create; see release

    def pulled_names(self, spec: LabSpec, refs: list[str]) -> list[str]:
        return [registry_ref(spec.registry, ref) for ref in refs] if spec.registry else []

    def forget_pushed(self, spec: LabSpec, refs: list[str]) -> list[str]:
        return self._untag(self.pulled_names(spec, refs))

    def release(self, spec: LabSpec, state: State) -> list[str]:
        """What ensure() and load_images() added around the lab: pool labels it put on nodes, the
        installer pods and their namespace, the local tags made for pushing. (The lab's objects,
        runtimes and images inside the cluster are undone by the actions that made them.)"""
        state_dir = state.dir
        if not (state_dir / "kubeconfig").exists() or not self.exists(spec):
            return []
        kube = self.kube(own_kubeconfig(state_dir, spec.context), spec.context)
        record = self._record(state_dir)
        removed = []
        for name in record.get("pool_labelled", []):
            kube.core.patch_node(name, {"metadata": {"labels": {POOL_LABEL: None}}})
            removed.append(f"label {POOL_LABEL} from {name}")
        for node in self._pods:
            node.run(["rmdir", IMPORT_DIR, os.path.dirname(IMPORT_DIR)], check=False)
        self.remove_installer_pods()
        removed += self.forget_pushed(spec, state.get("images_used", []))  # the registry keeps its copies
        namespace = installer_pod.namespace_name(spec.name)
        if kube.delete_owned("v1", "Namespace", namespace, spec.name):
            kube.wait_gone("v1", "Namespace", namespace, every=0.5)
            removed.append(f"namespace {namespace}")
        return removed


def _internal_ip(node) -> str:
    for address in (node.status.addresses or []) if node.status else []:
        if address.type == "InternalIP":
            return address.address
    return "127.0.0.1"
