"""Helpers shared by the invoke collections: error reporting, sizes, tables."""
import contextlib

from invoke.exceptions import Exit

from lab.errors import InputError, LabError
from lab.kit.recipes import RecipeError
from lab.kit.store import ChecksumMismatch
from lab.proc import CommandFailed, stdout


@contextlib.contextmanager
def fail_on_errors():
    """Turn the lab's known failures into one red line and the right exit status."""
    try:
        yield
    except (InputError, RecipeError) as error:
        raise Exit(f"error: {error}", code=2)
    except (LabError, CommandFailed, ChecksumMismatch, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        raise Exit(f"error: {message}", code=1)


def mode_override(offline: bool, online: bool) -> str | None:
    """--offline / --online as the spec's `offline` setting (None: lab.yaml or the default decides)."""
    if offline and online:
        raise InputError("offline: --offline and --online exclude each other; give one")
    return "true" if offline else "false" if online else None


def human_bytes(size):
    if size is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000


def print_table(table):
    stdout.print(table)
