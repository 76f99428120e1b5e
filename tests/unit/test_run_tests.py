"""hack/run-tests, the runner of `make test` and CI, with a fake Python (a shell script that
records how it was called and exits as told) in place of the project's: the kit is built before
pytest runs, a failed kit build stops the run before any test, pytest runs strict, and "no tests
ran" is a failure."""
import os
import subprocess
from pathlib import Path

import pytest

import lab

RUN_TESTS = Path(lab.__file__).resolve().parents[1] / "hack" / "run-tests"
FAKE_PYTHON = """#!/bin/sh
echo "REQUIRE_ALL=$WASM_LAB_REQUIRE_ALL $*" >> "$FAKE_LOG"
case "$*" in
  "-m invoke kit.build") exit "$FAKE_KIT_STATUS" ;;
  *) exit "$FAKE_PYTEST_STATUS" ;;
esac
"""


def run_tests(tmp_path, kit_status=0, pytest_status=0, *args):
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    log = tmp_path / "calls"
    env = {**os.environ, "WASM_LAB_PYTHON": str(fake), "FAKE_LOG": str(log),
           "FAKE_KIT_STATUS": str(kit_status), "FAKE_PYTEST_STATUS": str(pytest_status)}
    env.pop("WASM_LAB_REQUIRE_ALL", None)
    done = subprocess.run(["bash", str(RUN_TESTS), *args], env=env, capture_output=True, text=True, timeout=60)
    return done, log.read_text().splitlines() if log.exists() else []


def test_the_kit_is_built_then_pytest_runs_strict_with_the_arguments(tmp_path):
    done, calls = run_tests(tmp_path, 0, 0, "-x", "tests/unit")
    assert done.returncode == 0, done.stderr
    assert calls == ["REQUIRE_ALL=1 -m invoke kit.build", "REQUIRE_ALL=1 -m pytest -x tests/unit"]


def test_a_failed_kit_build_stops_the_run_before_any_test(tmp_path):
    done, calls = run_tests(tmp_path, 1, 0)
    assert done.returncode == 1
    assert calls == ["REQUIRE_ALL=1 -m invoke kit.build"]


@pytest.mark.parametrize("pytest_status, expected", [(1, 1), (5, 1), (2, 2)])
def test_failures_and_no_tests_at_all_fail_the_run(tmp_path, pytest_status, expected):
    done, _ = run_tests(tmp_path, 0, pytest_status)
    assert done.returncode == expected
    assert ("collected no tests" in done.stderr) is (pytest_status == 5)
