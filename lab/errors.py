"""Errors the command line turns into one clear line and an exit status."""


class LabError(RuntimeError):
    """Something the lab tried failed; the message says what and what to do. Exit status 1."""

    exit_code = 1


class InputError(LabError, ValueError):
    """Bad input from the user: one line naming the field and the allowed values. Exit status 2."""

    exit_code = 2
