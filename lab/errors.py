"""Errors the command line turns into one clear line and an exit status."""
import os
from pathlib import Path


class LabError(RuntimeError):
    """Something the lab tried failed; the message says what and what to do. Exit status 1."""

    exit_code = 1


class InputError(LabError, ValueError):
    """Bad input from the user: one line naming the field and the allowed values. Exit status 2."""

    exit_code = 2


def folder_from_env(variable: str, default: Path) -> Path:
    """A folder named by an environment variable, else `default`; set but empty is bad input
    (it would make the current folder the lab's state or kit root)."""
    value = os.environ.get(variable)
    if value is None:
        return default
    if not value.strip():
        raise InputError(f"{variable}: empty; unset it or name a folder")
    return Path(value).expanduser()
