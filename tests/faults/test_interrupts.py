"""`lab.up` stopped at every action boundary, by Ctrl-C and by a kill, finishes when run again.

From no cluster, one chain of runs of one lab (kit node, wasmedge): each run is stopped as it
starts the next action of the pipeline (the cluster one a few seconds into `kind create`, the
runtimes one during the containerd restart), alternately by SIGKILL and SIGINT sent to its whole
process group (as a closed terminal or Ctrl-C would); a second chain swaps the signals on the
running lab. Every stop must land inside its action: the state file (which records an action only
once it ended) must not show the action finished by that run. A stop that landed later is tried
once more at the action's start, then fails the test. A SIGINT run must say so in one line and exit
130, a SIGKILL run die with -9; the next run must finish the stopped action, and after each chain a
plain `lab.up` must be green with every node's containerd config valid. Runs only when the kit is
complete."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lab.actions import UP
from lab.pipeline import flat
from tests.commands import kind_clusters, output

pytestmark = [pytest.mark.cluster, pytest.mark.kit, pytest.mark.docker]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = "wlkill"
INSIDE = {"cluster": 8, "runtimes": 2}  # seconds into the action: inside `kind create`, the containerd restart
EXIT = {signal.SIGINT: 130, signal.SIGKILL: -signal.SIGKILL}  # lab/cli/common.py: 130 is "interrupted"


def invoke(*args, env, timeout=1800):
    return subprocess.run([sys.executable, "-m", "invoke", "--search-root", REPO, *args], cwd=env["PWD"], env=env,
                          capture_output=True, text=True, timeout=timeout)


def ctrl_c_as_in_a_terminal():
    """A run started from a background job inherits SIGINT ignored; a user's terminal does not."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def finished_since(state: Path, action: str, since: float) -> bool:
    """Whether the state file records `action` as ended at or after `since` (the pipeline records
    an action once it has ended, never before)."""
    actions = json.loads(state.read_text()).get("actions", {}) if state.exists() else {}
    return actions.get(action, {}).get("at", 0) >= since


def stopped_at(action: str, sig: signal.Signals, env, delay: float) -> tuple[int, str]:
    """Start lab.up, stop its process group `delay` seconds after `action` starts; return its exit
    status and output."""
    process = subprocess.Popen([sys.executable, "-m", "invoke", "--search-root", REPO, "lab.up"], cwd=env["PWD"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True, preexec_fn=ctrl_c_as_in_a_terminal)
    seen, deadline = [], time.monotonic() + 900
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if f"▶ {action}" in line:
            time.sleep(delay)
            os.killpg(process.pid, sig)
            break
    rest, _ = process.communicate(timeout=300)
    output = "".join(seen) + rest
    assert f"▶ {action}" in output, f"lab.up never reached {action}:\n{output[-3000:]}"
    return process.returncode, output


def every_action_runs_next(state: Path) -> None:
    """Take away the record a complete lab.up leaves (lab/settled.py): the next lab.up must run
    every action, so that it can be stopped inside any of them."""
    if state.exists():
        recorded = json.loads(state.read_text())
        recorded.pop("settled", None)
        state.write_text(json.dumps(recorded))


def stop_inside(action: str, sig: signal.Signals, env, state: Path) -> str:
    """One lab.up stopped by `sig` while `action` runs, and judged; a summary of the stop."""
    for delay in dict.fromkeys((INSIDE.get(action, 0), 0)):  # the planned moment, then the action's start
        # a stop that landed after the run had ended (the rest of a re-run can take under 8 s)
        # leaves a complete lab; the next try must still go through `action`
        every_action_runs_next(state)
        started = time.time()
        code, said = stopped_at(action, sig, env, delay)
        if not finished_since(state, action, started):
            break
    else:
        pytest.fail(f"{action}/{sig.name}: the signal landed after {action} had ended (sent {INSIDE.get(action, 0)}s "
                    f"into it, then at its start), so no run was stopped inside it:\n{said[-2000:]}")
    assert code == EXIT[sig], f"{action}/{sig.name}: exit {code}, expected {EXIT[sig]}:\n{said[-3000:]}"
    if sig == signal.SIGINT:
        assert "interrupted; run the same command again to finish" in said, said[-2000:]
        assert [line for line in said.splitlines() if line.startswith("error:")] == [], said[-2000:]
    return f"{action}/{sig.name} at +{delay}s: exit {code}"


def assert_green_and_valid(env, folder, state: Path, stopped_last: str):
    started = time.time()
    up = invoke("lab.up", env=env)
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    assert finished_since(state, stopped_last, started), f"lab.up did not finish {stopped_last}"
    assert json.loads((folder / "results" / "checks.json").read_text())["failures"] == 0
    nodes = output("kind", "get", "nodes", "--name", LAB).split()
    assert len(nodes) == 2
    for node in nodes:
        output("docker", "exec", node, "containerd", "config", "dump")
    assert "wasmedge" in output("docker", "exec", f"{LAB}-worker", "containerd", "config", "dump")
    return up


def test_stopped_at_every_action_boundary_then_run_again(tmp_path, kit_complete, kind_cli, capsys):
    (tmp_path / "lab.yaml").write_text(yaml.safe_dump({
        "name": LAB, "host_port_base": 31680, "results_dir": str(tmp_path / "results"),
        "runtimes": ["wasmedge"], "offline": "true"}))
    env = {**os.environ, "PWD": str(tmp_path), "COLUMNS": "200", "WASM_LAB_STATE_DIR": str(tmp_path / "state")}
    state = tmp_path / "state" / LAB / "state.json"
    # one stop per step; actions side by side (a Together) are one step, stopped at its first
    steps = [[a.name for a in flat([action])] for action in UP]
    stops = []
    try:
        for chain, signals in enumerate(((signal.SIGKILL, signal.SIGINT), (signal.SIGINT, signal.SIGKILL))):
            for i, step in enumerate(steps):
                started = time.time()
                stops.append(stop_inside(step[0], signals[i % 2], env, state))
                if i:  # the run after a stop finished the stopped step before reaching this one
                    unfinished = [a for a in steps[i - 1] if not finished_since(state, a, started)]
                    assert not unfinished, f"{', '.join(unfinished)} was not finished"
            assert_green_and_valid(env, tmp_path, state, steps[-1][-1])
            # a complete lab.up leaves a record that lets the next one skip to the checks; the
            # next chain stops inside every action again, so it must run them all (lab/settled.py)
            every_action_runs_next(state)
        assert kind_clusters().count(LAB) == 1
    finally:
        down = invoke("lab.down", "--purge", env=env)
    assert down.returncode == 0, down.stderr[-3000:]
    with capsys.disabled():
        print("\nstopped and run again: " + ", ".join(stops))
