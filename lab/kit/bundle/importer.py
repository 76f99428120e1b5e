"""kit.import: a bundle from a file or a URL, checked whole before anything is written, then its
blobs unpacked (each checked again), its images loaded and its files placed, under the kit's
import lock; an interrupted import resumes."""
from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from lab import images, kit
from lab.artifacts import kit_sets
from lab.errors import InputError, LabError
from lab.kit import builders, trust
from lab.kit import bundle_checks as checks
from lab.kit.bundle.download import bundle_url, download, is_url, served_index
from lab.kit.bundle.layout import (
    FREE_SPACE_RESERVE,
    Gunzipped,
    docker_client,
    hash_with_progress,
    now,
    open_tar,
    read_sidecar,
    store_blob,
    tar_member,
)
from lab.kit.bundle_checks import Refused
from lab.kit.store import KitStore, checksum_tree, sha256_file
from lab.proc import console


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
        served = served_index(url)
        if served is not None:
            rows, todo = _wanted(served, store)
            if not todo:
                return sorted(rows, key=lambda row: row["name"])
        work.mkdir(parents=True, exist_ok=True)
        archive, digest = download(url, pin, work)
    else:
        archive = Path(source).expanduser()
        digest = _verified_file(archive, pin)
    blob_dir = work / "blobs"
    try:
        with open_tar(archive) as tar:
            rows, todo, blobs, encoded = _checked(tar, store)
            _check_room(todo, _sizes(blobs, encoded), store.root)
            _unpack(tar, {blob: blobs[blob] for entry in todo for blob in checks.blobs_of(entry)}, blob_dir, encoded)
    except Refused:
        shutil.rmtree(blob_dir, ignore_errors=True)
        if archive.parent == work:
            archive.unlink(missing_ok=True)
        raise
    origin = {"bundle": digest, "source": source, "at": now()}
    for entry in todo:
        with console.status(f"kit.import: {entry['name']}"):
            record = _install(entry, blob_dir, store)
        if entry["kind"] == checks.WORKLOAD_KIND:  # the lab's images action finds it by its label
            rows.append({**_workload_row(entry), "action": "imported"})
            continue
        store.record({**record, "imported_from": origin})
        rows.append({"name": entry["name"], "version": entry["version"], "action": "imported"})
    shutil.rmtree(blob_dir)
    if archive.parent == work:
        archive.unlink()
    return sorted(rows, key=lambda row: row["name"])


def _verified_file(archive: Path, pin: str) -> str:
    """The sha256 of a bundle file, which must begin with the pin, else be its FILE.sha256's."""
    expected = pin or read_sidecar(archive)
    digest = hash_with_progress(archive)
    if not digest.startswith(expected):
        raise Refused(f"sha256 {digest}, expected {trust.shown_pin(expected)}")
    return digest


def _checked(tar: tarfile.TarFile, store: KitStore) -> tuple[list[dict], list[dict], dict[str, tarfile.TarInfo],
                                                             dict[str, dict]]:
    """(rows for artifacts left alone, entries to import, blob members by sha256, compressed
    blobs), after every check that needs no blob written: members, index, this checkout's recipes,
    the image archives' names and ids, and the tags already on this machine."""
    blobs = checks.check_members(tar)
    index = checks.check_index(checks.read_index(tar))
    rows, todo = _wanted(index, store)
    missing = {digest for entry in todo for digest in checks.blobs_of(entry)} - blobs.keys()
    if missing:
        raise Refused(f"{len(missing)} blobs its index lists are missing (a partial bundle)")
    for entry in todo:
        if "image" in entry:
            checks.check_image_archive(entry, functools.partial(_small_blob, tar, blobs))
            _refuse_to_move_a_tag(entry["image"])
    return rows, todo, blobs, index["encoded"]


def _sizes(blobs: dict[str, tarfile.TarInfo], encoded: dict[str, dict]) -> dict[str, int]:
    """What each blob is once unpacked: its member's size, or the size a compressed one declares."""
    return {digest: encoded[digest]["size"] if digest in encoded else member.size for digest, member in blobs.items()}


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


