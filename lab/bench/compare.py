"""Two bench results side by side: do they agree within the spread each one reports?

Cold-start phases have a spread (min–max of the repeats): two runs agree on a phase when their
ranges overlap, give or take RESOLUTION (the host polls for the first 200 every 20 ms, and the
watch adds a few ms). (Asking more, e.g. each median inside the other's range, fails on differences
far below what the method resolves: API timestamps are whole seconds and the first HTTP 200
moves in steps of the readiness probe.) Memory and throughput are single samples per run; they
are shown with their ratio, and the verdict leaves them out."""
from __future__ import annotations

from dataclasses import dataclass

from lab.bench.report import memory_bytes
from lab.bench.results import PHASES, BenchResult


@dataclass
class PhaseComparison:
    variant: str
    phase: str
    base: dict      # median, min, max of the baseline's repeats
    other: dict
    agree: bool


RESOLUTION = 0.05  # seconds


def _overlap(a: dict, b: dict) -> bool:
    return max(a["min"], b["min"]) <= min(a["max"], b["max"]) + RESOLUTION


def cold_start(base: BenchResult, other: BenchResult) -> list[PhaseComparison]:
    rows = []
    for name in sorted(set(base.variants) & set(other.variants)):
        a = base.variants[name].cold_summary()["repeat"] or {}
        b = other.variants[name].cold_summary()["repeat"] or {}
        for phase in PHASES:
            sa, sb = a.get(phase), b.get(phase)
            if not sa or not sb or sa["median"] is None or sb["median"] is None:
                continue
            rows.append(PhaseComparison(name, phase, sa, sb, _overlap(sa, sb)))
    return rows


def _idle_mib(variant) -> float | None:
    value = memory_bytes(variant, "idle")
    return value / 2**20 if value else None


def singles(base: BenchResult, other: BenchResult) -> list[tuple[str, str, float | None, float | None]]:
    """(variant, measure, baseline value, other value) for the measures without a spread."""
    rows = []
    for name in sorted(set(base.variants) & set(other.variants)):
        a, b = base.variants[name], other.variants[name]
        rows.append((name, "idle working set (MiB)", _idle_mib(a), _idle_mib(b)))
        levels = {level.concurrency: level for level in b.load}
        for level in a.load:
            if level.concurrency in levels:
                rows.append((name, f"req/s at {level.concurrency}", level.throughput,
                             levels[level.concurrency].throughput))
    return rows
