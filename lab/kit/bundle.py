"""Kit bundles: built kit artifacts in one checksummed archive, made on one machine and imported on
others (a trainer's machine to a workshop's laptops, a CI cache, an air-gapped site).

A bundle is an uncompressed tar: `wasm-lab-kit.json` first (each artifact's kit manifest entry and,
for an image, the members of its `docker save` archive), then `blobs/sha256/<hex>`: every file of a
files artifact and every member of an image archive once, named by its content's sha256 (images
share layers). `FILE.sha256` beside it holds the whole archive's sha256; an import checks it before
it reads anything, then checks every blob again as it unpacks it (docs/kit.md)."""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import re
import shutil
import socketserver
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import docker
from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

from lab import kit
from lab.errors import InputError, LabError
from lab.fetch import atomic_write
from lab.kit import builders
from lab.kit.store import KitStore, checksum_tree, sha256_file
from lab.proc import console

SCHEMA = 1
INDEX = "wasm-lab-kit.json"
BLOBS = "blobs/sha256"
SERVED = "/kit.tar"
HEX = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20
DOWNLOAD_SECONDS = 60


def _docker():
    """A client whose reads may wait long: saving or loading a 2 GB image streams for minutes."""
    return docker.from_env(timeout=3600)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- export -----------------------------------------------------------------------------------------
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
        index = {"schema": SCHEMA, "created_at": _now(), "artifacts": artifacts}
        partial = Path(staging) / "bundle.tar"
        with console.status(f"kit.export: writing {path.name}"), \
                tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            data = json.dumps(index, indent=2, sort_keys=True).encode()
            tar.addfile(_member(INDEX, len(data)), io.BytesIO(data))
            for blob in sorted(blobs.iterdir()):
                with open(blob, "rb") as content:
                    tar.addfile(_member(f"{BLOBS}/{blob.name}", blob.stat().st_size), content)
        digest = sha256_file(partial)
        os.replace(partial, path)
    atomic_write(sidecar(path), f"{digest}  {path.name}\n".encode())
    return {"path": path, "sha256": digest, "size": path.stat().st_size, "artifacts": names}


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _member(name: str, size: int, kind: bytes = tarfile.REGTYPE, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode, info.mtime = size, kind, mode, 0
    return info


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
    stream = io.BufferedReader(_Chunks(_docker().api.get_image(ref, chunk_size=CHUNK)), CHUNK)
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            if member.isfile():
                members.append({"name": member.name, "sha256": _store(archive.extractfile(member), blobs)})
            elif member.isdir():
                members.append({"name": member.name, "type": "dir"})
            elif member.issym():
                members.append({"name": member.name, "type": "symlink", "target": member.linkname})
            else:
                raise LabError(f"kit.export: docker save of {ref} holds {member.name}, neither file, folder nor link")
    return members


def _store(content, folder: Path, expected: str = "") -> str:
    """Copy a stream into `folder` under its sha256 (written whole, then renamed); return the sha256."""
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".blob.")
    with os.fdopen(fd, "wb") as out:
        for block in iter(lambda: content.read(CHUNK), b""):
            digest.update(block)
            out.write(block)
    actual = digest.hexdigest()
    if expected and actual != expected:
        os.unlink(tmp)
        raise LabError(f"kit bundle: blob {expected[:16]}… has sha256 {actual[:16]}…: refused, nothing was imported")
    os.replace(tmp, folder / actual)
    return actual


# -- import -----------------------------------------------------------------------------------------
def is_url(source: str) -> bool:
    return urllib.parse.urlsplit(source).scheme in ("http", "https")


def import_bundle(source: str, sha256: str = "", store: KitStore | None = None) -> list[dict]:
    """Import a bundle (a file, a URL, or a `kit.serve` address); one row per artifact it holds.

    Nothing is loaded or recorded before the whole archive matched its sha256 and every blob an
    artifact needs matched its own. Artifacts already current here are left alone; those made from
    other recipes than this checkout's are skipped (kit.build would not accept them). An interrupted
    import resumes: the download continues where it stopped, verified blobs and loaded images stay."""
    store = store or KitStore()
    if sha256 and not HEX.match(sha256):
        raise InputError(f"sha256: {sha256!r} is not 64 lower-case hex digits")
    if not is_url(source) and not Path(source).expanduser().is_file():
        raise InputError(f"kit bundle: {source} is not a file (give a bundle made by kit.export, or a URL)")
    work = store.root / "imports"
    if is_url(source):
        url = bundle_url(source)
        served = _served_index(url)
        if served is not None:
            rows, todo = _wanted(served, store)
            if not todo:
                return rows
        work.mkdir(parents=True, exist_ok=True)
        archive, digest = _download(url, sha256, work)
    else:
        archive = Path(source).expanduser()
        expected = sha256 or _read_sidecar(archive)
        digest = _hash_with_progress(archive)
        if digest != expected:
            raise LabError(f"kit bundle {source}: sha256 {digest}, expected {expected}: refused, nothing was imported")
    blob_dir = work / "blobs"
    blob_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:") as tar:
        index = _read_index(tar, source)
        rows, todo = _wanted(index, store)
        _unpack(tar, {digest for entry in todo for digest in _blobs_of(entry)}, blob_dir, source)
    origin = {"bundle": digest, "source": source, "at": _now()}
    for entry in todo:
        with console.status(f"kit.import: {entry['name']}"):
            record = _install(entry, blob_dir, store)
        store.record({**record, "imported_from": origin})
        rows.append({"name": entry["name"], "version": entry["version"], "action": "imported"})
    shutil.rmtree(blob_dir)
    if archive.parent == work:
        archive.unlink()
    return sorted(rows, key=lambda row: row["name"])