def _check_room(todo: list[dict], sizes_of: dict[str, int], root: Path) -> None:
    """What the import writes (the blobs, the files artifacts, the largest image archive it
    rebuilds for docker load) must leave FREE_SPACE_RESERVE free: a bundle that names one blob
    many times cannot fill the disk."""
    sizes = {entry["name"]: sum(sizes_of[digest] for digest in checks.blobs_of(entry)) for entry in todo}
    unique = sum(sizes_of[digest] for digest in {d for entry in todo for d in checks.blobs_of(entry)})
    placed = sum(sizes[entry["name"]] for entry in todo if "files" in entry)
    rebuilt = max((sizes[entry["name"]] for entry in todo if "image" in entry), default=0)
    folder = next(parent for parent in (root, *root.parents) if parent.exists())
    free = shutil.disk_usage(folder).free
    if unique + placed + rebuilt + FREE_SPACE_RESERVE > free:
        raise Refused(f"it would write {(unique + placed + rebuilt) / 1e9:.1f} GB into {root}, which has "
                      f"{free / 1e9:.1f} GB free (an import leaves {FREE_SPACE_RESERVE / 1e9:.1f} GB)")


def _wanted(index: dict, store: KitStore) -> tuple[list[dict], list[dict]]:
    """(rows for what is left alone, entries to import) of a checked index: its kit artifacts, then
    its workload images."""
    planned = {item.recipe.name: item for item in kit.plan()}
    rows, todo = [], []
    for name, entry in sorted(index["artifacts"].items()):
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
    bases = kit_sets.kit_base_identities() if index["workloads"] else {}
    for target, entry in sorted(index["workloads"].items()):
        row = _workload_row(entry)
        if entry["key"] != images.inputs_digest(target, {arg: bases[arg] for arg in images.NEEDS[target]}):
            rows.append({**row, "action": "skipped: built from other sources than this checkout's"})
        elif images.build_inputs(entry["image"]["ref"]) == entry["key"]:
            rows.append({**row, "action": "present"})
        else:
            todo.append(entry)
    return rows, todo


def _workload_row(entry: dict) -> dict:
    return {"name": entry["image"]["ref"], "version": f"inputs {entry['key'][:12]}"}


def _unpack(tar: tarfile.TarFile, wanted: dict[str, tarfile.TarInfo], blob_dir: Path,
            encoded: dict[str, dict]) -> None:
    """Every wanted blob into `blob_dir` (a compressed one decompressed, no larger than it
    declares), each checked against its name; blobs kept from an interrupted import are checked
    again, and whatever else is there (its temporary files) goes."""
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
            stored = tar.extractfile(member)
            content = Gunzipped(stored, encoded[digest]["size"], digest) if digest in encoded else stored
            store_blob(content, blob_dir, expected=digest)


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
        _clear(staging)
        try:
            staging.parent.mkdir(parents=True, exist_ok=True)
            staging.mkdir()
            _place(entry, blob_dir, staging)
            _clear(target)
            os.replace(staging, target)
        except BaseException:
            _clear(staging)
            raise
    return {**record, "path": str(target)}


def _clear(path: Path) -> None:
    """`path` gone, whatever it is: rmtree does not remove a link (and ignores the error), and the
    files placed next would go through it."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


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
                    tar.addfile(tar_member(member["name"], 0, tarfile.DIRTYPE, 0o755))
                elif member.get("type") == "symlink":
                    info = tar_member(member["name"], 0, tarfile.SYMTYPE)
                    info.linkname = member["target"]
                    tar.addfile(info)
                else:
                    blob = blob_dir / member["sha256"]
                    with open(blob, "rb") as content:
                        tar.addfile(tar_member(member["name"], blob.stat().st_size), content)
        archive.seek(0)
        for chunk in docker_client().api.load_image(archive):
            if "error" in chunk:
                raise LabError(f"kit bundle: docker load failed: {chunk['error'].strip()}")

