"""What a kit bundle is on disk, shared by its export, import and server: the sha256 file beside
it, its tar members, its blobs stored under their sha256."""
from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import tempfile
import zlib
from datetime import datetime, timezone
from pathlib import Path

import docker

from lab.errors import InputError
from lab.kit.bundle_checks import HEX, Refused
from lab.kit.store import sha256_file
from lab.proc import console

SERVED = "/kit.tar"
CHUNK = 1 << 20
FREE_SPACE_RESERVE = 10**9  # what an import leaves free on the kit's disk, at the least


def docker_client():
    """A client whose reads may wait long: saving or loading a 2 GB image streams for minutes."""
    return docker.from_env(timeout=3600)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def read_sidecar(archive: Path) -> str:
    try:
        text = sidecar(archive).read_text()
    except FileNotFoundError:
        raise InputError(f"sha256: {archive} has no {sidecar(archive).name} beside it; pass --sha256 HEX "
                         "(kit.export prints it)")
    return leading_sha256(text, str(sidecar(archive)))


def leading_sha256(text: str, where: str) -> str:
    """The sha256 a `sha256sum`-style line (FILE.sha256) starts with."""
    words = text.split()
    if not words or not HEX.fullmatch(words[0]):
        raise InputError(f"sha256: {where} does not start with a sha256; pass --sha256 HEX")
    return words[0]


def hash_with_progress(path: Path) -> str:
    with console.status(f"kit.import: checking the sha256 of {path.name}"):
        return sha256_file(path)


def open_tar(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, "r:")
    except tarfile.TarError as error:
        raise Refused(f"not an uncompressed tar archive ({error})")


def tar_member(name: str, size: int, kind: bytes = tarfile.REGTYPE, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode, info.mtime = size, kind, mode, 0
    return info


class Gunzipped:
    """The gzip stream `raw` decompressed, refused once it gives more than `size` bytes (what the
    index declares, which the free space was checked against) or is not gzip."""

    def __init__(self, raw, size: int, digest: str):
        self._stream, self._left, self._digest = gzip.GzipFile(fileobj=raw, mode="rb"), size, digest

    def read(self, wanted: int) -> bytes:
        try:
            data = self._stream.read(wanted)
        except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            raise Refused(f"blob {self._digest[:16]}… is not gzip ({error})")
        self._left -= len(data)
        if self._left < 0:
            raise Refused(f"blob {self._digest[:16]}… expands past the size its index declares")
        return data


def store_blob(content, folder: Path, expected: str = "") -> str:
    """Copy a stream into `folder` under its sha256 (written whole, then renamed; the partial file
    goes whatever stops it); return the sha256."""
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".blob.")
    try:
        with os.fdopen(fd, "wb") as out:
            for block in iter(lambda: content.read(CHUNK), b""):
                digest.update(block)
                out.write(block)
        actual = digest.hexdigest()
        if expected and actual != expected:
            raise Refused(f"blob {expected[:16]}… has sha256 {actual[:16]}…")
        os.replace(tmp, folder / actual)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return actual
