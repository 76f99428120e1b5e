"""Kit bundles: built kit artifacts in one checksummed archive, made on one machine and imported on
others (a trainer's machine to a workshop's laptops, a CI cache, an air-gapped site).

A bundle is an uncompressed tar: `wasm-lab-kit.json` first (each artifact's kit manifest entry and,
for an image, the members of its `docker save` archive), then `blobs/sha256/<hex>`: every file of a
files artifact and every member of an image archive once, named by its content's sha256 (images
share layers). `FILE.sha256` beside it holds the whole archive's sha256; an import checks it (or the
digest the user pinned, lab/kit/trust.py) before it reads anything, checks everything the archive
says before it writes anything (lab/kit/bundle_checks.py), then every blob again as it unpacks it
(docs/kit.md, "Bundles" and "Trust model")."""
from __future__ import annotations

import functools
import hashlib
import http.client
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
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import docker
from rich.markup import escape
from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

from lab import kit
from lab.errors import InputError, LabError
from lab.fetch import atomic_write
from lab.kit import builders, trust
from lab.kit import bundle_checks as checks
from lab.kit.bundle_checks import BLOBS, HEX, INDEX, SCHEMA, Refused
from lab.kit.store import KitStore, checksum_tree, sha256_file
from lab.proc import console

SERVED = "/kit.tar"
CHUNK = 1 << 20
DOWNLOAD_SECONDS = 60
SHA256_FILE_MAX_BYTES = 4096
FREE_SPACE_RESERVE = 10**9  # what an import leaves free on the kit's disk, at the least
SERVE_IDLE_SECONDS = 60  # a connection that sends or takes nothing this long is dropped
SERVE_CONNECTIONS = 64  # clients served at once (a workshop room, with room to spare)


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


# -- import -----------------------------------------------------------------------------------------
def is_url(source: str) -> bool:
    return urllib.parse.urlsplit(source).scheme in ("http", "https")


def import_bundle(source: str, sha256: str = "", store: KitStore | None = None) -> list[dict]:
    """Import a bundle (a file, a URL, or a `kit.serve` address); one row per artifact it holds.

    `sha256` pins the bundle: its whole sha256 or its fingerprint (lab/kit/trust.py); a URL without
    one is trusted on first use. Nothing is written outside the import's own folder before the
    whole archive matched its sha256 and everything its index says passed bundle_checks; nothing
    is loaded or recorded before every blob an artifact needs matched its own sha256. Artifacts
    already current here are left alone; those made from other recipes than this checkout's are
    skipped (kit.build would not accept them). An interrupted import resumes: the download
    continues where it stopped, verified blobs and loaded images stay."""
    store = store or KitStore()
    pin = trust.parse_pin(sha256) if sha256 else ""
    url = bundle_url(source) if is_url(source) else ""
    if not url and not Path(source).expanduser().is_file():
        raise InputError(f"kit bundle: {source} is not a file (give a bundle made by kit.export, or a URL)")
    waiting = functools.partial(console.print, "kit.import: waiting for another import into this kit to finish")
    try:
        with store.lock("import", on_wait=waiting):
            return _import(source, url, pin, store)
    except Refused as refusal:
        raise LabError(f"kit bundle {url or source}: {refusal}: refused, nothing was imported")


def _import(source: str, url: str, pin: str, store: KitStore) -> list[dict]:
    work = store.root / "imports"
    if url:
        served = _served_index(url)
        if served is not None:
            rows, todo = _wanted(served, store)
            if not todo:
                return rows
        work.mkdir(parents=True, exist_ok=True)
        archive, digest = _download(url, pin, work)
    else:
        archive = Path(source).expanduser()
        digest = _verified_file(archive, pin)
    blob_dir = work / "blobs"
    try:
        with _open_tar(archive) as tar:
            rows, todo, blobs = _checked(tar, store)
            _check_room(todo, blobs, store.root)
            _unpack(tar, {blob: blobs[blob] for entry in todo for blob in checks.blobs_of(entry)}, blob_dir)
    except Refused:
        shutil.rmtree(blob_dir, ignore_errors=True)
        if archive.parent == work:
            archive.unlink(missing_ok=True)
        raise
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


def _verified_file(archive: Path, pin: str) -> str:
    """The sha256 of a bundle file, which must begin with the pin, else be its FILE.sha256's."""
    expected = pin or _read_sidecar(archive)
    digest = _hash_with_progress(archive)
    if not digest.startswith(expected):
        raise Refused(f"sha256 {digest}, expected {trust.shown_pin(expected)}")
    return digest


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


def _open_tar(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, "r:")
    except tarfile.TarError as error:
        raise Refused(f"not an uncompressed tar archive ({error})")


