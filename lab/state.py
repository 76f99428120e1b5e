"""What the lab remembers between runs, per lab name: kubeconfig, what it created, last results.

Lives outside the repo in $WASM_LAB_STATE_DIR (default ~/.local/state/wasm-lab/<name>), so a
re-run resumes and `lab.down` removes exactly what the lab created."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from lab.errors import LabError, folder_from_env


def state_root() -> Path:
    return folder_from_env("WASM_LAB_STATE_DIR", Path.home() / ".local" / "state" / "wasm-lab")


class State:
    def __init__(self, name: str, root: Path | None = None):
        self.dir = (root or state_root()) / name
        self.path = self.dir / "state.json"
        try:
            self.data = json.loads(self.path.read_text()) if self.path.exists() else {}
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise LabError(f"state: {self.path} cannot be read ({error.__class__.__name__}); move it away to start "
                           "afresh (what it recorded will then not be removed by lab.down)")
        if not isinstance(self.data, dict):
            raise LabError(f"state: {self.path} is not a wasm-lab state file; move it away to start afresh")

    def get(self, key, default=None):
        return self.data.get(key, default)

    def set(self, key, value) -> None:
        self.data[key] = value
        self.save()

    def add(self, key, item) -> None:
        """Remember one more created thing under `key` (a sorted list without duplicates)."""
        items = set(self.data.get(key, []))
        items.add(item)
        self.set(key, sorted(items))

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".state.")
        with os.fdopen(fd, "w") as f:
            json.dump(self.data, f, indent=2, sort_keys=True)
        os.replace(tmp, self.path)

    def others(self) -> list["State"]:
        """The states of the other labs kept beside this one."""
        root = self.dir.parent
        if not root.is_dir():
            return []
        return [State(d.name, root) for d in sorted(root.iterdir())
                if d != self.dir and (d / "state.json").is_file()]

    def forget(self) -> None:
        if self.path.exists():
            self.path.unlink()
        self.data = {}
