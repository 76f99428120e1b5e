"""Micro-benchmarks (pytest-benchmark) of the bench's own arithmetic and rendering.

They record how long the code takes; they assert results, never a speed. Few rounds, so the unit
suite stays fast; run `pytest tests/unit/test_bench_speed.py --benchmark-only` for the table."""
import random

from test_bench import synthetic

from lab.bench import page, stats


def test_latency_summary_of_100k_samples(benchmark):
    rng = random.Random(1)
    samples = [rng.expovariate(1 / 3.0) for _ in range(100_000)]
    summary = benchmark.pedantic(stats.latency_summary, args=(samples,), rounds=5, iterations=1)
    assert summary["p50"] < summary["p95"] < summary["p99"] <= summary["max"]


def test_html_report_rendering(benchmark):
    result = synthetic()
    html = benchmark.pedantic(page.html, args=(result,), rounds=5, iterations=1)
    assert html.count("<svg") == 9
