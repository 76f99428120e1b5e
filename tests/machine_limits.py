"""The only reasons a test may skip: what this machine lacks, declared here once.

A limit is one of two kinds:

- provided by the project's setup (`provided_by` says what provides it): the Docker engine,
  kind, Debian's docker-registry, a containerd binary and actionlint come from hack/setup-host,
  the offline kit from hack/run-tests (`invoke kit.build`). On a developer's machine a test that
  lacks one skips, naming it; in a STRICT run its absence is a failure of that test.
- a genuine machine limit (`provided_by` is None): nothing this project sets up can change it (no
  Go toolchain to build actionlint with, a server under test whose build only its user can name).
  It skips in every run, naming the limit and its reason.

A run is strict when WASM_LAB_REQUIRE_ALL=1 (hack/run-tests, so `make test` and .ci/run, sets it),
or when CI is set (CI=true) and WASM_LAB_REQUIRE_ALL is not 0.

A test uses `require(name)` (probe the machine, skip or fail) or `lacking(name, detail)` (the
test found the lack itself). Any other skip is turned into a failure by tests/conftest.py, and
the run ends with a table of passed / failed / skipped per test group with each skip's limit.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

REQUIRE_ALL = "WASM_LAB_REQUIRE_ALL"
SKIP_PREFIX = "machine limit"
DECLARED_SKIP = re.compile(r"^(?:Skipped: )?" + SKIP_PREFIX + r" \[(?P<name>[a-z0-9-]+)\]: ")
REQUIRED_MISSING = re.compile(r"required \[(?P<name>[a-z0-9-]+)\] missing: (?P<detail>[^\n]*)")


class MachineStateUnreadable(Exception):
    """Asking the machine for a limit's state failed: that is a failure, never a skip."""


@dataclass(frozen=True)
class Limit:
    name: str
    reason: str                          # what a test cannot do without it
    probe: Callable[[], str | None]      # what this machine lacks, None when it has it
    provided_by: str | None = None       # what provides it; None: a genuine machine limit


def strict() -> bool:
    value = os.environ.get(REQUIRE_ALL)
    if value is not None:
        return value == "1"
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


# --- probes ---------------------------------------------------------------------------------------

def _docker_engine() -> str | None:
    try:
        import docker

        docker.from_env().ping()
    except Exception as error:
        return f"no Docker engine answers ({error.__class__.__name__})"
    return None


