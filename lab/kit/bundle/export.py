"""kit.export: built kit artifacts (current here) into one bundle, and its sha256 file beside it; for
a workshop, with the workload images built from the kit's base images instead of the builders."""
from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from lab import artifacts, images, kit
from lab.artifacts import kit_sets
from lab.errors import LabError
from lab.fetch import atomic_write
from lab.kit.bundle.layout import CHUNK, docker_client, now, sidecar, store_blob, tar_member
from lab.kit.bundle_checks import BLOBS, INDEX, SCHEMA, WORKLOAD_KIND
from lab.kit.store import KitStore, sha256_file
from lab.proc import console


def export(path: Path, names: list[str], store: KitStore | None = None, purpose: str = "build") -> dict:
    """Write the named artifacts (built and current here) to `path`, and its sha256 to `path.sha256`;
    for a `workshop`, every workload image too (built here first unless prebuilt from the same inputs)."""
    store = store or KitStore()
    targets = list(images.IMAGE_TARGETS + images.JOB_IMAGES) if purpose == "workshop" else []
    keys = {p.recipe.name: p.key for p in kit.plan(names)}
    stale = [name for name in names if not kit.is_current(store.entry(name), keys[name])]
    if stale:
        raise LabError(f"kit.export: {', '.join(stale)} not built here (or stale); run: invoke kit.build "
                       + " ".join(f"--only {name}" for name in stale))
    path = path.absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as staging:
        blobs = Path(staging) / BLOBS
        blobs.mkdir(parents=True)
        members = {}
        for name in names:
            recorded = store.entry(name) or {}
            entry = {key: value for key, value in recorded.items() if key != "path"}
            with console.status(f"kit.export: {name}"):
                if "image" in entry:
                    entry["image"] = {**entry["image"], "archive": _save_image(entry["image"]["ref"], blobs)}
                else:
                    root = Path(recorded["path"])  # its checksums were just checked (is_current)
                    for relative, digest in entry["files"].items():
                        if not (blobs / digest).exists():
                            shutil.copyfile(root / relative, blobs / digest)
                    entry["executables"] = sorted(r for r in entry["files"] if os.access(root / r, os.X_OK))
            members[name] = entry
        workloads = {}
        for built in workload_images(targets):
            with console.status(f"kit.export: {built.tag}"):
                workloads[built.variant] = {
                    "name": built.variant, "kind": WORKLOAD_KIND, "key": built.inputs, "size_bytes": built.size,
                    "image": {"ref": built.tag, "id": built.id, "archive": _save_image(built.tag, blobs)}}
        with console.status("kit.export: compressing"):
            encoded = _compress(blobs, Path(staging) / "gzip")
        index = {"schema": SCHEMA, "created_at": now(), "for": purpose, "artifacts": members, "workloads": workloads,
                 "encoded": encoded}
        partial = Path(staging) / "bundle.tar"
        with console.status(f"kit.export: writing {path.name}"), \
                tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            data = json.dumps(index, indent=2, sort_keys=True).encode()
            tar.addfile(tar_member(INDEX, len(data)), io.BytesIO(data))
            for blob in sorted(blobs.iterdir()):
                stored = Path(staging) / "gzip" / blob.name if blob.name in encoded else blob
                with open(stored, "rb") as content:
                    tar.addfile(tar_member(f"{BLOBS}/{blob.name}", stored.stat().st_size), content)
        digest = sha256_file(partial)
        os.replace(partial, path)
    atomic_write(sidecar(path), f"{digest}  {path.name}\n".encode())
    return {"path": path, "sha256": digest, "size": path.stat().st_size, "artifacts": names,
            "workloads": [images.tag(target) for target in targets]}


def workload_images(targets: list[str]) -> list[images.BuiltImage]:
    """The workload images of `targets`, built from the kit's base images (each kept when it was
    built from the same inputs), as a lab running from the kit would build them."""
    if not targets:
        return []
    resolver = kit_sets.offline_resolver()
    bases = images.BaseImages({}, identities=kit_sets.kit_base_identities())
    for arg, name in artifacts.BASE_IMAGE_ARTIFACTS.items():
        bases.images[arg] = resolver.get(name).ref
    built = images.build(targets, bases, wasm_sums=False)
    for image in built:
        if images.build_inputs(image.tag) != image.inputs:
            raise LabError(f"kit.export: {image.tag} does not carry the label of its build inputs")
    return built


COMPRESS_MIN_BYTES = 1 << 20  # smaller blobs (manifests, image configs) are read as they lie
COMPRESS_MAX_RATIO = 0.9  # a blob gzip makes no smaller than this (a compressed file) stays as it is


def _compress(blobs: Path, out: Path) -> dict[str, dict]:
    """gzip (level 1: fast) of each large blob into `out`, kept where it saves space; the index's
    `encoded` entries ({encoding, size}: the size an import decompresses it to, and no more)."""
    out.mkdir()
    encoded = {}
    for blob in sorted(blobs.iterdir()):
        size = blob.stat().st_size
        if size < COMPRESS_MIN_BYTES:
            continue
        with open(blob, "rb") as raw, gzip.GzipFile(out / blob.name, "wb", compresslevel=1, mtime=0) as packed:
            shutil.copyfileobj(raw, packed, CHUNK)
        if (out / blob.name).stat().st_size <= size * COMPRESS_MAX_RATIO:
            encoded[blob.name] = {"encoding": "gzip", "size": size}
        else:
            (out / blob.name).unlink()
    return encoded


class _Chunks(io.RawIOBase):
    """A generator of byte chunks (docker's image stream) as a file to read from."""

    def __init__(self, chunks):
        self._chunks, self._left = iter(chunks), b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = chunk
        size = min(len(buffer), len(self._left))
        buffer[:size], self._left = self._left[:size], self._left[size:]
        return size


def _save_image(ref: str, blobs: Path) -> list[dict]:
    """`docker save` of one image, its files stored once by sha256; the member list rebuilds it."""
    members = []
    stream = io.BufferedReader(_Chunks(docker_client().api.get_image(ref, chunk_size=CHUNK)), CHUNK)
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            if member.isfile():
                members.append({"name": member.name, "sha256": store_blob(archive.extractfile(member), blobs)})
            elif member.isdir():
                members.append({"name": member.name, "type": "dir"})
            elif member.issym():
                members.append({"name": member.name, "type": "symlink", "target": member.linkname})
            else:
                raise LabError(f"kit.export: docker save of {ref} holds {member.name}, neither file, folder nor link")
    return members

