"""The kit directory: manifest.json, artifact outputs, build caches and logs (docs/kit.md)."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path

from lab.errors import LabError, folder_from_env

MANIFEST_SCHEMA = 1
DEFAULT_KIT_DIR = Path.home() / ".cache" / "wasm-lab" / "kit"


def kit_dir() -> Path:
    return folder_from_env("WASM_LAB_KIT_DIR", DEFAULT_KIT_DIR)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_tree(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): sha256_file(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


class ChecksumMismatch(RuntimeError):
    """A kit file no longer matches the checksum recorded when it was built."""


class KitStore:
    def __init__(self, root: Path | None = None):
        self.root = root or kit_dir()

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def artifact_dir(self, name: str, key: str) -> Path:
        return self.root / "artifacts" / name / key[:16]

    def cache_dir(self, name: str) -> Path:
        return self.root / "cache" / name

    def log_path(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    @contextlib.contextmanager
    def lock(self, name: str, on_wait=None):
        """Hold an exclusive lock between processes (two kit builds, or lab.up beside kit.build)."""
        path = self.root / "locks" / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait:
                    on_wait()
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def load(self) -> dict:
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            return {"schema": MANIFEST_SCHEMA, "artifacts": {}}
        except (ValueError, OSError) as error:  # not JSON, not text, not readable
            raise self._unusable(f"{error.__class__.__name__}: {error}") from error
        if not isinstance(manifest, dict) or not isinstance(manifest.get("artifacts"), dict):
            raise self._unusable("not an object with an `artifacts` object")
        if manifest.get("schema") != MANIFEST_SCHEMA:
            raise self._unusable(f"schema {manifest.get('schema')!r}, expected {MANIFEST_SCHEMA}")
        return manifest

    def _unusable(self, why: str) -> LabError:
        return LabError(f"kit manifest {self.manifest_path} is unusable ({why}); move it away and run "
                        "invoke kit.build, which rebuilds what no manifest vouches for")

    def entry(self, name: str) -> dict | None:
        return self.load()["artifacts"].get(name)

    def record(self, entry: dict) -> None:
        with self.lock("manifest"):
            manifest = self.load()
            manifest["artifacts"][entry["name"]] = entry
            self._write(manifest)

    def forget(self, name: str) -> None:
        with self.lock("manifest"):
            manifest = self.load()
            if manifest["artifacts"].pop(name, None) is not None:
                self._write(manifest)

    def _write(self, manifest: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".manifest.")
        with os.fdopen(fd, "w") as f:
            json.dump(manifest, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.manifest_path)

    def verified_path(self, name: str) -> Path:
        """The output directory of a files artifact, after checking every recorded checksum."""
        entry = self.entry(name)
        if entry is None or "path" not in entry:
            raise KeyError(f"kit artifact {name!r} is not built (run: invoke kit.build --only {name})")
        root = Path(entry["path"])
        for relative, expected in entry["files"].items():
            path = root / relative
            if not path.is_file():
                raise ChecksumMismatch(f"kit artifact {name}: {relative} is missing")
            actual = sha256_file(path)
            if actual != expected:
                raise ChecksumMismatch(f"kit artifact {name}: {relative} has sha256 {actual}, manifest says {expected}")
        return root
