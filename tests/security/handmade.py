"""Hand-made kit bundles for the attacks of tests/security, and what every refusal must leave.

Each test gets recipes of its own (a files recipe `tool`, an image recipe `sectest-tiny`), a kit
folder and a state folder under its tmp_path, so nothing outside a folder the test owns can be
written without the snapshot noticing."""
import hashlib
import io
import json
import os
import re
import tarfile
import threading
from pathlib import Path

import pytest

from lab import kit
from lab.errors import LabError
from lab.kit import bundle_checks as checks
from lab.kit.bundle import layout
from lab.kit.store import KitStore
from tests.unit.test_kit_recipes import write_recipe

IMAGE_RECIPE = "sectest-tiny"
IMAGE_REF = f"wasm-lab-kit/{IMAGE_RECIPE}:v1.2.3"
USER_REF = "wasmlab-sectest/user:mine"  # stands for a user's own image; made and removed by the tests


@pytest.fixture
def attendee(recipe_root, tmp_path, monkeypatch):
    """The kit folder of a laptop (its own state folder too), with this checkout's recipes `tool`
    (files) and `sectest-tiny` (image)."""
    write_recipe(recipe_root, "tool", "name: tool\nkind: files\nversion: 'v{tool}'\nversions: [tool]\nrun: [true]\n")
    write_recipe(recipe_root, IMAGE_RECIPE, f"name: {IMAGE_RECIPE}\nkind: image\nversion: 'v{{tool}}'\n"
                 "versions: [tool]\nrun: [true]\n")
    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path / "state"))
    return KitStore(tmp_path / "kit")


def key_of(name: str) -> str:
    return {planned.recipe.name: planned.key for planned in kit.plan()}[name]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_entry(files: dict[str, bytes], name: str = "tool", **fields) -> tuple[dict, dict[str, bytes]]:
    """(the index entry of a files artifact holding `files`, its blobs by sha256)."""
    entry = {"name": name, "kind": "files", "version": "v1.2.3", "key": key_of("tool"),
             "files": {path: digest(data) for path, data in files.items()}, "executables": sorted(files)}
    entry.update(fields)
    return entry, {digest(data): data for data in files.values()}


def index_of(*entries: dict, name_as=None, purpose="build", workloads=None) -> dict:
    index = {"schema": checks.SCHEMA, "created_at": "2026-12-01T00:00:00+00:00", "for": purpose,
             "artifacts": {(name_as or entry["name"]): entry for entry in entries}}
    if workloads is not None:
        index["workloads"] = workloads
    return index


def member(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, **fields) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode, info.mtime = size, kind, 0o644, 0
    for field, value in fields.items():
        setattr(info, field, value)
    return info


def write_bundle(path: Path, index, blobs: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> Path:
    """A bundle as kit.export lays it out (index first, then blobs), `extra` members after them,
    and its FILE.sha256: only what the attack changes differs from a real one."""
    data = index if isinstance(index, bytes) else json.dumps(index).encode()
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(member(checks.INDEX, len(data)), io.BytesIO(data))
        for hex_digest, content in blobs.items():
            tar.addfile(member(f"{checks.BLOBS}/{hex_digest}", len(content)), io.BytesIO(content))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"\0" * info.size) if info.isreg() else None)
    seal(path)
    return path


def seal(path: Path) -> str:
    """Write FILE.sha256 for the bundle as it is now (the attacker controls both)."""
    hex_digest = digest(path.read_bytes())
    layout.sidecar(path).write_text(f"{hex_digest}  {path.name}\n")
    return hex_digest


KIT_OWN = re.compile(r"kit2?(/locks|/locks/import\.lock|/imports)?")  # an import's lock, its empty folder


def snapshot(root: Path) -> dict[str, int]:
    """Every path under `root` with its size, but for a kit's import lock (taken before an import
    reads a byte) and its imports folder (what is in it is listed)."""
    found = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            if not KIT_OWN.fullmatch(relative):
                found[relative] = 0 if path.is_dir() else path.lstat().st_size
    return found


def refused_in_one_line(call, pattern: str) -> str:
    """Run an import that must be refused; its message is one line matching `pattern`."""
    with pytest.raises(LabError) as raised:
        call()
    message = str(raised.value)
    assert "\n" not in message and "\x1b" not in message, message
    assert re.search(pattern, message), message
    return message


def assert_refused_and_nothing_written(call, pattern: str, root: Path) -> str:
    before = snapshot(root)
    message = refused_in_one_line(call, pattern)
    assert snapshot(root) == before
    return message


class Serving:
    """An HTTP server of the test's own on 127.0.0.1, served from a thread until the test ends."""

    def __init__(self, httpd):
        self.httpd = httpd
        self.thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        self.thread.start()
        self.address = f"http://127.0.0.1:{httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
