"""This machine as the artifacts see it: its architecture, the kind release installed here, and
release versions compared."""
from __future__ import annotations

import platform
import re
import shutil

from lab.errors import InputError
from lab.proc import run

ARCHES = ("x86_64", "aarch64")
ARCH_ALIASES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def host_arch() -> str:
    machine = platform.machine()
    if machine not in ARCH_ALIASES:
        raise InputError(f"architecture: {machine} is not supported; wasm-lab runs on {' and '.join(ARCHES)}")
    return ARCH_ALIASES[machine]


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version)[:3])


def installed_kind_version() -> str | None:
    binary = shutil.which("kind")
    if binary is None:
        return None
    found = re.search(r"v\d+\.\d+\.\d+", run([binary, "version"]).stdout)
    return found.group(0) if found else None
