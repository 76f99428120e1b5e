"""Getting bytes from upstream, verified by the caller: downloads (cached per sha256), registry
pulls by digest, tar members, atomic writes. `Unavailable` says why an origin cannot serve, so the
artifact store can take the next one."""
from __future__ import annotations

import hashlib
import http.client
import os
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from lab.errors import LabError, folder_from_env
from lab.kit.store import sha256_file
from lab.proc import console

DOWNLOAD_SECONDS = 60


def downloads_dir() -> Path:
    """Verified downloads, one folder per sha256 ($WASM_LAB_DOWNLOAD_DIR, e.g. a CI cache)."""
    return folder_from_env("WASM_LAB_DOWNLOAD_DIR", Path.home() / ".cache" / "wasm-lab" / "downloads")


def download_path(url: str, sha256: str) -> Path:
    return downloads_dir() / sha256 / Path(urllib.parse.unquote(url)).name


class Unavailable(LabError):
    """An origin could not be reached or verified; in auto mode the next origin is tried."""


def http_get(url: str, max_bytes: int | None = None) -> bytes:
    """The body at `url`; with `max_bytes`, an answer longer than that is refused (read no further)."""
    try:
        with console.status(f"downloading {url}"):
            with urllib.request.urlopen(url, timeout=DOWNLOAD_SECONDS) as response:
                data = response.read() if max_bytes is None else response.read(max_bytes + 1)
    except urllib.error.HTTPError as error:
        raise Unavailable(f"{url} answered HTTP {error.code}")
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", None) or error
        raise Unavailable(f"{url} could not be fetched ({getattr(reason, 'strerror', None) or reason})")
    if max_bytes is not None and len(data) > max_bytes:
        raise Unavailable(f"{url} answered more than {max_bytes} bytes; not read")
    return data


def pull(client, repository: str, digest: str) -> None:
    import docker

    try:
        with console.status(f"pulling {repository}@{digest}"):
            for chunk in client.api.pull(repository, tag=digest, stream=True, decode=True):
                if "error" in chunk:
                    raise Unavailable(f"pulling {repository}@{digest} failed: {chunk['error'].strip()}")
    except docker.errors.APIError as error:
        raise Unavailable(f"pulling {repository}@{digest} failed: {error.explanation or error}")


def extract_member(archive: Path, member: str) -> bytes:
    with tarfile.open(archive, "r:*") as tar:
        for info in tar.getmembers():
            content = tar.extractfile(info) if info.isfile() else None
            if content is not None and info.name.removeprefix("./") == member:
                return content.read()
    raise Unavailable(f"{member} is not in {archive.name}")


def extracted_member(archive: Path, member: str, pinned: str | None) -> tuple[Path, str]:
    """A member of a verified archive as a file beside it, and its sha256, checked at every use:
    the file must hash to `pinned` (lab.lock's record) or, without one, to the member inside the
    archive. A copy that differs (a shared download cache someone wrote into) is said in one line
    and extracted again from the archive, which the caller has just verified against its pin."""
    inside = None
    if pinned is None:
        inside = extract_member(archive, member)
        pinned = hashlib.sha256(inside).hexdigest()
    path = archive.parent / Path(member).name
    if path.exists():
        cached = sha256_file(path)
        if cached == pinned:
            return path, pinned
        console.print(f"{path}: sha256 {cached}, but {member} of the verified {archive.name} has {pinned}; "
                      "extracting it again", soft_wrap=True, markup=False)
    data = inside if inside is not None else extract_member(archive, member)
    actual = hashlib.sha256(data).hexdigest()
    if actual != pinned:
        raise Unavailable(f"{member} in the verified {archive.name} has sha256 {actual}, but lab.lock pins {pinned}; "
                          "not used (delete that lab.lock entry to accept it)")
    atomic_write(path, data, mode=0o755)
    return path, pinned


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)