def bundle_url(source: str) -> str:
    """A `kit.serve` address (no path) means its bundle; any other URL names a bundle itself."""
    parts = urllib.parse.urlsplit(source)
    return source.rstrip("/") + SERVED if parts.path in ("", "/") else source


def _read_sidecar(archive: Path) -> str:
    try:
        text = sidecar(archive).read_text()
    except FileNotFoundError:
        raise InputError(f"sha256: {archive} has no {sidecar(archive).name} beside it; pass --sha256 HEX "
                         "(kit.export prints it)")
    return _leading_sha256(text, str(sidecar(archive)))


def _leading_sha256(text: str, where: str) -> str:
    """The sha256 a `sha256sum`-style line (FILE.sha256) starts with."""
    words = text.split()
    if not words or not HEX.match(words[0]):
        raise InputError(f"sha256: {where} does not start with a sha256; pass --sha256 HEX")
    return words[0]


def _hash_with_progress(path: Path) -> str:
    with console.status(f"kit.import: checking the sha256 of {path.name}"):
        return sha256_file(path)


def _read_index(tar: tarfile.TarFile, source: str) -> dict:
    first = tar.next()
    if first is None or first.name != INDEX or not first.isfile():
        raise LabError(f"kit bundle {source}: not a bundle made by kit.export (no {INDEX} first)")
    content = tar.extractfile(first)
    index = json.loads(content.read()) if content else {}
    if index.get("schema") != SCHEMA:
        raise LabError(f"kit bundle {source}: schema {index.get('schema')!r}; this wasm-lab reads {SCHEMA}")
    return index


def _blobs_of(entry: dict) -> set[str]:
    if "image" in entry:
        return {member["sha256"] for member in entry["image"]["archive"] if "sha256" in member}
    return set(entry["files"].values())


def _wanted(index: dict, store: KitStore) -> tuple[list[dict], list[dict]]:
    """(rows for artifacts left alone, entries to import)."""
    keys = {planned.recipe.name: planned.key for planned in kit.plan()}
    rows, todo = [], []
    for name, entry in sorted(index["artifacts"].items()):
        row = {"name": name, "version": entry["version"]}
        if keys.get(name) != entry["key"]:
            rows.append({**row, "action": "skipped: made from other recipes than this checkout's"})
        elif kit.is_current(store.entry(name), entry["key"]):
            rows.append({**row, "action": "present"})
        else:
            todo.append(entry)
    return rows, todo


def _unpack(tar: tarfile.TarFile, wanted: set[str], blob_dir: Path, source: str) -> None:
    """Every wanted blob into `blob_dir`, each checked against its name; kept ones checked again."""
    for kept in list(blob_dir.iterdir()):
        if kept.name in wanted and sha256_file(kept) == kept.name:
            wanted = wanted - {kept.name}
        else:
            kept.unlink()
    with console.status(f"kit.import: unpacking {len(wanted)} blobs"):
        for member in tar:
            digest = member.name.removeprefix(f"{BLOBS}/")
            if member.isfile() and digest in wanted:
                _store(tar.extractfile(member), blob_dir, expected=digest)
                wanted = wanted - {digest}
    if wanted:
        raise LabError(f"kit bundle {source}: {len(wanted)} blobs its index lists are missing "
                       f"(a partial bundle): refused, nothing was imported")


def _install(entry: dict, blob_dir: Path, store: KitStore) -> dict:
    """Load an image or place a files artifact; return its manifest entry for this machine."""
    if "image" in entry:
        image = dict(entry["image"])
        members = image.pop("archive")
        if not builders.image_present(image["ref"], image["id"]):
            _load_image(members, blob_dir)
            if not builders.image_present(image["ref"], image["id"]):
                raise LabError(f"kit bundle: loading {image['ref']} did not give image {image['id']}")
        return {**entry, "image": image}
    record = {key: value for key, value in entry.items() if key != "executables"}
    target = store.artifact_dir(entry["name"], entry["key"])
    if not (target.is_dir() and checksum_tree(target) == entry["files"]):
        staging = target.with_name(target.name + ".import")
        shutil.rmtree(staging, ignore_errors=True)
        for relative, digest in entry["files"].items():
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(blob_dir / digest, staging / relative)
            os.chmod(staging / relative, 0o755 if relative in entry.get("executables", ()) else 0o644)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    return {**record, "path": str(target)}


