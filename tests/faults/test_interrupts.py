"""`lab.up` stopped at every action boundary, by Ctrl-C and by a kill, finishes when run again.

From no cluster, one chain of runs of one lab (kit node, wasmedge): each run is stopped as it
starts the next action of the pipeline (the cluster one a few seconds into `kind create`, the
runtimes one during the containerd restart), alternately by SIGKILL and SIGINT sent to its whole
process group (as a closed terminal or Ctrl-C would); a second chain swaps the signals on the
running lab. After each chain a plain `lab.up` must be green with every node's containerd
config valid, and the stopped runs must have said so in one line (exit 130) or died silently
(SIGKILL). Runs only when the kit is complete."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from lab.actions import UP

pytestmark = [pytest.mark.cluster, pytest.mark.kit, pytest.mark.docker]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = "wlkill"
INSIDE = {"cluster": 8, "runtimes": 2}  # seconds into the action: inside `kind create`, the containerd restart


def invoke(*args, env, timeout=1800):
    return subprocess.run([sys.executable, "-m", "invoke", "--search-root", REPO, *args], cwd=env["PWD"], env=env,
                          capture_output=True, text=True, timeout=timeout)


def ctrl_c_as_in_a_terminal():
    """A run started from a background job inherits SIGINT ignored; a user's terminal does not."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stopped_at(action: str, sig: signal.Signals, env) -> tuple[int, str]:
    """Start lab.up, stop its process group as `action` starts; return its exit status and output."""
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
            time.sleep(INSIDE.get(action, 0))
            os.killpg(process.pid, sig)
            break
    rest, _ = process.communicate(timeout=300)
    output = "".join(seen) + rest
    assert f"▶ {action}" in output, f"lab.up never reached {action}:\n{output[-3000:]}"
    return process.returncode, output


def assert_green_and_valid(env, folder):
    up = invoke("lab.up", env=env)
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    assert json.loads((folder / "results" / "checks.json").read_text())["failures"] == 0
    nodes = subprocess.run(["kind", "get", "nodes", "--name", LAB], capture_output=True, text=True,
                           check=True).stdout.split()
    assert len(nodes) == 2
    for node in nodes:
        dump = subprocess.run(["docker", "exec", node, "containerd", "config", "dump"], capture_output=True, text=True)
        assert dump.returncode == 0, f"{node}: {dump.stderr}"
    worker = subprocess.run(["docker", "exec", f"{LAB}-worker", "containerd", "config", "dump"],
                            capture_output=True, text=True).stdout
    assert "wasmedge" in worker
    return up


def test_stopped_at_every_action_boundary_then_run_again(tmp_path, kit_complete, kind_cli, capsys):
    (tmp_path / "lab.yaml").write_text(yaml.safe_dump({
        "name": LAB, "host_port_base": 31680, "results_dir": str(tmp_path / "results"),
        "runtimes": ["wasmedge"], "offline": "true"}))
    env = {**os.environ, "PWD": str(tmp_path), "COLUMNS": "200", "WASM_LAB_STATE_DIR": str(tmp_path / "state")}
    actions = [action.name for action in UP]
    stops = []
    try:
        for chain, signals in enumerate(((signal.SIGKILL, signal.SIGINT), (signal.SIGINT, signal.SIGKILL))):
            for i, action in enumerate(actions):
                sig = signals[i % 2]
                code, output = stopped_at(action, sig, env)
                if sig == signal.SIGINT and code != 0:  # a run can also end green before the signal lands
                    assert code == 130, output[-3000:]
                    assert [line for line in output.splitlines() if line.startswith("error:")] == [], output[-2000:]
                stops.append(f"{action}/{sig.name}: exit {code}")
            assert_green_and_valid(env, tmp_path)
        clusters = subprocess.run(["kind", "get", "clusters"], capture_output=True, text=True).stdout.split()
        assert clusters.count(LAB) == 1
    finally:
        down = invoke("lab.down", env=env)
    assert down.returncode == 0, down.stderr[-3000:]
    with capsys.disabled():
        print("\nstopped and run again: " + ", ".join(stops))