def _checked(tar: tarfile.TarFile, store: KitStore) -> tuple[list[dict], list[dict], dict[str, tarfile.TarInfo]]:
    """(rows for artifacts left alone, entries to import, blob members by sha256), after every
    check that needs no blob written: members, index, this checkout's recipes, the image archives'
    names and ids, and the tags already on this machine."""
    blobs = checks.check_members(tar)
    rows, todo = _wanted(checks.check_index(checks.read_index(tar)), store)
    missing = {digest for entry in todo for digest in checks.blobs_of(entry)} - blobs.keys()
    if missing:
        raise Refused(f"{len(missing)} blobs its index lists are missing (a partial bundle)")
    for entry in todo:
        if "image" in entry:
            checks.check_image_archive(entry, functools.partial(_small_blob, tar, blobs))
            _refuse_to_move_a_tag(entry["image"])
    return rows, todo, blobs


def _small_blob(tar: tarfile.TarFile, blobs: dict[str, tarfile.TarInfo], digest: str) -> bytes:
    """A small blob (an image archive's manifest) read straight from the archive, checked."""
    member = blobs[digest]
    if member.size > checks.SMALL_BLOB_MAX_BYTES:
        raise Refused(f"blob {digest[:16]}… declares {member.size} bytes for an image manifest")
    content = tar.extractfile(member)
    data = content.read(member.size) if content else b""
    if hashlib.sha256(data).hexdigest() != digest:
        raise Refused(f"blob {digest[:16]}… has sha256 {hashlib.sha256(data).hexdigest()[:16]}…")
    return data


def _refuse_to_move_a_tag(image: dict) -> None:
    """A tag that exists here names what its owner put there: an import never moves it."""
    present = builders.image_id(image["ref"])
    if present is not None and present != image["id"]:
        raise Refused(f"{image['ref']} is image {present} here, the bundle's is {image['id']}, and an import "
                      f"never moves a tag (remove it first: docker rmi {image['ref']})")


def _check_room(todo: list[dict], blobs: dict[str, tarfile.TarInfo], root: Path) -> None:
    """What the import writes (the blobs, the files artifacts, the largest image archive it
    rebuilds for docker load) must leave FREE_SPACE_RESERVE free: a bundle that names one blob
    many times cannot fill the disk."""
    sizes = {entry["name"]: sum(blobs[digest].size for digest in checks.blobs_of(entry)) for entry in todo}
    unique = sum(blobs[digest].size for digest in {d for entry in todo for d in checks.blobs_of(entry)})
    placed = sum(sizes[entry["name"]] for entry in todo if "files" in entry)
    rebuilt = max((sizes[entry["name"]] for entry in todo if "image" in entry), default=0)
    folder = next(parent for parent in (root, *root.parents) if parent.exists())
    free = shutil.disk_usage(folder).free
    if unique + placed + rebuilt + FREE_SPACE_RESERVE > free:
        raise Refused(f"it would write {(unique + placed + rebuilt) / 1e9:.1f} GB into {root}, which has "
                      f"{free / 1e9:.1f} GB free (an import leaves {FREE_SPACE_RESERVE / 1e9:.1f} GB)")


def _wanted(artifacts: dict[str, dict], store: KitStore) -> tuple[list[dict], list[dict]]:
    """(rows for artifacts left alone, entries to import) of a checked index's artifacts."""
    planned = {item.recipe.name: item for item in kit.plan()}
    rows, todo = [], []
    for name, entry in sorted(artifacts.items()):
        row = {"name": name, "version": entry["version"]}
        here = planned.get(name)
        if here is None or here.key != entry["key"]:
            rows.append({**row, "action": "skipped: made from other recipes than this checkout's"})
        elif kit.is_current(store.entry(name), entry["key"]):
            rows.append({**row, "action": "present"})
        elif (entry["kind"], entry["version"]) != (here.recipe.kind, here.version):
            raise Refused(f"artifact {name} has this checkout's key but kind {entry['kind']} version "
                          f"{entry['version']}, where the recipe makes {here.recipe.kind} {here.version}")
        else:
            todo.append(entry)
    return rows, todo


def _unpack(tar: tarfile.TarFile, wanted: dict[str, tarfile.TarInfo], blob_dir: Path) -> None:
    """Every wanted blob into `blob_dir`, each checked against its name; blobs kept from an
    interrupted import are checked again, and whatever else is there (its temporary files) goes."""
    blob_dir.mkdir(parents=True, exist_ok=True)
    for kept in list(blob_dir.iterdir()):
        if kept.name in wanted and kept.is_file() and not kept.is_symlink() and sha256_file(kept) == kept.name:
            del wanted[kept.name]
        elif kept.is_dir() and not kept.is_symlink():
            shutil.rmtree(kept)
        else:
            kept.unlink()
    with console.status(f"kit.import: unpacking {len(wanted)} blobs"):
        for digest, member in sorted(wanted.items(), key=lambda item: item[1].offset_data):
            _store(tar.extractfile(member), blob_dir, expected=digest)


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
        try:
            _place(entry, blob_dir, staging)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return {**record, "path": str(target)}


