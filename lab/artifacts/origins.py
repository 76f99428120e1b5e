"""How each kind of origin gives an artifact (lab/defaults/artifacts.yaml): a release download, a
registry pull by digest, a local build from pinned inputs, a kit recipe (Debian packages among
them), the provider's default. Each is one function of the resolver, the artifact's name and the
origin; FETCHERS says which serves which `origin:`."""
from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from lab import REPO_ROOT, kit
from lab.artifacts.host import ARCH_ALIASES
from lab.artifacts.local import LocalBundle, LocalFile, LocalImage
from lab.docker_api import docker_client
from lab.errors import LabError
from lab.fetch import Unavailable, atomic_write, download_path, extracted_member, http_get, pull
from lab.kit.store import sha256_file
from lab.mirrors import ImageRef
from lab.proc import console

if TYPE_CHECKING:
    from lab.artifacts import Resolver



def fetch_release(resolver: Resolver, name: str, origin: dict) -> LocalFile:
    url, key, sha256 = resolver.release_pin(name, origin)
    if not sha256:
        raise resolver.unpinned(url, origin)
    resolver.note_lock_override(name, (origin.get("sha256") or {}).get(resolver.arch), sha256)
    archive = download_path(url, sha256)
    cached = sha256_file(archive) if archive.exists() else None
    if cached != sha256:
        if cached is not None:
            console.print(f"{archive}: sha256 {cached}, pinned {sha256}; downloading it again", soft_wrap=True,
                          markup=False)
        mirrored = resolver.mirrors.url(url)
        resolver.probe_url(mirrored)
        data = http_get(mirrored)
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise Unavailable(f"sha256 mismatch for {mirrored}: got {actual}, pinned {sha256}; not used")
        atomic_write(archive, data)
    member = origin["member"].format(arch=resolver.arch)
    locked = resolver.lock.entries.get(key) or {}
    pinned_member = locked.get("member_sha256") if locked.get("sha256") == sha256 else None
    binary, member_sha256 = extracted_member(archive, member, pinned_member)
    resolver.lock.record(key, {"origin": "release", "source": url, "version": origin.get("version", ""),
                           "sha256": sha256, "size": archive.stat().st_size, "member": member,
                           "member_sha256": member_sha256})
    return LocalFile(binary, member_sha256)


def fetch_registry(resolver: Resolver, name: str, origin: dict) -> LocalImage:
    import docker

    bare, digest = resolver.registry_pin(name, origin)
    if not digest:
        raise Unavailable(f"no digest is pinned for {bare}")
    resolver.note_lock_override(name, ImageRef.parse(origin.get("ref") or resolver.kind_node_ref()).digest, digest)
    source = resolver.mirrors.image(replace(bare, tag="", digest=digest))
    local = str(source)
    client = docker_client()
    try:
        image = client.images.get(local)
    except docker.errors.ImageNotFound:
        resolver.probe_address(source.registry)
        pull(client, source.repository, digest)
        image = client.images.get(local)
    refuse_other_architecture(resolver, local, image.attrs.get("Architecture") or "")
    resolver.lock.record(name, {"origin": "registry", "source": str(bare), "digest": digest})
    return LocalImage(local, digest)


def refuse_other_architecture(resolver: Resolver, ref: str, image_arch: str) -> None:
    """A digest that names one platform's image rather than a multi-platform index gives that
    platform's image on every host: on a host of another architecture it would only fail later,
    inside the node or the build ("exec format error")."""
    if image_arch and ARCH_ALIASES.get(image_arch, image_arch) != resolver.arch:
        raise Unavailable(f"{ref} is an image for {image_arch}, not for this {resolver.arch} host (its pinned digest "
                          "names one platform's image, not a multi-platform index)")


def fetch_build(resolver: Resolver, name: str, origin: dict) -> LocalImage:
    import docker

    try:
        inputs = {key: resolver.get(dep) for key, dep in origin["inputs"].items()}
    except Unavailable:
        raise
    except LabError as error:
        raise Unavailable(str(error))
    dockerfile = REPO_ROOT / origin["dockerfile"]
    digest = hashlib.sha256(dockerfile.read_bytes())
    for key, value in sorted(inputs.items()):
        digest.update(f"{key}={getattr(value, 'sha256', '') or getattr(value, 'digest', '') or value.ref}\0".encode())
    tag = f"{origin['tag']}:{digest.hexdigest()[:16]}"
    client = docker_client()
    try:
        client.images.get(tag)
        return LocalImage(tag)
    except docker.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="wasm-lab-build-") as context:
        shutil.copy(dockerfile, Path(context) / "Dockerfile")
        buildargs = {}
        for key, value in inputs.items():
            if isinstance(value, LocalFile):
                (Path(context) / key).write_bytes(value.verified_bytes())
                (Path(context) / key).chmod(0o755)
            else:
                buildargs[key] = value.ref
        with console.status(f"{name}: building {tag}"):
            for chunk in client.api.build(path=context, tag=tag, buildargs=buildargs, pull=False, rm=True,
                                          forcerm=True, decode=True):
                if "error" in chunk:
                    raise LabError(f"{name}: building {tag} failed: {chunk['error'].strip()}")
    return LocalImage(tag)


def fetch_kit(resolver: Resolver, name: str, origin: dict):
    kit.build([resolver.kit_artifact(origin), *origin.get("tools", [])])
    entry = kit.artifact(resolver.kit_artifact(origin))
    if "image" in entry:
        return LocalImage(entry["image"]["ref"])
    if "dir" in origin:
        return LocalBundle(Path(entry["path"]), entry["files"])
    relative = origin["file"]
    if relative not in entry["files"]:
        raise LabError(f"kit artifact {entry['name']} has no {relative}; rebuild it "
                       f"(invoke kit.build --force --only {entry['name']})")
    return LocalFile(Path(entry["path"]) / relative, entry["files"][relative], tuple(origin.get("needs", ())))


def fetch_default(resolver: Resolver, name: str, origin: dict):
    if origin.get("probe"):  # where the provider fetches its default from
        resolver.probe_address(origin["probe"])
    return None


FETCHERS: dict[str, Callable[[Resolver, str, dict], object]] = {
    "release": fetch_release,
    "registry": fetch_registry,
    "build": fetch_build,
    "kit": fetch_kit,
    "debian": fetch_kit,
    "default": fetch_default,
}
