"""The command line as a user meets it: bad input is one line, exit status 2, nothing created."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def invoke(*args, tmp_path):
    env = {**os.environ, "WASM_LAB_STATE_DIR": str(tmp_path / "state"), "WASM_LAB_KIT_DIR": str(tmp_path / "kit")}
    return subprocess.run([sys.executable, "-m", "invoke", "--search-root", REPO, *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args, message", [
    (["lab.up", "--runtime", "spin"], "error: runtime: 'spin' is not allowed; choose one of: wasmedge, wasmtime, crun-wasmedge"),
    (["lab.up", "--workers", "0"], "error: workers: 0 is outside 1..5"),
    (["lab.up", "--name", "No Spaces"], "error: name: 'No Spaces' is not lower-case letters"),
    (["lab.up", "--config", "missing.yaml"], "error: config: missing.yaml does not exist"),
    (["kit.build", "--only", "nonsense"], "error: unknown kit artifact 'nonsense'"),
])
def test_bad_input_is_one_line_exit_2_and_creates_nothing(tmp_path, args, message):
    done = invoke(*args, tmp_path=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(message)
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "state").exists()
    assert not (tmp_path / "kit").exists()


def test_every_collection_is_listed(tmp_path):
    done = invoke("--list", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("lab.up", "lab.down", "lab.status", "lab.doctor", "lab.diagnose", "kit.build", "kit.status",
                 "kit.clean", "images.build"):
        assert name in done.stdout


def test_the_wasm_lab_command_runs_the_same_tasks_as_invoke():
    from lab.cli import lab as lab_tasks
    from lab.cli.program import namespace

    ns = namespace()
    assert ns["up"] is lab_tasks.ns["up"] and ns["down"] is lab_tasks.ns["down"]
    assert {"kit.build", "runtimes.install", "workloads.check"} <= set(ns.task_names)


def test_the_wasm_lab_command_says_bad_input_in_one_line_with_exit_2(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "from lab.cli.program import main; main()", "up", "--runtime", "nope"],
                          capture_output=True, text=True, cwd=tmp_path,
                          env={**__import__("os").environ, "PYTHONPATH": str(__import__("lab").REPO_ROOT),
                               "WASM_LAB_STATE_DIR": str(tmp_path / "state")})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: runtime: 'nope' is not allowed; choose one of: wasmedge, wasmtime, crun-wasmedge"]
