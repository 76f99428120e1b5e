"""lab.lock: what the first resolution fetched from outside, pinned for every later run.

One entry per upstream artifact (per architecture for downloads): origin, canonical URL or image
reference, sha256 or digest, size. Later runs take their pins from it (a company mirror that
rebuilt an artifact is trusted only through its lock entry) and refuse, in one line, a lab whose
catalog asks for another URL or reference than the one locked. Commit it for reproducible runs;
delete an entry (or the file) to accept a new upstream."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from lab.errors import InputError, LabError

HEADER = ("# wasm-lab lock file: every upstream artifact this lab fetched, with its pin. Written by the\n"
          "# first `lab.up`, verified by every later one. Delete an entry to accept a new upstream.\n")
VERSION = 1


class LockFile:
    def __init__(self, path: Path, entries: dict | None = None):
        self.path = path
        self.entries: dict[str, dict] = dict(entries or {})
        self.changed = False

    @classmethod
    def load(cls, path: Path) -> "LockFile":
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            return cls(path)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise InputError(f"lock: {path} cannot be read ({error.__class__.__name__}); fix or delete it")
        if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("artifacts"), dict):
            raise InputError(f"lock: {path} is not a wasm-lab lock file (version {VERSION}); fix or delete it")
        for key, entry in data["artifacts"].items():
            if not isinstance(entry, dict) or not (entry.get("sha256") or entry.get("digest")):
                raise InputError(f"lock: {path}: {key} has no sha256 or digest; fix or delete that entry")
        return cls(path, data["artifacts"])

    def pin(self, key: str, source: str) -> dict | None:
        """The locked entry for `key`, after checking it locks the same URL or reference."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry.get("source") != source:
            raise LabError(f"lab.lock ({self.path}) locks {key} to {entry.get('source')}, but this lab fetches "
                           f"{source}; delete that entry to accept the change")
        return entry

    def record(self, key: str, entry: dict) -> None:
        if self.entries.get(key) != entry:
            self.entries[key] = entry
            self.changed = True

    def save(self) -> bool:
        """Write the file when something was recorded; return whether it was written."""
        if not self.changed:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = HEADER + yaml.safe_dump({"version": VERSION, "artifacts": dict(sorted(self.entries.items()))},
                                       sort_keys=False)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".lab.lock.")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.path)
        self.changed = False
        return True
