"""The registry the nodes pull Wasm OCI artifacts from, and pushing them there.

On a kind cluster the lab makes, the registry is the lab's own: a container of the kit's registry
image (Debian's docker-registry, the CNCF distribution registry) on the cluster's Docker network,
reached by the nodes under its container name (a hosts.toml in containerd's `config_path` says
plain HTTP, as kind documents for local registries) and by the host through a port Docker
publishes on 127.0.0.1. On an existing cluster it is the registry `registry:` names, which its
nodes already pull from.

What is pushed to the lab's own registry lives in a volume of the lab's that outlives the
container (as kind's local registry outlives clusters): the next lab.up's `docker push` finds
each layer there and uploads nothing, where compressing the 173 MB embed-wasmedge layer again
took 6-7 s. Nodes verify every blob's digest as they pull it, and every push writes its manifest
anew, so what the volume holds is never trusted for more than a cache. lab.down keeps it and says
so; `lab.down --purge` removes it.

An artifact is the CNCF Wasm OCI artifact layout runwasi's shims run: a plain image manifest
(no index) whose config (`application/vnd.wasm.config.v0+json`) says architecture "wasm" and
whose one layer is the module or component (`application/wasm`). It is pushed with the
distribution API's monolithic upload (two calls per blob, one for the manifest): pushing needs no
more, and no Docker engine can push a manifest that is not an image.
"""
from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import docker
import requests

from lab.docker_api import docker_client
from lab.errors import LabError
from lab.kube import OWNER
from lab.waits import wait_until

CONTAINER_PORT = 5000
STORAGE_PATH = "/var/lib/registry"   # the rootdirectory of images/kit/registry/config.yml
STORAGE_FOR = "wasm-lab.dev/registry-storage-for"  # volume label: the base images its layers are of
CONFIG_MEDIA_TYPE = "application/vnd.wasm.config.v0+json"
LAYER_MEDIA_TYPE = "application/wasm"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
PUSHES_AT_ONCE = 4


@dataclass(frozen=True)
class Endpoint:
    push: str          # host[:port][/path] the host pushes to
    pull: str          # host[:port][/path] the nodes pull from: what image references name

    def pull_ref(self, repository: str, tag: str) -> str:
        return f"{self.pull}/{repository}:{tag}"

    def pull_name(self, local_ref: str) -> str:
        """What the nodes pull a pushed local image (wasm-lab/httpbin:native) by."""
        return f"{self.pull}/{local_ref}"


def container_name(lab: str) -> str:
    return f"wasm-lab-{lab}-registry"


def user_endpoint(registry: str) -> Endpoint:
    """A registry the user named (`registry: host:port[/path]`): the host and the nodes use it alike."""
    return Endpoint(push=registry.rstrip("/"), pull=registry.rstrip("/"))


def _api_base(push: str) -> tuple[str, str]:
    """("scheme://host[:port]", "path/") of a push address: plain HTTP on loopback, as Docker does."""
    host, _, path = push.partition("/")
    scheme = "http" if host.rsplit(":", 1)[0] in LOOPBACK_HOSTS else "https"
    return f"{scheme}://{host}", f"{path}/" if path else ""


