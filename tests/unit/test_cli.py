"""The command line as a user meets it: bad input is one line, exit status 2, nothing created."""
import json
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


def plan_of(*args, tmp_path):
    """lab.plan --online for both architectures with stdout a pipe, as in a CI log (no COLUMNS)."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update(WASM_LAB_STATE_DIR=str(tmp_path / "state"), WASM_LAB_KIT_DIR=str(tmp_path / "kit"),
               WASM_LAB_DOWNLOAD_DIR=str(tmp_path / "downloads"))
    return subprocess.run([sys.executable, "-m", "invoke", "--search-root", REPO, "lab.plan", "--online",
                           "--runtime", "wasmedge", "--runtime", "wasmtime", "--arch", "x86_64", "--arch", "aarch64",
                           *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def test_lab_plan_json_has_every_pin_in_full(tmp_path):
    from lab import artifacts

    done = plan_of("--json", tmp_path=tmp_path)
    assert done.returncode == 1 and done.stderr.strip() == (
        "lab.up would fail on: wasmtime-release@x86_64, shim-wasmedge@aarch64, wasmtime-release@aarch64")
    plan = json.loads(done.stdout)
    assert plan["mode"] == "online" and plan["lock"] == str(tmp_path / "lab.lock")
    assert plan["fails"] == ["wasmtime-release@x86_64", "shim-wasmedge@aarch64", "wasmtime-release@aarch64"]
    shim = next(r for r in plan["rows"] if r["artifact"] == "shim-wasmtime" and r["arch"] == "aarch64")
    origin = artifacts.catalog()["artifacts"]["shim-wasmtime"][0]
    assert shim == {"artifact": "shim-wasmtime", "arch": "aarch64", "origin": "release v0.6.1",
                    "source": origin["url"].format(arch="aarch64"), "pin": "sha256:" + origin["sha256"]["aarch64"],
                    "engine": "wasmtime 36.0.10", "note": ""}
    assert not (tmp_path / "lab.lock").exists() and not (tmp_path / "state").exists()


def test_lab_plan_pins_every_aarch64_row_or_says_why_not(tmp_path):
    done = plan_of("--runtime", "crun-wasmedge", "--json", tmp_path=tmp_path)
    rows = [r for r in json.loads(done.stdout)["rows"] if r["arch"] == "aarch64"]
    assert {r["artifact"] for r in rows} >= {"node-image", "shim-wasmedge", "shim-wasmtime", "wasmedge-libs",
                                            "base-rust", "base-wasmedge", "base-wasmtime", "base-debian"}
    unpinned = {r["artifact"]: r["note"] for r in rows if not r["pin"]}
    assert sorted(unpinned) == ["shim-wasmedge", "wasmtime-release"]
    assert unpinned["shim-wasmedge"].endswith(
        "containerd-shim-wasmedge-aarch64-linux-musl.tar.gz (runwasi publishes it, but no record of its sha256 "
        "could be confirmed (docs/artifacts.md); a lab.lock entry with one you checked pins it): FAILS")
    assert "(wasmtime publishes no checksums and no public record of this tarball's sha256 was found" \
        in unpinned["wasmtime-release"]


def test_lab_plan_piped_into_a_log_is_not_cut_at_80_columns(tmp_path):
    done = plan_of(tmp_path=tmp_path)
    rows = {line.split("│")[1].strip() + "@" + line.split("│")[2].strip(): line
            for line in done.stdout.splitlines() if line.startswith("│")}
    from lab import artifacts

    origin = artifacts.catalog()["artifacts"]["shim-wasmtime"][0]
    assert origin["url"].format(arch="x86_64") in rows["shim-wasmtime@x86_64"]
    assert "sha256:" + origin["sha256"]["x86_64"] in rows["shim-wasmtime@x86_64"]
    assert "wasmtime 36.0.10" in rows["shim-wasmtime@x86_64"]