def _place(entry: dict, blob_dir: Path, staging: Path) -> None:
    """A files artifact's files under `staging` (their paths were checked by bundle_checks)."""
    for relative, digest in entry["files"].items():
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(blob_dir / digest, staging / relative)
        os.chmod(staging / relative, 0o755 if relative in entry.get("executables", ()) else 0o644)


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


# -- download ---------------------------------------------------------------------------------------
def _origin(url: str) -> tuple:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.hostname, parts.port or {"http": 80, "https": 443}.get(parts.scheme)


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects within the bundle's own origin (scheme, host, port) only: another one would be a
    server the user never named, answering for the one they did."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if _origin(newurl) != _origin(req.full_url):
            raise Refused(f"{checks.shown(req.full_url)} redirects to {checks.shown(newurl)}, another origin")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameOriginRedirects)
NETWORK_ERRORS = (urllib.error.URLError, OSError, http.client.HTTPException)


def _read_small(url: str, limit: int, what: str) -> bytes:
    """A small document from the bundle's server, at most `limit` bytes."""
    with _OPENER.open(url, timeout=DOWNLOAD_SECONDS) as response:
        data = response.read(limit + 1)
    if len(data) > limit:
        raise Refused(f"{what} is larger than {limit} bytes")
    return data


def _served_index(url: str) -> dict[str, dict] | None:
    """The index `kit.serve` publishes beside its bundle, to skip a download that would change
    nothing (it decides only that; what is imported is read from the verified archive)."""
    what = f"its served index {SERVED}.json"
    try:
        data = _read_small(url + ".json", checks.INDEX_MAX_BYTES, what)
    except NETWORK_ERRORS:
        return None
    try:
        return checks.check_index(checks.parse_json(data, checks.INDEX_MAX_BYTES, what), what)
    except Refused as refusal:
        said = str(refusal)
        raise Refused(said if said.startswith(what) else f"{what}: {said}")


def _download(url: str, pin: str, work: Path) -> tuple[Path, str]:
    """The bundle at `url` in `work`, resumed from a partial download, verified; and its sha256.
    Files in `work` of other downloads (another bundle, an interrupted one) go first."""
    expected = pin if len(pin) == 64 else _trusted_sha256(url, pin)
    target, partial = work / f"{expected}.tar", work / f"{expected}.tar.partial"
    for other in work.iterdir():
        if other.name in (target.name, partial.name, "blobs"):
            continue
        if other.is_dir() and not other.is_symlink():
            shutil.rmtree(other)
        else:
            other.unlink()
    if not (target.exists() and _hash_with_progress(target) == expected):
        _fetch(url, partial)
        actual = _hash_with_progress(partial)
        if actual != expected:
            partial.unlink()
            raise Refused(f"sha256 {actual}, expected {expected}")
        os.replace(partial, target)
    trust.remember(url, expected)
    return target, expected


def _trusted_sha256(url: str, pin: str) -> str:
    """The server's sha256 for its bundle, if it begins with the pinned fingerprint; without a pin,
    if it is the one this machine trusted for `url` before (or, the first time, said and trusted)."""
    served = _remote_sha256(url)
    if pin:
        if not served.startswith(pin):
            raise Refused(f"its sha256 {trust.fingerprint(served)}… does not begin with the pinned "
                          f"{trust.shown_pin(pin)}")
        return served
    known = trust.trusted(url)
    if known is None:
        console.print(escape(f"kit.import: {url}: sha256 not pinned (no --sha256); trusting "
                             f"{trust.fingerprint(served)} on first use, recorded in {trust.records_path()}; "
                             "check it against the fingerprint kit.serve shows"), soft_wrap=True)
    elif known != served:
        raise Refused(f"its sha256 is now {trust.fingerprint(served)}…, but {trust.fingerprint(known)}… was "
                      f"trusted on first use ({trust.records_path()}); if the trainer shows the new fingerprint, "
                      "pass it with --sha256")
    return served


