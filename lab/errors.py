"""Errors the command line turns into one clear line and an exit status."""
import os
import re
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
    folder = Path(value).expanduser()
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{variable}: {value!r} is not a folder; unset it or name a folder")
    return folder


FOLDER_VARIABLES = ("WASM_LAB_STATE_DIR", "WASM_LAB_KIT_DIR", "WASM_LAB_DOWNLOAD_DIR")


def check_environment() -> None:
    """The lab's own environment variables, checked before a command does anything: a value set
    but unusable is bad input, said in one line (unset ones take their defaults)."""
    for variable in FOLDER_VARIABLES:
        folder_from_env(variable, Path.home())
    mirror = os.environ.get("WASM_LAB_DEBIAN_MIRROR")
    if mirror is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", mirror):
        raise InputError(f"WASM_LAB_DEBIAN_MIRROR: {mirror!r} is not an http(s) URL like "
                         "http://deb.debian.org/debian; unset it or name your Debian mirror")
    certificates = os.environ.get("WASM_LAB_EXTRA_CA_CERTS")
    if certificates is not None and not Path(certificates).expanduser().is_file():
        raise InputError(f"WASM_LAB_EXTRA_CA_CERTS: {certificates!r} is not a file; unset it or name a PEM file")


DOCKER_SETUP = "start Docker, or run: bash hack/setup-host"
DOCKER_REFUSES = "refuses this user: add it to the docker group (then log in again), or run as root"
DOCKER_REASONS = ((PermissionError, None), (FileNotFoundError, "no socket there"),
                  (ConnectionRefusedError, "connection refused"))
# what the docker CLI (which kind and minikube run) prints then
DOCKER_CLI_LINES = {"permission denied while trying to connect to the Docker daemon": None,
                    "Cannot connect to the Docker daemon": "the docker CLI cannot connect"}


def docker_not_answering(error: BaseException) -> str | None:
    """One line in words, with the fix, for an error that means no Docker engine answers (the
    docker library's own text names neither the cause nor the fix); None for any other error."""
    import docker.errors
    import requests

    from lab.proc import CommandFailed

    if isinstance(error, CommandFailed):
        said = "\n".join(error.tail)
        found = [reason for line, reason in DOCKER_CLI_LINES.items() if line in said]
        return _docker_line(found[0]) if found else None
    chain: list[BaseException] = []
    link: BaseException | None = error
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__
    through_docker = (isinstance(error, docker.errors.DockerException) and not isinstance(error, docker.errors.APIError)) \
        or (isinstance(error, requests.ConnectionError) and str(getattr(error.request, "url", "")).startswith("http+docker"))
    if not (through_docker and any(isinstance(e, (requests.ConnectionError, OSError)) for e in chain)):
        return None
    found = [reason for e in chain for kind, reason in DOCKER_REASONS if isinstance(e, kind)]
    return _docker_line(found[0] if found else "no answer")


def _docker_line(reason: str | None) -> str:
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if reason is None:
        return f"Docker at {where} {DOCKER_REFUSES}"
    return f"no Docker engine answers at {where} ({reason}); {DOCKER_SETUP}"
