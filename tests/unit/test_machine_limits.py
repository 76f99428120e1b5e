"""The rule on skips (tests/machine_limits.py, tests/conftest.py): a test skips only for a declared
limit, a strict run fails where the setup should have provided it, an error while asking is a
failure, any other skip fails, and the run ends with a table per test group. The suite's own
hooks run for real in a pytest of their own over small test files; the kit's state is faked
where a real kit would take half an hour to build (said at each fake)."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

import lab
from lab import kit
from lab.kit.store import ChecksumMismatch
from tests import conftest, machine_limits
from tests.machine_limits import LIMITS, MachineStateUnreadable, declared_limit, lacking, require

REPO = Path(lab.__file__).resolve().parents[1]
SKIP, FAIL = pytest.skip.Exception, pytest.fail.Exception


@pytest.fixture
def relaxed(monkeypatch):
    """A developer's run: neither CI nor WASM_LAB_REQUIRE_ALL."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv(machine_limits.REQUIRE_ALL, raising=False)


@pytest.fixture
def strict_run(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv(machine_limits.REQUIRE_ALL, "1")


def fake_limit(monkeypatch, probe, provided_by):
    monkeypatch.setitem(LIMITS, "fake", machine_limits.Limit("fake", "needs the fake thing", probe, provided_by))


@pytest.mark.parametrize("env, expected", [
    ({}, False), ({"CI": "true"}, True), ({"CI": "false"}, False), ({"WASM_LAB_REQUIRE_ALL": "1"}, True),
    ({"CI": "true", "WASM_LAB_REQUIRE_ALL": "0"}, False)])
def test_a_run_is_strict_under_require_all_or_ci(monkeypatch, env, expected):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv(machine_limits.REQUIRE_ALL, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert machine_limits.strict() is expected


def test_what_the_setup_provides_skips_a_developer_and_fails_a_strict_run(monkeypatch, relaxed):
    fake_limit(monkeypatch, lambda: "not here", "bash hack/setup-host")
    with pytest.raises(SKIP, match=r"^machine limit \[fake\]: needs the fake thing: not here; bash hack/setup-host"):
        require("fake")
    monkeypatch.setenv(machine_limits.REQUIRE_ALL, "1")
    with pytest.raises(FAIL, match=r"required \[fake\] missing: not here; bash hack/setup-host provides it"):
        require("fake")


def test_a_genuine_machine_limit_skips_even_a_strict_run(monkeypatch, strict_run):
    fake_limit(monkeypatch, lambda: "too old", None)
    with pytest.raises(SKIP) as skipped:
        require("fake")
    assert declared_limit(str(skipped.value.msg)) == "fake"


def test_a_limit_the_machine_has_passes(monkeypatch, strict_run):
    fake_limit(monkeypatch, lambda: None, "bash hack/setup-host")
    require("fake")


def test_an_error_while_asking_the_machine_is_a_failure_never_a_skip(monkeypatch, relaxed):
    def broken():
        raise MachineStateUnreadable("asking broke: OSError: no such file")

    fake_limit(monkeypatch, broken, None)
    with pytest.raises(FAIL, match="asking broke: OSError"):
        require("fake")


def test_only_reasons_naming_a_known_limit_are_declared():
    assert declared_limit("Skipped: machine limit [docker]: needs a Docker engine: x") == "docker"
    assert declared_limit("machine limit [no-such-limit]: x") is None
    assert declared_limit("no Docker engine answers; run: bash hack/setup-host") is None
    with pytest.raises(KeyError):
        lacking("no-such-limit", "x")


def test_every_limit_has_a_reason_and_a_probe():
    for limit in LIMITS.values():
        assert limit.reason and callable(limit.probe), limit.name


# --- the kit ---------------------------------------------------------------------------------------

@pytest.fixture
def kit_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("WASM_LAB_KIT_DIR", str(tmp_path / "kit"))
    machine_limits._kit_seen.clear()
    yield tmp_path / "kit"
    machine_limits._kit_seen.clear()


def test_a_corrupt_kit_manifest_fails_naming_it_even_for_a_developer(kit_dir, relaxed):
    kit_dir.mkdir()
    (kit_dir / "manifest.json").write_text("{not json")
    with pytest.raises(FAIL, match=f"unreadable \\({kit_dir}/manifest.json\\): LabError: kit manifest .* is unusable \\(JSONDecodeError"):
        require("kit")
    with pytest.raises(FAIL, match="unreadable"):
        conftest.kit_complete.__wrapped__()


def test_a_kit_removed_mid_run_is_noticed(kit_dir, monkeypatch, strict_run):
    # a fake kit.status: a real complete kit takes half an hour to build
    rows = {"state": "built"}
    monkeypatch.setattr(kit, "status", lambda: [{"name": "node", "state": rows["state"]}])
    kit_dir.mkdir()
    (kit_dir / "manifest.json").write_text(json.dumps({"schema": 1, "artifacts": {}}))
    require("kit")
    (kit_dir / "manifest.json").unlink()
    rows["state"] = "missing"
    with pytest.raises(FAIL, match=r"required \[kit\] missing: not complete, 1 of 1 artifacts not built or stale: node \(missing\);"):
        require("kit")


def test_a_stale_or_missing_kit_artifact_is_the_kit_limit_a_broken_one_a_failure(monkeypatch, relaxed):
    def stale(name):
        raise kit.StaleArtifact(f"kit artifact {name!r} is stale: built from other recipes")

    monkeypatch.setattr(kit, "artifact", stale)
    with pytest.raises(SKIP, match=r"machine limit \[kit\]: .*'node' is stale"):
        conftest.kit_artifact_or_skip("node")
    monkeypatch.setenv(machine_limits.REQUIRE_ALL, "1")
    with pytest.raises(FAIL, match=r"required \[kit\] missing: kit artifact 'node' is stale"):
        conftest.kit_artifact_or_skip("node")

    def tampered(name):
        raise ChecksumMismatch(f"kit artifact {name}: bin/x has sha256 1, manifest says 2")

    monkeypatch.setattr(kit, "artifact", tampered)
    monkeypatch.delenv(machine_limits.REQUIRE_ALL)
    with pytest.raises(FAIL, match="kit artifact 'shims' is unreadable: ChecksumMismatch"):
        conftest.kit_artifact_or_skip("shims")


# --- the group table -------------------------------------------------------------------------------

def report(nodeid, when, outcome, reason=None):
    longrepr = ("x.py", 1, f"Skipped: {reason}") if reason else None
    return SimpleNamespace(nodeid=nodeid, when=when, outcome=outcome, passed=outcome == "passed",
                           skipped=outcome == "skipped", failed=outcome == "failed", longrepr=longrepr)


def test_the_tally_counts_each_test_once_by_its_worst_phase_per_group():
    tally = conftest.GroupTally()
    for r in (report("tests/unit/test_a.py::t1", "setup", "passed"), report("tests/unit/test_a.py::t1", "call", "passed"),
              report("tests/unit/test_a.py::t1", "teardown", "passed"),
              report("tests/unit/test_a.py::t2", "call", "passed"), report("tests/unit/test_a.py::t2", "teardown", "failed"),
              report("tests/e2e/test_b.py::t3", "setup", "skipped", "machine limit [kind]: needs kind: no `kind`"),
              report("tests/kit/test_c.py::t4", "setup", "failed")):
        tally.add(r)
    assert tally.rows() == [("unit", 1, 1, 0, 0), ("kit", 0, 1, 0, 0), ("e2e", 0, 0, 1, 0)]
    assert tally.skip_lines() == [("e2e", "machine limit [kind]: needs kind: no `kind`", 1)]
    lines = tally.lines(strict_run=False)
    assert "  e2e: 1 x [kind]: needs kind: no `kind`" in lines
    assert lines[-1].startswith("NOT TESTED on this machine for lack of kind")


# --- the hooks, for real in a pytest of their own ----------------------------------------------------

SMALL_SUITE = {
    "tests/unit/test_a.py": """
        import pytest
        from tests.machine_limits import lacking

        def test_passes():
            pass

        def test_skips_for_no_reason_it_declared():
            pytest.skip("just because")

        def test_genuine_limit():
            lacking("httpbin-flavor", "HTTPBIN_FLAVOR is not set")
        """,
    "tests/e2e/test_b.py": """
        from tests.machine_limits import lacking

        def test_needs_docker():
            lacking("docker", "no Docker engine answers (a fake lack)")
        """,
}
MODULE_SKIP = {"tests/faults/test_c.py": """
    import pytest
    pytest.skip("a whole module skipped for no declared reason", allow_module_level=True)
    """}


def run_small_suite(tmp_path, suite=SMALL_SUITE, **env) -> subprocess.CompletedProcess:
    for relative, text in suite.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(textwrap.dedent(text))
    (tmp_path / "pytest.ini").write_text("[pytest]\nxfail_strict = true\n")
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", machine_limits.REQUIRE_ALL, "PYTEST_ADDOPTS")}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-c", str(tmp_path / "pytest.ini"),
                           "--rootdir", str(tmp_path), "-p", "no:cacheprovider", "-q", str(tmp_path / "tests")],
                          cwd=REPO, env={**clean, "PYTHONPATH": str(REPO), "COLUMNS": "200", **env},
                          capture_output=True, text=True, timeout=120)