def answering(push: str) -> bool:
    base, _ = _api_base(push)
    try:
        return requests.get(f"{base}/v2/", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def storage_name(lab: str) -> str:
    return f"{container_name(lab)}-storage"


def storage_generation(base_identities: dict[str, str]) -> str:
    """What a storage volume's layers are of: its layers are asked for again only while the
    workload images' base images are the same ones."""
    return hashlib.sha256(json.dumps(base_identities, sort_keys=True).encode()).hexdigest()[:16]


def _storage(lab: str, client) -> tuple[docker.models.volumes.Volume | None, bool]:
    """The volume under the lab's storage name (None when there is none), and whether it carries this lab's label."""
    try:
        volume = client.volumes.get(storage_name(lab))
    except docker.errors.NotFound:
        return None, False
    return volume, (volume.attrs.get("Labels") or {}).get(OWNER) == lab


def ensure_storage(lab: str, generation: str, client=None) -> str:
    """The lab's registry storage volume, made unless it is there for the same base images. One
    of this lab's for other base images is replaced (nothing would ask for its layers again); a
    same-named volume without this lab's label is someone else's: refused, left alone."""
    client = client or docker_client()
    name = storage_name(lab)
    volume, labs = _storage(lab, client)
    if volume is not None:
        if not labs:
            raise LabError(f"a volume named {name} exists and is not lab {lab}'s registry storage: remove or rename it")
        if (volume.attrs.get("Labels") or {}).get(STORAGE_FOR) == generation:
            return name
        volume.remove()
    client.volumes.create(name, labels={OWNER: lab, STORAGE_FOR: generation})
    return name


def remove_storage(lab: str, client=None) -> bool:
    """Removes the lab's registry storage volume, only while it carries this lab's label."""
    volume, labs = _storage(lab, client or docker_client())
    if volume is None or not labs:
        return False
    volume.remove()
    return True


def storage_kept(lab: str, client=None) -> bool:
    return _storage(lab, client or docker_client())[1]


def ensure_container(lab: str, image: str, network: str, generation: str, client=None) -> tuple[Endpoint, bool]:
    """The lab's registry container, running on `network` and answering, keeping what is pushed
    in the lab's storage volume for base images `generation`; (endpoint, created). A same-named
    container without this lab's label is someone else's: refused, left alone."""
    client = client or docker_client()
    name = container_name(lab)
    created = False
    try:
        container = client.containers.get(name)
    except docker.errors.NotFound:
        storage = ensure_storage(lab, generation, client)
        container = client.containers.run(
            image, name=name, detach=True, labels={OWNER: lab}, network=network,
            volumes={storage: {"bind": STORAGE_PATH, "mode": "rw"}},
            ports={f"{CONTAINER_PORT}/tcp": ("127.0.0.1", None)}, restart_policy={"Name": "unless-stopped"})
        created = True
    if container.labels.get(OWNER) != lab:
        raise LabError(f"a container named {name} exists and is not lab {lab}'s registry: remove or rename it")
    if container.status != "running":
        container.start()
    container.reload()
    if network not in container.attrs["NetworkSettings"]["Networks"]:
        client.networks.get(network).connect(container)
    bindings = container.attrs["NetworkSettings"]["Ports"].get(f"{CONTAINER_PORT}/tcp") or []
    port = next((b["HostPort"] for b in bindings if b.get("HostIp") in ("127.0.0.1", "")), None)
    if port is None:
        raise LabError(f"registry container {name} publishes no port on 127.0.0.1: lab.down, then lab.up again")
    endpoint = Endpoint(push=f"127.0.0.1:{port}", pull=f"{name}:{CONTAINER_PORT}")
    # polled often: a registry just started answers within half a second
    wait_until(lambda: answering(endpoint.push), 30, f"registry {name} never answered on {endpoint.push}", interval=0.1)
    return endpoint, created


def remove_container(lab: str, client=None) -> bool:
    """Removes the lab's registry container (its storage volume stays), only while it carries this lab's label."""
    client = client or docker_client()
    try:
        container = client.containers.get(container_name(lab))
    except docker.errors.NotFound:
        return False
    if container.labels.get(OWNER) != lab:
        return False
    container.remove(force=True, v=True)
    return True


def push_image(client, ref: str, remote: str) -> None:
    """Tags the local image `ref` as `remote` (registry/repository:tag) and pushes it with the
    Docker engine; the engine's stream reports a failure as a line, raised here as one line."""
    repository, _, tag = remote.rpartition(":")
    client.images.get(ref).tag(repository, tag)
    for line in client.images.push(repository, tag, stream=True, decode=True):
        if "error" in line:
            raise LabError(f"pushing {remote} failed: {line['error']}")


def push_images(endpoint: Endpoint, refs: list[str], client=None) -> list[str]:
    """Pushes local images to the lab registry (a loopback registry is plain HTTP to the engine);
    the push tags go again once pushed. Returns what the nodes pull each by, in order."""
    client = client or docker_client()

    def push(ref: str) -> None:
        remote = f"{endpoint.push}/{ref}"
        try:
            push_image(client, ref, remote)
        finally:
            client.images.remove(remote)

    # a few at once: most of a push is the engine and the registry talking, not this process
    with ThreadPoolExecutor(max_workers=PUSHES_AT_ONCE, thread_name_prefix="push") as pool:
        list(pool.map(push, refs))
    return [endpoint.pull_name(ref) for ref in refs]


def hosts_toml(pull: str) -> str:
    """containerd's hosts.toml for the lab registry: plain HTTP at the name the nodes pull by."""
    return (f'# wasm-lab: the lab registry ({pull}), plain HTTP inside the cluster network\n'
            f'server = "http://{pull}"\n\n[host."http://{pull}"]\n  capabilities = ["pull", "resolve"]\n')


def _descriptor(media_type: str, content: bytes) -> dict:
    return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(content).hexdigest(), "size": len(content)}