def _fetch(url: str, partial: Path) -> None:
    """Append the rest of the bundle to `partial` (Range from its size), no more than the server
    said it sends and leaving FREE_SPACE_RESERVE free; an interrupted transfer stays to resume."""
    offset = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = _OPENER.open(request, timeout=DOWNLOAD_SECONDS)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # the partial file may already hold every byte: its sha256 says
            return
        raise LabError(f"kit bundle {url}: HTTP {error.code}; nothing was imported")
    except NETWORK_ERRORS as error:
        raise LabError(f"kit bundle {url}: cannot be fetched ({getattr(error, 'reason', error)}); nothing was imported")
    with response:
        resumed = response.status == 206
        if resumed and not re.match(rf"^bytes {offset}-", response.headers.get("Content-Range", "")):
            raise Refused(f"the server answered a range that does not start at byte {offset}")
        length = response.headers.get("Content-Length", "")
        if not re.fullmatch(r"\d{1,15}", length):
            raise Refused("the server does not say how long the bundle is (Content-Length)")
        left = int(length)
        free = shutil.disk_usage(partial.parent).free
        if left + FREE_SPACE_RESERVE > free:
            raise Refused(f"the bundle has {left / 1e9:.1f} GB more to download, and {partial.parent} has "
                          f"{free / 1e9:.1f} GB free (an import leaves {FREE_SPACE_RESERVE / 1e9:.1f} GB)")
        start = offset if resumed else 0
        with open(partial, "ab" if resumed else "wb") as out, \
                Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(),
                         console=console, transient=True) as progress:
            task = progress.add_task(f"kit.import: {url}", total=start + left, completed=start)
            try:
                while left:
                    block = response.read(min(CHUNK, left))
                    if not block:
                        break
                    out.write(block)
                    left -= len(block)
                    progress.advance(task, len(block))
            except NETWORK_ERRORS:
                pass
    if left:
        raise LabError(f"kit bundle {url}: the download stopped with {left} bytes to go; run the same command "
                       "again to resume it")


def _remote_sha256(url: str) -> str:
    try:
        data = _read_small(url + ".sha256", SHA256_FILE_MAX_BYTES, f"{url}.sha256")
    except NETWORK_ERRORS as error:
        raise InputError(f"sha256: {url}.sha256 cannot be fetched ({getattr(error, 'reason', error)}); "
                         "pass --sha256 HEX")
    return _leading_sha256(data.decode(errors="replace"), f"{url}.sha256")


# -- serve ------------------------------------------------------------------------------------------
def _log(text: str) -> None:
    """A line of the trainer's log; what clients sent cannot style it or reach the terminal."""
    console.print(escape(checks.shown(text)), highlight=False, soft_wrap=True)


class _BundleHandler(http.server.BaseHTTPRequestHandler):
    """GET /kit.tar (byte ranges, so an interrupted download resumes), /kit.tar.sha256, /kit.tar.json.
    `timeout` (from server()) drops a connection idle that long."""

    bundle: Path
    extras: dict[str, bytes]

    def do_HEAD(self):
        self._answer(with_body=False)

    def do_GET(self):
        self._answer(with_body=True)

    def _answer(self, with_body: bool) -> None:
        try:
            path = urllib.parse.urlsplit(self.path).path
        except ValueError:
            self._send(400, b"not a path\n", with_body)
            return
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
        start, wanted = 0, re.fullmatch(r"bytes=(\d{1,19})-", self.headers.get("Range", ""))
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
        _log(f"kit.serve: {self.address_string()} {format % args}")


BUSY = b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class BundleServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """One thread per client, at most `connections` at once: one more is answered 503 and let go."""

    daemon_threads = True
    block_on_close = False  # Ctrl-C stops the server without waiting for transfers under way
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler, connections: int, sha256: str):
        self.slots = threading.BoundedSemaphore(connections)
        self.connections, self.sha256 = connections, sha256
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            _log(f"kit.serve: {client_address[0]} turned away: {self.connections} clients are served already")
            try:
                request.sendall(BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        _log(f"kit.serve: a transfer to {client_address[0]} ended early ({error}); its next request resumes it")


def server(bundle: Path, address: str, port: int, idle_seconds: float = SERVE_IDLE_SECONDS,
           connections: int = SERVE_CONNECTIONS) -> BundleServer:
    """An HTTP server for one bundle (run it with serve_forever), after checking the bundle against
    the sha256 file beside it; its `sha256` is what attendees pin."""
    if not bundle.is_file():
        raise InputError(f"bundle_file: {bundle} is not a file (give a bundle made by kit.export)")
    digest = _read_sidecar(bundle)
    if _hash_with_progress(bundle) != digest:
        raise LabError(f"kit.serve: {bundle} does not match its {sidecar(bundle).name}; export it again")
    try:
        with _open_tar(bundle) as tar:
            checks.check_members(tar)
            index = checks.read_index(tar)
            checks.check_index(index)
    except Refused as refusal:
        raise LabError(f"kit.serve: {bundle}: {refusal}; export it again")
    handler = type("Handler", (_BundleHandler,), {
        "bundle": bundle,
        "timeout": idle_seconds,
        "extras": {f"{SERVED}.sha256": f"{digest}  kit.tar\n".encode(),
                   f"{SERVED}.json": json.dumps(index).encode()},
    })
    try:
        return BundleServer((address, port), handler, connections, digest)
    except OSError as error:
        raise LabError(f"kit.serve: cannot listen on {address}:{port} ({error.strerror or error})")
