"""Helpers shared by the invoke collections: error reporting, sizes, tables."""
import atexit
import contextlib
import os
import sys
import traceback

from invoke.exceptions import Exit

from lab import pipeline, redact
from lab.errors import InputError, LabError, check_environment, docker_not_answering
from lab.kit.recipes import RecipeError
from lab.kit.store import ChecksumMismatch
from lab.proc import CommandFailed, stdout
from lab.spec import Offline
from lab.state import state_root, write_private

INTERRUPTED = "interrupted; run the same command again to finish"


@contextlib.contextmanager
def fail_on_errors():
    """Every failure as one line and an exit status: 2 bad input, 1 failure, 130 interrupted.
    Anything longer (a command's output, an unexpected error's trace) goes to a file the line
    names; WASM_LAB_DEBUG=1 lets an unexpected error through with its trace."""
    try:
        check_environment()
        yield
    except Exit:
        raise
    except (InputError, RecipeError) as error:
        raise Exit(f"error: {one_line(error)}", code=2)
    except (LabError, CommandFailed, ChecksumMismatch, KeyError) as error:
        message = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
        raise Exit(f"error: {docker_not_answering(error) or one_line(message, error)}", code=1)
    except KeyboardInterrupt:
        if pipeline.left_running():
            end_now(INTERRUPTED, 130)
        raise Exit(INTERRUPTED, code=130)
    except Exception as error:
        if os.environ.get("WASM_LAB_DEBUG"):
            raise
        docker_down = docker_not_answering(error)
        if docker_down:
            raise Exit(f"error: {docker_down}", code=1)
        raise Exit(f"error: {one_line(f'{error.__class__.__name__}: {error}', error, unexpected=True)}", code=1)


def end_now(message: str, code: int) -> None:
    """Ends the process without finalizing the interpreter: a thread an interrupted Together left
    running that wakes (its HTTP answer arriving) while the interpreter finalizes makes CPython
    abort (exit -6, seen on 3.11). The exit handlers run first, as at a normal exit, and the
    message is printed where invoke prints an Exit's."""
    print(message, file=sys.stderr)
    atexit._run_exitfuncs()  # logging's flush, the existing-cluster installer pods' removal
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def one_line(message, error: BaseException | None = None, unexpected: bool = False) -> str:
    """The first line of a message; the whole of it (and the trace of an unexpected error) goes
    to last-error.log in the state folder, which the line names."""
    text = str(message).strip()
    first = text.splitlines()[0] if text else "(no message)"
    if not (unexpected or "\n" in text):
        return first
    try:
        path = state_root() / "last-error.log"
        details = "".join(traceback.format_exception(error)) if error is not None else text
        write_private(path, redact.text(text + "\n\n" + details, path.name)[0])
    except (OSError, InputError):
        return first
    return f"{first} (details: {path})"


def mode_override(offline: bool, online: bool) -> Offline | None:
    """--offline / --online as the spec's `offline` setting (None: lab.yaml or the default decides)."""
    if offline and online:
        raise InputError("offline: --offline and --online exclude each other; give one")
    return Offline.KIT if offline else Offline.UPSTREAM if online else None


def human_bytes(size):
    if size is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000


def print_table(table):
    stdout.print(table)