def wasm_artifact(wasm: bytes, wasi: str) -> tuple[bytes, bytes, bytes]:
    """(config, layer, manifest) of a Wasm OCI artifact holding one module or component; `wasi`
    is its target ("wasip1" or "wasip2"). Pure: the same wasm gives the same digests."""
    layer = _descriptor(LAYER_MEDIA_TYPE, wasm)
    config = json.dumps({"architecture": "wasm", "os": wasi, "layerDigests": [layer["digest"]]},
                        sort_keys=True, separators=(",", ":")).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE, "artifactType": CONFIG_MEDIA_TYPE,
                           "config": _descriptor(CONFIG_MEDIA_TYPE, config), "layers": [layer]},
                          sort_keys=True, separators=(",", ":")).encode()
    return config, wasm, manifest


def _checked(response: requests.Response, what: str) -> requests.Response:
    if response.status_code == 401:
        raise LabError(f"{what}: the registry asks for credentials; artifacts are pushed to registries that take anonymous pushes")
    if response.status_code >= 400:
        raise LabError(f"{what}: the registry answered {response.status_code} {response.text.strip()[:200]}")
    return response


def _push_blob(session: requests.Session, base: str, repository: str, content: bytes) -> None:
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    if session.head(f"{base}/v2/{repository}/blobs/{digest}", timeout=30).status_code == 200:
        return
    started = _checked(session.post(f"{base}/v2/{repository}/blobs/uploads/", timeout=30), f"starting the upload of {digest}")
    location = requests.compat.urljoin(f"{base}/", started.headers["Location"])
    _checked(session.put(location, params={"digest": digest}, data=content,
                         headers={"Content-Type": "application/octet-stream"}, timeout=120), f"uploading {digest}")


def push_wasm(endpoint: Endpoint, repository: str, tag: str, wasm: bytes, wasi: str) -> str:
    """Pushes `wasm` as an artifact to repository:tag; returns the manifest's digest."""
    base, path = _api_base(endpoint.push)
    repository = path + repository
    config, layer, manifest = wasm_artifact(wasm, wasi)
    what = f"pushing {endpoint.push}/{repository}:{tag}"
    try:
        with requests.Session() as session:
            for blob in (layer, config):
                _push_blob(session, base, repository, blob)
            _checked(session.put(f"{base}/v2/{repository}/manifests/{tag}", data=manifest,
                                 headers={"Content-Type": MANIFEST_MEDIA_TYPE}, timeout=30), what)
    except requests.RequestException as error:
        raise LabError(f"{what}: {error.__class__.__name__}: {error}") from None
    return "sha256:" + hashlib.sha256(manifest).hexdigest()