def test_undeclared_skips_fail_declared_ones_skip_and_a_table_closes_the_run(tmp_path):
    done = run_small_suite(tmp_path)
    lines = done.stdout.splitlines()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "undeclared skip, not a limit of tests/machine_limits.py: just because" in done.stdout
    table = lines[lines.index(next(x for x in lines if "tests per group" in x)) + 1:]
    assert table[:4] == [f"{'group':<14}{'passed':>8}{'failed':>8}{'skipped':>9}{'xfailed':>9}",
                         f"{'unit':<14}{1:>8}{1:>8}{1:>9}{0:>9}", f"{'e2e':<14}{0:>8}{0:>8}{1:>9}{0:>9}",
                         "skipped, by declared machine limit:"]
    assert any(x.startswith("NOT TESTED on this machine for lack of docker") for x in table)
    assert lines[-1].startswith("1 failed, 1 passed, 2 skipped"), lines[-1]


def test_a_module_skipped_for_an_undeclared_reason_fails_the_run(tmp_path):
    done = run_small_suite(tmp_path, MODULE_SKIP)
    assert done.returncode != 0
    assert "undeclared skip, not a limit of tests/machine_limits.py: a whole module skipped" in done.stdout


def test_a_strict_run_fails_what_the_setup_should_have_provided(tmp_path):
    done = run_small_suite(tmp_path, WASM_LAB_REQUIRE_ALL="1")
    assert "required [docker] missing: no Docker engine answers (a fake lack)" in done.stdout
    assert "FAILED for lack of [docker] (1 tests), which this run requires: no Docker engine answers (a fake lack)" \
        in done.stdout
    assert done.stdout.splitlines()[-1].startswith("2 failed, 1 passed, 1 skipped"), done.stdout


