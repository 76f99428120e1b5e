"""What the lab remembers between runs, per lab name: kubeconfig, what it created, last results.

Lives outside the repo in $WASM_LAB_STATE_DIR (default ~/.local/state/wasm-lab/<name>), so a
re-run resumes and `lab.down` removes exactly what the lab created."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from pathlib import Path

from tenacity import RetryError, retry, retry_if_exception_type, stop_after_delay, wait_fixed

from lab.errors import LabError, folder_from_env
from lab.proc import console


def state_root() -> Path:
    return folder_from_env("WASM_LAB_STATE_DIR", Path.home() / ".local" / "state" / "wasm-lab")


def private_folder(path: Path) -> Path:
    """`path`, made when missing, with itself and every folder between it and the state root
    (the root too) open to their owner only (0700): kubeconfigs, logs and diagnostics live there."""
    root = state_root()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for folder in (path, *path.parents):
        if folder != path and not folder.is_relative_to(root):
            break
        folder.chmod(0o700)
    return path


def write_private(path: Path, content: str) -> None:
    """A file only its owner can read (0600), replaced atomically, in a private folder."""
    private_folder(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(content)
    os.replace(tmp, path)


LOCK_WAIT_SECONDS = 3 * 3600
# Within one process (actions side by side, lab/pipeline.py's Together) a change is read, changed
# and written by one thread at a time; across processes State.lock keeps one run per lab.
_CHANGES = threading.RLock()


class UndeclaredRecord(LabError):
    """An action wrote a state key it does not declare (`records`, `notes`): a bug, since lab.down
    reads the declarations to know what to take back and whether that needs the cluster."""


class State:
    """Every change re-reads the file first and writes it atomically (0600, in a 0700 folder), so
    two State objects of one lab never overwrite each other with stale copies."""

    def __init__(self, name: str, root: Path | None = None):
        self.dir = (root or state_root()) / name
        self.path = self.dir / "state.json"
        self.data = self._read()
        # per thread (actions side by side each run in one): the action running and the keys it declares
        self._writing = threading.local()
        self._lock_released = False  # once a lock() of this State ended, until the next

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text()) if self.path.exists() else {}
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise LabError(f"state: {self.path} cannot be read ({error.__class__.__name__}); move it away to start "
                           "afresh (what it recorded will then not be removed by lab.down)")
        if not isinstance(data, dict):
            raise LabError(f"state: {self.path} is not a wasm-lab state file; move it away to start afresh")
        return data

    def get(self, key, default=None):
        return self.data.get(key, default)

    def set(self, key, value) -> None:
        writer = self._writer
        if writer is not None and key not in writer[1]:
            raise UndeclaredRecord(f"action {writer[0]} wrote state key {key!r}, which it does not declare "
                                   f"(it declares {', '.join(writer[1]) or 'none'})")
        with _CHANGES:
            if self._lock_released:
                # a thread of an interrupted step (lab/pipeline.py's Together) outliving its run: it
                # must not record, and so must not make, anything once another run may hold the lab
                raise LabError(f"state: lab {self.dir.name}'s run has ended; {key!r} not written")
            self.data = {**self._read(), key: value}
            self.save()

    @property
    def _writer(self) -> tuple[str, tuple[str, ...]] | None:
        return getattr(self._writing, "action", None)

    @contextlib.contextmanager
    def declared(self, action):
        """While `action` runs (or undoes), it may write only the keys it declares: `records`, what
        its undo takes back, and `notes`, what later runs read."""
        outer, self._writing.action = self._writer, (action.name, (*action.records, *action.notes))
        try:
            yield
        finally:
            self._writing.action = outer

    def add(self, key, item) -> None:
        """Remember one more created thing under `key` (a list in the order things were made,
        without duplicates, so undoing can go newest first)."""
        with _CHANGES:
            items = list(self._read().get(key, []))
            if item not in items:
                self.set(key, items + [item])

    def put(self, key, name, value) -> None:
        """Set one entry of the mapping under `key`, the others kept."""
        with _CHANGES:
            self.set(key, {**self._read().get(key, {}), name: value})

    def remove(self, key, item) -> None:
        with _CHANGES:
            items = [i for i in self._read().get(key, []) if i != item]
            self.set(key, items)

    @contextlib.contextmanager
    def lock(self, what: str):
        """One mutating run per lab name at a time, across processes; a second one waits, saying
        which process holds the lab."""
        root = private_folder(self.dir.parent)
        path = root / f".{self.dir.name}.lock"
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                console.print(f"lab {self.dir.name} is busy ({holder}); waiting for it to finish", soft_wrap=True)

                @retry(stop=stop_after_delay(LOCK_WAIT_SECONDS), wait=wait_fixed(1),
                       retry=retry_if_exception_type(BlockingIOError))
                def acquire():
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)

                try:
                    acquire()
                except RetryError:
                    raise LabError(f"lab {self.dir.name} was still busy ({holder}) after {LOCK_WAIT_SECONDS}s")
            handle.seek(0)
            handle.truncate()
            handle.write(f"{what}, pid {os.getpid()}")
            handle.flush()
            self.data = self._read()  # what the run before this one left
            self._lock_released = False
            try:
                yield
            finally:
                with _CHANGES:  # a write under way ends first; none starts after
                    self._lock_released = True
                handle.seek(0)
                handle.truncate()

    def save(self) -> None:
        write_private(self.path, json.dumps(self.data, indent=2, sort_keys=True))

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
