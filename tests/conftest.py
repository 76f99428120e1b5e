"""Shared fixtures, and the rule on skips (tests/machine_limits.py): a test skips only for a limit
declared there; any other skip fails. The run ends with a table per test group (tests/<group>)."""
import shutil
from collections import Counter, defaultdict

import pytest

from tests.machine_limits import (
    LIMITS,
    REQUIRE_ALL,
    SKIP_PREFIX,
    declared_limit,
    lacking,
    require,
    required_missing,
    said_here,
    strict,
)


def docker_engine_or_skip():
    require("docker")


@pytest.fixture
def docker_engine():
    require("docker")
    import docker

    return docker.from_env()


def kit_artifact_or_skip(name: str) -> dict:
    """The manifest entry of a built, current kit artifact. Not built or stale: the `kit` limit
    (a skip saying how to build it, a failure in a strict run); unreadable: a failure naming it."""
    from lab import kit

    try:
        return kit.artifact(name)
    except KeyError as error:  # not built, or built from other recipes than this checkout's
        lacking("kit", str(error.args[0]) if error.args else name)
    except Exception as error:
        pytest.fail(f"kit artifact {name!r} is unreadable: {error.__class__.__name__}: {error}", pytrace=False)


@pytest.fixture(scope="session")
def kind_cli():
    require("kind")
    return shutil.which("kind")


@pytest.fixture
def isolated_state(tmp_path, monkeypatch):
    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch):
    """A working directory without a lab.yaml, so only the embedded defaults apply."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def kit_complete():
    """Every kit artifact built and current, so a test never starts a long kit build. Asked per
    test module (cheap while the kit's manifest is unchanged), so a kit removed mid-run is noticed."""
    require("kit")


# --- skips: declared or failed ----------------------------------------------------------------------

def skip_reason(report) -> str:
    longrepr = report.longrepr
    return str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)


def undeclared_skip_fails(report) -> None:
    """A skip that did not come through machine_limits.lacking, naming a declared limit, fails."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = skip_reason(report)
    if declared_limit(reason) is None or not said_here(reason):
        report.outcome = "failed"
        report.longrepr = (f"undeclared skip, not a limit of tests/machine_limits.py: "
                           f"{reason.removeprefix('Skipped: ')}")


def undeclared_xfail_fails(item, report) -> None:
    """An expected failure is allowed only as a strict xfail marker (the reference httpbin's
    reviewed differences): pytest.xfail() or a marker with strict=False would hide a failure."""
    if not hasattr(report, "wasxfail"):
        return
    marker = item.get_closest_marker("xfail")
    if marker is None or not marker.kwargs.get("strict", item.config.getini("xfail_strict")):
        report.outcome = "failed"
        report.longrepr = f"undeclared expected failure (only strict xfail markers may stand): {report.wasxfail}"
        del report.wasxfail


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    undeclared_skip_fails(report)
    undeclared_xfail_fails(item, report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    undeclared_skip_fails(report)
    return report


# --- the closing table per group --------------------------------------------------------------------

GROUP_ORDER = ("unit", "security", "conformance", "kit", "e2e", "faults")
RANK = {"failed": 2, "skipped": 1, "xfailed": 1, "passed": 0}


class GroupTally:
    """Each test's outcome over its phases (a failed teardown fails a passed test), each skip's
    declared limit and each failure for a limit a strict run requires, by the tests/ subfolder
    the test lives in."""

    def __init__(self):
        self.outcomes: dict[str, str] = {}
        self.skips: dict[str, str] = {}
        self.missing: dict[str, tuple[str, str]] = {}

    @staticmethod
    def group(nodeid: str) -> str:
        parts = nodeid.split("::")[0].split("/")
        return parts[1] if len(parts) > 2 and parts[0] == "tests" else parts[0]

    def add(self, report) -> None:
        if report.when != "call" and report.passed:
            return  # a setup or teardown that passed says nothing of the test
        # a strict xfail (a reviewed difference of the reference httpbin) is no skip
        outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        previous = self.outcomes.get(report.nodeid)
        if previous is None or RANK[outcome] > RANK[previous]:
            self.outcomes[report.nodeid] = outcome
        if outcome == "skipped":
            self.skips[report.nodeid] = skip_reason(report).removeprefix("Skipped: ")
        elif report.failed and (missing := required_missing(str(report.longrepr))):
            self.missing.setdefault(report.nodeid, missing)

    def rows(self) -> list[tuple[str, int, int, int]]:
        counts: dict[str, Counter] = defaultdict(Counter)
        for nodeid, outcome in self.outcomes.items():
            counts[self.group(nodeid)][outcome] += 1
        order = [g for g in GROUP_ORDER if g in counts] + sorted(set(counts) - set(GROUP_ORDER))
        return [(g, counts[g]["passed"], counts[g]["failed"], counts[g]["skipped"], counts[g]["xfailed"])
                for g in order]

    def skip_lines(self) -> list[tuple[str, str, int]]:
        """(group, the declared reason, how many tests) per distinct skip."""
        found = Counter((self.group(nodeid), reason) for nodeid, reason in self.skips.items()
                        if self.outcomes.get(nodeid) == "skipped")
        return [(group, reason, n) for (group, reason), n in sorted(found.items())]

    def lines(self, strict_run: bool) -> list[str]:
        rows = self.rows()
        out = [f"{'group':<14}{'passed':>8}{'failed':>8}{'skipped':>9}{'xfailed':>9}"]
        out += [f"{g:<14}{p:>8}{f:>8}{s:>9}{x:>9}" for g, p, f, s, x in rows]
        skips = self.skip_lines()
        if skips:
            out.append("skipped, by declared machine limit:")
            out += [f"  {group}: {n} x {reason.removeprefix(SKIP_PREFIX + ' ')}" for group, reason, n in skips]
        provided = sorted({name for _, reason, _ in skips
                           if (name := declared_limit(reason)) and LIMITS[name].provided_by})
        by_limit: dict[str, list[str]] = defaultdict(list)
        for name, detail in self.missing.values():
            by_limit[name].append(detail)
        out += [f"FAILED for lack of [{name}] ({len(details)} tests), which this run requires: {details[0]}"
                for name, details in sorted(by_limit.items())]
        if strict_run:
            out.append(f"strict run ({REQUIRE_ALL}=1 or CI): only genuine machine limits may skip")
        elif provided:
            out.append(f"NOT TESTED on this machine for lack of {', '.join(provided)}: "
                       "`make test` (hack/run-tests) provides them and fails instead of skipping")
        return out


class GroupTallyPlugin:
    def __init__(self):
        self.tally = GroupTally()

    def pytest_runtest_logreport(self, report):
        self.tally.add(report)

    def pytest_terminal_summary(self, terminalreporter):
        # before pytest's short summary and its closing "N passed, ..." line, which stays last
        if not self.tally.outcomes:
            return
        terminalreporter.write_sep("-", "tests per group")
        for line in self.tally.lines(strict()):
            terminalreporter.write_line(line)


def pytest_configure(config):
    config.pluginmanager.register(GroupTallyPlugin(), "wasm-lab-group-tally")