def _load_image(members: list[dict], blob_dir: Path) -> None:
    with tempfile.TemporaryFile(dir=blob_dir.parent) as archive:
        with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for member in members:
                if member.get("type") == "dir":
                    tar.addfile(_member(member["name"], 0, tarfile.DIRTYPE, 0o755))
                elif member.get("type") == "symlink":
                    info = _member(member["name"], 0, tarfile.SYMTYPE)
                    info.linkname = member["target"]
                    tar.addfile(info)
                else:
                    blob = blob_dir / member["sha256"]
                    with open(blob, "rb") as content:
                        tar.addfile(_member(member["name"], blob.stat().st_size), content)
        archive.seek(0)
        for chunk in _docker().api.load_image(archive):
            if "error" in chunk:
                raise LabError(f"kit bundle: docker load failed: {chunk['error'].strip()}")


def _served_index(url: str) -> dict | None:
    """The index `kit.serve` publishes beside its bundle, to skip a download that would change
    nothing (it decides only that; what is imported is read from the verified archive)."""
    try:
        with urllib.request.urlopen(url + ".json", timeout=DOWNLOAD_SECONDS) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _download(url: str, sha256: str, work: Path) -> tuple[Path, str]:
    """The bundle at `url` in `work`, resumed from a partial download, verified; and its sha256."""
    expected = sha256 or _remote_sha256(url)
    target = work / f"{expected}.tar"
    if target.exists() and _hash_with_progress(target) == expected:
        return target, expected
    partial = work / f"{expected}.tar.partial"
    offset = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=DOWNLOAD_SECONDS)
    except urllib.error.HTTPError as error:
        if error.code != 416:  # 416: the partial file already holds every byte
            raise LabError(f"kit bundle {url}: HTTP {error.code}; nothing was imported")
    except (urllib.error.URLError, OSError) as error:
        raise LabError(f"kit bundle {url}: cannot be fetched ({getattr(error, 'reason', error)}); nothing was imported")
    else:
        with response, open(partial, "ab" if response.status == 206 else "wb") as out:
            start = offset if response.status == 206 else 0
            total = start + int(response.headers.get("Content-Length") or 0)
            with Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(),
                          console=console, transient=True) as progress:
                task = progress.add_task(f"kit.import: {url}", total=total or None, completed=start)
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    progress.advance(task, len(block))
    actual = _hash_with_progress(partial)
    if actual != expected:
        partial.unlink()
        raise LabError(f"kit bundle {url}: sha256 {actual}, expected {expected}: refused, nothing was imported")
    os.replace(partial, target)
    return target, expected


def _remote_sha256(url: str) -> str:
    try:
        with urllib.request.urlopen(url + ".sha256", timeout=DOWNLOAD_SECONDS) as response:
            text = response.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:
        raise InputError(f"sha256: {url}.sha256 cannot be fetched ({getattr(error, 'reason', error)}); "
                         "pass --sha256 HEX")
    return _leading_sha256(text, f"{url}.sha256")


# -- serve ------------------------------------------------------------------------------------------
class _BundleHandler(http.server.BaseHTTPRequestHandler):
    """GET /kit.tar (byte ranges, so an interrupted download resumes), /kit.tar.sha256, /kit.tar.json."""

    bundle: Path
    extras: dict[str, bytes]

    def do_HEAD(self):
        self._answer(with_body=False)

    def do_GET(self):
        self._answer(with_body=True)

    def _answer(self, with_body: bool) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path in self.extras:
            self._send(200, self.extras[path], with_body)
        elif path == SERVED:
            self._send_bundle(with_body)
        else:
            self._send(404, b"not here: GET /kit.tar, /kit.tar.sha256 or /kit.tar.json\n", with_body)

    def _send(self, status: int, body: bytes, with_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def _send_bundle(self, with_body: bool) -> None:
        size = self.bundle.stat().st_size
        start, wanted = 0, re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if wanted:
            start = int(wanted.group(1))
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return
        self.send_response(206 if wanted else 200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(size - start))
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.end_headers()
        if with_body:
            with open(self.bundle, "rb") as content:
                content.seek(start)
                shutil.copyfileobj(content, self.wfile, CHUNK)

    def log_message(self, format, *args):
        console.print(f"kit.serve: {self.address_string()} {format % args}", highlight=False)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        console.print(f"kit.serve: a transfer to {client_address[0]} ended early ({error}); its next request resumes it")


def server(bundle: Path, address: str, port: int) -> http.server.HTTPServer:
    """An HTTP server for one bundle (run it with serve_forever); its sha256 file must be beside it."""
    digest = _read_sidecar(bundle)
    with tarfile.open(bundle, "r:") as tar:
        index = _read_index(tar, str(bundle))
    handler = type("Handler", (_BundleHandler,), {
        "bundle": bundle,
        "extras": {f"{SERVED}.sha256": f"{digest}  kit.tar\n".encode(),
                   f"{SERVED}.json": json.dumps(index).encode()},
    })
    try:
        return _Server((address, port), handler)
    except OSError as error:
        raise LabError(f"kit.serve: cannot listen on {address}:{port} ({error.strerror or error})")