def _on_path(binary: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        return None if shutil.which(binary) else f"no `{binary}` on PATH"
    return probe


def actionlint_path() -> str | None:
    # hack/setup-host installs it into the virtualenv, beside this Python
    return shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")


def _actionlint() -> str | None:
    return None if actionlint_path() else "no `actionlint` in the virtualenv or on PATH"


def containerd_version() -> tuple[int, int, int] | None:
    binary = shutil.which("containerd")
    if not binary:
        return None
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=20).stdout
    match = re.search(r"\s+v?(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in match.groups()) if match else None  # type: ignore[return-value]


def _containerd() -> str | None:
    return None if containerd_version() else "no containerd binary on PATH (or its --version is unreadable)"


def _manifest_signature():
    from lab.kit.store import KitStore

    try:
        stat = KitStore().manifest_path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


_kit_seen: dict = {}


def _kit() -> str | None:
    """Whether every kit artifact is built and current. kit.status() checksums the file artifacts,
    so its answer is kept while the manifest file stays the same (a kit cleaned, deleted or
    rewritten mid-run is asked again)."""
    signature = _manifest_signature()
    if _kit_seen.get("signature") != signature or "answer" not in _kit_seen:
        _kit_seen.clear()
        _kit_seen["signature"], _kit_seen["answer"] = signature, _kit_state()
    return _kit_seen["answer"]


def _kit_state() -> str | None:
    from lab import kit
    from lab.kit.store import KitStore

    try:
        rows = kit.status()
    except Exception as error:
        raise MachineStateUnreadable(f"the offline kit's state is unreadable ({KitStore().manifest_path}): "
                                     f"{error.__class__.__name__}: {error}") from error
    not_ready = [f"{row['name']} ({row['state']})" for row in rows if row["state"] != "built"]
    if not not_ready:
        return None
    more = f" and {len(not_ready) - 4} more" if len(not_ready) > 4 else ""
    return f"not complete, {len(not_ready)} of {len(rows)} artifacts not built or stale: " + ", ".join(not_ready[:4]) + more


def _kit_images_unused() -> str | None:
    import docker

    from lab.artifacts import kit_sets
    from lab.kit.store import KitStore

    client, store = docker.from_env(), KitStore()
    ids = set()
    for name in kit_sets.kit_artifacts():
        entry = store.entry(name) or {}
        try:
            ids.add(client.images.get(entry["image"]["ref"]).id)
        except (KeyError, docker.errors.ImageNotFound):
            continue
    users = [c.name for c in client.containers.list(all=True) if c.attrs.get("Image") in ids]
    return f"containers use them: {', '.join(users)}" if users else None


def _httpbin_flavor() -> str | None:
    return None if os.environ.get("HTTPBIN_FLAVOR") else "HTTPBIN_FLAVOR is not set"


def _go() -> str | None:
    return None if shutil.which("go") or actionlint_path() else "no `go` on PATH"


LIMITS = {limit.name: limit for limit in (
    Limit("docker", "needs a Docker engine", _docker_engine, "bash hack/setup-host (starts Debian's dockerd)"),
    Limit("kind", "needs kind", _on_path("kind"), "bash hack/setup-host (kind from Debian)"),
    Limit("kit", "needs the offline kit built and current", _kit, "bash hack/run-tests (invoke kit.build)"),
    Limit("docker-registry", "needs Debian's docker-registry", _on_path("docker-registry"),
          "bash hack/setup-host (apt-get install docker-registry)"),
    Limit("containerd", "needs a containerd binary", _containerd,
          "bash hack/setup-host (Debian's docker.io brings containerd)"),
    Limit("actionlint", "needs actionlint", _actionlint, "bash hack/setup-host (go install, when Go is there)"),
    Limit("kit-images-unused", "wipes the kit's images, which no container may be using",
          _kit_images_unused, "a machine where no container runs from the kit's images (invoke lab.down)"),
    # genuine machine limits: nothing the project sets up changes them
    Limit("go", "actionlint is built with `go install`; this machine has no Go toolchain", _go),
    Limit("httpbin-flavor", "which build the server at HTTPBIN_URL is can only be given as HTTPBIN_FLAVOR",
          _httpbin_flavor),
)}


# --- what tests call ------------------------------------------------------------------------------

def require(name: str) -> None:
    """Return when this machine has `name`; else skip naming the limit (fail when it is the
    setup's to provide and the run is strict). An error while asking is a failure naming it."""
    limit = LIMITS[name]
    try:
        missing = limit.probe()
    except MachineStateUnreadable as error:
        pytest.fail(str(error), pytrace=False)
    if missing is not None:
        lacking(name, missing)


_skips_said: set[str] = set()


def lacking(name: str, detail: str) -> None:
    """The test found this machine lacks limit `name` (`detail`: what exactly): skip or fail."""
    limit = LIMITS[name]
    if limit.provided_by is not None and strict():
        pytest.fail(f"required [{name}] missing: {detail}; {limit.provided_by} provides it "
                    f"(strict run: {REQUIRE_ALL}=1 or CI)", pytrace=False)
    provided = f"; {limit.provided_by} provides it" if limit.provided_by else ""
    reason = f"{SKIP_PREFIX} [{name}]: {limit.reason}: {detail}{provided}"
    _skips_said.add(reason)
    pytest.skip(reason)


def said_here(skip_reason: str) -> bool:
    """Whether this skip came through `lacking`: a skip that only words itself like one (a
    pytest.skip written with the same prefix) did not."""
    return skip_reason.removeprefix("Skipped: ") in _skips_said


def required_missing(failure: str) -> tuple[str, str] | None:
    """(limit, what was missing) of a failure that `lacking` made in a strict run, else None."""
    match = REQUIRED_MISSING.search(failure)
    return (match["name"], match["detail"]) if match else None


def declared_limit(skip_reason: str) -> str | None:
    """The limit a skip's reason names, None for a skip that did not come through here."""
    match = DECLARED_SKIP.match(skip_reason)
    return match["name"] if match and match["name"] in LIMITS else None
