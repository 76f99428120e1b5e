"""lab.bench-compare on synthetic results: agreement within the reported spreads."""
import json
import subprocess
import sys

from lab.bench import compare
from lab.bench.results import ColdStartRun
from tests.unit.test_bench import synthetic


def test_a_result_agrees_with_itself():
    rows = compare.cold_start(synthetic(), synthetic())
    assert rows and all(r.agree for r in rows)
    assert {r.variant for r in rows} == {"native", "embed-wasmedge", "runtime-wasmedge"}


def test_ranges_that_do_not_overlap_disagree():
    slower = synthetic()
    slower.variants["native"].cold_start = [
        ColdStartRun(index=i, kind="first" if i == 0 else "repeat",
                     seconds={"scheduled": 0.01, "running": 9.0 + i, "ready": 10.0 + i, "http_200": 11.0 + i})
        for i in range(3)]
    rows = {(r.variant, r.phase): r.agree for r in compare.cold_start(synthetic(), slower)}
    assert rows[("native", "http_200")] is False and rows[("native", "scheduled")] is True
    assert rows[("runtime-wasmedge", "http_200")] is True


def test_singles_pair_memory_and_throughput_by_concurrency():
    rows = compare.singles(synthetic(), synthetic())
    assert ("native", "idle working set (MiB)", 2.0, 2.0) in rows
    assert ("native", "req/s at 4", 2000.0, 2000.0) in rows


def test_task_exit_status_says_whether_runs_agree(tmp_path):
    base, slower = synthetic(), synthetic()
    slower.variants["native"].cold_start = [
        ColdStartRun(index=i, kind="first" if i == 0 else "repeat", seconds={"http_200": 11.0 + i}) for i in range(3)]
    (tmp_path / "a.json").write_text(json.dumps(base.as_dict()))
    (tmp_path / "b.json").write_text(json.dumps(slower.as_dict()))

    def run(other):
        return subprocess.run([sys.executable, "-m", "invoke", "lab.bench-compare", "--base", str(tmp_path / "a.json"),
                               "--other", str(tmp_path / other)], capture_output=True, text=True)
    assert run("a.json").returncode == 0
    disagree = run("b.json")
    assert disagree.returncode == 1 and "native http_200" in disagree.stderr
    missing = run("none.json")
    assert missing.returncode == 2 and "other:" in missing.stderr
