"""Small statistics for few samples: percentiles by linear interpolation, medians and spread.

Pure functions on lists of floats; no numpy (the lab does not need it)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


def percentile(values, q: float) -> float | None:
    """The q-th percentile (0..100), interpolating linearly between the closest ranks.

    The same definition as numpy's default ("linear", Hyndman & Fan type 7): with n sorted
    samples, the rank is (n-1)*q/100 and the value is interpolated between its two neighbours.
    None for no samples."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    return _sorted_percentile(sorted(v for v in values if v is not None), q)


def _sorted_percentile(data: list, q: float) -> float | None:
    if not data:
        return None
    rank = (len(data) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(data) - 1)
    fraction = rank - low
    return data[low] + (data[high] - data[low]) * fraction


def median(values) -> float | None:
    return percentile(values, 50)


@dataclass
class Spread:
    """A median and how far the samples stray from it."""
    n: int
    median: float | None
    min: float | None
    max: float | None
    q1: float | None
    q3: float | None

    @property
    def iqr(self) -> float | None:
        return None if self.q1 is None or self.q3 is None else self.q3 - self.q1

    def as_dict(self) -> dict:
        return {**asdict(self), "iqr": self.iqr}


def spread(values) -> Spread:
    data = [v for v in values if v is not None]
    if not data:
        return Spread(0, None, None, None, None, None)
    return Spread(len(data), median(data), min(data), max(data), percentile(data, 25), percentile(data, 75))


def latency_summary(latencies_ms) -> dict:
    """p50/p95/p99, min, max and mean of request latencies (milliseconds)."""
    data = sorted(latencies_ms)
    if not data:
        return {"p50": None, "p95": None, "p99": None, "min": None, "max": None, "mean": None}
    return {"p50": _sorted_percentile(data, 50), "p95": _sorted_percentile(data, 95),
            "p99": _sorted_percentile(data, 99),
            "min": data[0], "max": data[-1], "mean": sum(data) / len(data)}
