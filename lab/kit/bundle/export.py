"""kit.export: built kit artifacts (current here) into one bundle, and its sha256 file beside it."""
from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from lab import kit
from lab.errors import LabError
from lab.fetch import atomic_write
from lab.kit.bundle.layout import CHUNK, docker_client, now, sidecar, store_blob, tar_member
from lab.kit.bundle_checks import BLOBS, INDEX, SCHEMA
from lab.kit.store import KitStore, sha256_file
from lab.proc import console


def export(path: Path, names: list[str], store: KitStore | None = None) -> dict:
    """Write the named artifacts (built and current here) to `path`, and its sha256 to `path.sha256`."""
    store = store or KitStore()
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
        artifacts = {}
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
            artifacts[name] = entry
        index = {"schema": SCHEMA, "created_at": now(), "artifacts": artifacts}
        partial = Path(staging) / "bundle.tar"
        with console.status(f"kit.export: writing {path.name}"), \
                tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            data = json.dumps(index, indent=2, sort_keys=True).encode()
            tar.addfile(tar_member(INDEX, len(data)), io.BytesIO(data))
            for blob in sorted(blobs.iterdir()):
                with open(blob, "rb") as content:
                    tar.addfile(tar_member(f"{BLOBS}/{blob.name}", blob.stat().st_size), content)
        digest = sha256_file(partial)
        os.replace(partial, path)
    atomic_write(sidecar(path), f"{digest}  {path.name}\n".encode())
    return {"path": path, "sha256": digest, "size": path.stat().st_size, "artifacts": names}


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

