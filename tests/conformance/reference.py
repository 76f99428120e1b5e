"""The reference httpbin (the Flask original, PyPI `httpbin`, served by gunicorn) as the external
target of the conformance suite, and the reviewed list of where the lab's spec differs from it on
purpose (reference_differences.yaml, explained in docs/conformance.md).

A difference is either a convention, spec-wide (a problem line of `lab.httpbin_cases.check` that
matches its pattern is not held against the reference), or one case or check that is expected to
fail on the reference. Everything not listed must agree; a listed one that starts agreeing fails."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from lab import httpbin_cases as hc
from lab.errors import LabError
from lab.waits import wait_until

DIFFERENCES_FILE = Path(__file__).with_name("reference_differences.yaml")
# gthread: a slow or idle client holds one thread, not the server (the suite sends both);
# no request-line limit of gunicorn's own, so a long query reaches the app.
GUNICORN_OPTIONS = ("--worker-class", "gthread", "--workers", "1", "--threads", "64", "--limit-request-line", "0")


@dataclass(frozen=True)
class Convention:
    id: str
    problem: re.Pattern
    reason: str


@dataclass(frozen=True)
class Differences:
    conventions: tuple[Convention, ...]
    cases: dict[str, str]    # case name (lab/httpbin_cases.py) -> why it differs
    checks: dict[str, str]   # test function of test_httpbin.py -> why it differs

    def reason(self, test_id: str) -> str | None:
        return self.cases.get(test_id) or self.checks.get(test_id)

    def explained_by(self, problem: str) -> Convention | None:
        return next((c for c in self.conventions if c.problem.fullmatch(problem)), None)

    def unexplained(self, result: hc.Result) -> list[str]:
        """The problems of a result on the reference that no convention explains."""
        return [p for p in result.problems if self.explained_by(p) is None]


def load(path: Path = DIFFERENCES_FILE) -> Differences:
    data = yaml.safe_load(path.read_text())
    return Differences(
        conventions=tuple(Convention(c["id"], re.compile(c["problem"]), c["reason"]) for c in data["conventions"]),
        cases={c["id"]: c["reason"] for c in data["cases"]},
        checks={c["id"]: c["reason"] for c in data["checks"]})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ReferenceServer:
    """gunicorn serving `httpbin:app` on 127.0.0.1 (a free port); the cases run against it once."""

    def __init__(self, log: Path):
        port = free_port()
        self.url, self.log = f"http://127.0.0.1:{port}", log
        with open(log, "wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "gunicorn", *GUNICORN_OPTIONS,
                                             "--bind", f"127.0.0.1:{port}", "httpbin:app"],
                                            stdout=out, stderr=subprocess.STDOUT)
        self._results: list[hc.Result] | None = None

    def wait_answering(self, timeout: float = 60) -> None:
        def answering() -> bool:
            if self.process.poll() is not None:
                raise LabError(f"gunicorn exited {self.process.returncode}: {self.log.read_text()[-2000:]}")
            return requests.get(self.url + "/get", timeout=2).status_code == 200

        wait_until(answering, timeout, f"the reference httpbin never answered on {self.url}")

    def results(self) -> list[hc.Result]:
        if self._results is None:
            self._results = hc.run_cases(self.url)
        return self._results

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
