"""Running programs: argv lists only (never a shell string), output to a log, progress on screen."""
from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

# A table piped into a file or a CI log is read whole, so without a terminal (and without
# COLUMNS) results are as wide as their widest line instead of rich's 80 columns.
UNBOUNDED_WIDTH = 10_000


def results_console(file=None) -> Console:
    out = Console(highlight=False, file=file)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = UNBOUNDED_WIDTH
    return out


console = Console(stderr=True, highlight=False)  # progress and messages
stdout = results_console()  # results: tables a user may redirect


PROGRESS_EVERY = 30.0  # seconds between progress lines when there is no terminal (CI logs)


class Progress:
    """What a long step shows: its label, the time it has taken and its latest output line."""

    def __init__(self, label: str, status=None):
        self.label, self.status, self.last, self.start = label, status, "", time.monotonic()

    @property
    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        return f"{self.label}: {elapsed:.0f}s" + (f", last: {self.last[:100]}" if self.last else "")

    def update(self, line: str) -> None:
        self.last = line
        if self.status is not None:
            self.status.update(f"{self.label} [dim]{time.monotonic() - self.start:5.0f}s  {line[:100]}[/dim]")


@contextmanager
def progress(label: str):
    """A spinner with the latest line on a terminal; without one (a CI log), a line when the step
    starts and one every PROGRESS_EVERY seconds, so a long build never looks stuck."""
    if console.is_terminal:
        with console.status(label) as status:
            yield Progress(label, status)
        return
    shown, stop = Progress(label), threading.Event()
    console.print(f"{label} …", soft_wrap=True)

    def tick():
        while not stop.wait(PROGRESS_EVERY):
            console.print(shown.line, soft_wrap=True, markup=False)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield shown
    finally:
        stop.set()
        ticker.join()


class CommandFailed(RuntimeError):
    def __init__(self, argv, returncode, tail, log=None):
        self.argv, self.returncode, self.tail, self.log = list(argv), returncode, tail, log
        where = f" (full log: {log})" if log else ""
        last = "\n".join(tail[-15:])
        super().__init__(f"{argv[0]} exited {returncode}{where}\n{last}")


def run(argv, *, check=True, capture=True, input=None, env=None, cwd=None, timeout=None):
    """Run a short command and return the CompletedProcess (text mode)."""
    result = subprocess.run(
        [str(a) for a in argv], input=input, capture_output=capture, text=True, env=env, cwd=cwd, timeout=timeout
    )
    if check and result.returncode != 0:
        tail = ((result.stdout or "") + (result.stderr or "")).splitlines()
        raise CommandFailed(argv, result.returncode, tail)
    return result


_long_running: set[subprocess.Popen] = set()   # run_logged's commands while they run, from any thread
_long_running_lock = threading.Lock()


def terminate_long_running() -> int:
    """Ask every command run_logged is running to end (an interrupt reached the main thread while
    another thread waits on one); returns how many were asked. Each thread then sees its command end."""
    with _long_running_lock:
        running = list(_long_running)
    for process in running:
        process.terminate()
    return len(running)


def run_logged(argv, *, label: str, log: Path, env=None, cwd=None) -> float:
    """Run a long command, its output appended to `log`, showing `label` and its latest line.

    Returns the elapsed seconds; raises CommandFailed with the last lines on failure.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    tail: deque[str] = deque(maxlen=40)
    start = time.monotonic()
    # 0600: a command's output may hold what its user alone should read (a registry login, a token)
    with os.fdopen(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a") as sink, progress(label) as shown:
        sink.write(f"$ {' '.join(str(a) for a in argv)}\n")
        sink.flush()
        process = subprocess.Popen(
            [str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace", env=env, cwd=cwd,
        )
        with _long_running_lock:
            _long_running.add(process)
        try:
            for line in process.stdout or ():
                sink.write(line)
                line = line.rstrip()
                if line:
                    tail.append(line)
                    shown.update(line)
            process.wait()
        except BaseException:
            process.terminate()
            process.wait()
            raise
        finally:
            with _long_running_lock:
                _long_running.discard(process)
    if process.returncode != 0:
        raise CommandFailed(argv, process.returncode, list(tail), log)
    return time.monotonic() - start