def test_the_pytest_script_imports_this_checkout(tmp_path):
    probe = tmp_path / "test_which.py"
    probe.write_text("import lab, tasks\n\ndef test_which():\n    print('LAB', lab.__file__, tasks.__file__)\n")
    done = subprocess.run([str(Path(sys.executable).parent / "pytest"), "-c", str(REPO / "pyproject.toml"),
                           "--rootdir", str(REPO), "-p", "no:cacheprovider", "-q", "-s", str(probe)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"LAB {REPO}/lab/__init__.py {REPO}/tasks.py" in done.stdout


ESCAPES = {"tests/unit/test_d.py": """
    import pytest

    def test_forged_declared_reason():
        pytest.skip("machine limit [httpbin-flavor]: worded like a declared limit, never declared")

    def test_imperative_xfail():
        pytest.xfail("not now")

    @pytest.mark.xfail(reason="flaky", strict=False)
    def test_nonstrict_xfail_marker_hides_a_failure():
        assert 1 == 2

    @pytest.mark.xfail(reason="a reviewed difference")
    def test_strict_xfail_marker_stands():
        assert 1 == 2
    """}


def test_skips_and_expected_failures_that_only_look_declared_fail(tmp_path):
    done = run_small_suite(tmp_path, ESCAPES)
    out = done.stdout
    assert "undeclared skip, not a limit of tests/machine_limits.py: machine limit [httpbin-flavor]" in out, out
    assert "undeclared expected failure (only strict xfail markers may stand): not now" in out, out
    assert "undeclared expected failure (only strict xfail markers may stand): flaky" in out, out
    assert out.splitlines()[-1].startswith("3 failed, 1 xfailed"), out
    lines = out.splitlines()
    table = lines[lines.index(next(x for x in lines if "tests per group" in x)) + 1:]
    assert table[1] == f"{'unit':<14}{0:>8}{3:>8}{0:>9}{1:>9}" and "skipped, by declared machine limit:" not in out
