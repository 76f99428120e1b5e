"""lab.bench-compare on synthetic results: medians and throughput agree within 10 %."""
import json
import subprocess
import sys

import pytest

from lab.bench import compare
from lab.bench.results import ColdStartRun
from tests.unit.test_bench import synthetic


def slower_native(factor: float):
    result = synthetic()
    for run in result.variants["native"].cold_start:
        run.seconds = {k: (v * factor if v is not None else None) for k, v in run.seconds.items()}
    for level in result.variants["native"].load:
        level.throughput /= factor
    return result


def test_a_result_agrees_with_itself():
    rows = compare.cold_start(synthetic(), synthetic()) + compare.throughput(synthetic(), synthetic())
    assert rows and all(r.agree for r in rows)
    assert {r.variant for r in rows} == {"native", "embed-wasmedge", "runtime-wasmedge"}
    assert {r.measure for r in rows} >= {"pod_ip_200", "started to first 200", "req/s at the pod IP, 1 connections"}
    assert "req/s at the pod IP, 4 connections" not in {r.measure for r in rows}  # client-bound in synthetic()


def test_within_ten_percent_agrees_beyond_it_does_not():
    near = {(r.variant, r.measure): r.agree for r in compare.cold_start(synthetic(), slower_native(1.08))}
    far = {(r.variant, r.measure): r.agree for r in compare.cold_start(synthetic(), slower_native(1.5))}
    assert near[("native", "pod_ip_200")] and not far[("native", "pod_ip_200")]
    assert far[("runtime-wasmedge", "pod_ip_200")]
    rates = {(r.variant, r.measure): r for r in compare.throughput(synthetic(), slower_native(1.5))}
    row = rates[("native", "req/s at the pod IP, 1 connections")]
    assert not row.agree and row.change == pytest.approx(-1 / 3)


def test_differences_below_the_probes_resolution_agree():
    assert compare.agree(0.013, 0.020, compare.RESOLUTION)       # 7 ms apart: within 10 ms
    assert not compare.agree(0.013, 0.030, compare.RESOLUTION)


def test_singles_pair_memory_density_and_the_nodeport_figure():
    rows = compare.singles(synthetic(), synthetic())
    assert ("native", "idle working set (MiB)", 2.0, 2.0) in rows
    assert ("native", "node memory per pod at N=10 (MiB)", 1.0, 1.0) in rows
    assert ("native", "req/s through the NodePort, 4 concurrent", 100.0, 100.0) in rows


def test_task_exit_status_says_whether_runs_agree(tmp_path):
    base, slower = synthetic(), synthetic()
    slower.variants["native"].cold_start = [
        ColdStartRun(index=i, kind="first" if i == 0 else "repeat", seconds={"pod_ip_200": 11.0 + i})
        for i in range(3)]
    (tmp_path / "a.json").write_text(json.dumps(base.as_dict()))
    (tmp_path / "b.json").write_text(json.dumps(slower.as_dict()))

    def run(other):
        return subprocess.run([sys.executable, "-m", "invoke", "lab.bench-compare", "--base", str(tmp_path / "a.json"),
                               "--other", str(tmp_path / other)], capture_output=True, text=True)
    assert run("a.json").returncode == 0
    disagree = run("b.json")
    assert disagree.returncode == 1 and "native pod_ip_200" in disagree.stderr
    missing = run("none.json")
    assert missing.returncode == 2 and "other:" in missing.stderr


def test_a_level_either_run_marked_client_bound_is_shown_not_judged():
    """There the load generator, sharing the machine's cores, sets the figure, not the variant."""
    base, other = synthetic(), slower_native(1.5)
    other.variants["native"].load[0].client_bound = True
    level = other.variants["native"].load[0].concurrency
    judged = {(r.variant, r.measure) for r in compare.throughput(base, other)}
    assert ("native", f"req/s at the pod IP, {level} connections") not in judged
    shown = {(variant, measure) for variant, measure, _, _ in compare.singles(base, other)}
    assert ("native", f"req/s at the pod IP, {level} connections (client-bound)") in shown
