"""Two bench results side by side: do they agree?

Judged, each a median of the repeats or a single wrk run of several seconds: the first 200 at the
pod IP, the container's start and the span from it to the first 200, and the throughput at the pod
IP at every level. Two values agree when they differ by at most TOLERANCE of the baseline, or by at
most the method's resolution (RESOLUTION seconds for cold starts: the probe asks every 2 ms and
the pod watch adds a few). Memory, density and the NodePort figure are shown with their ratio and
left out of the verdict: the kubelet samples memory every 10-15 s, and the NodePort answer moves
in steps of kube-proxy's sync."""
from __future__ import annotations

from dataclasses import dataclass

from lab.bench.report import memory_bytes
from lab.bench.results import BenchResult

TOLERANCE = 0.10
RESOLUTION = 0.010  # seconds
JUDGED_PHASES = ("container_started", "pod_ip_200")
JUDGED_SPANS = ("started to first 200",)


@dataclass
class Comparison:
    variant: str
    measure: str
    base: float
    other: float
    agree: bool
    unit: str = "s"

    @property
    def change(self) -> float | None:
        return (self.other - self.base) / self.base if self.base else None


def agree(base: float, other: float, resolution: float = 0.0) -> bool:
    return abs(other - base) <= max(TOLERANCE * abs(base), resolution)


def cold_start(base: BenchResult, other: BenchResult) -> list[Comparison]:
    rows = []
    for name in sorted(set(base.variants) & set(other.variants)):
        a, b = base.variants[name].cold_summary(), other.variants[name].cold_summary()
        pairs = [(phase, (a["repeat"] or {}).get(phase), (b["repeat"] or {}).get(phase)) for phase in JUDGED_PHASES]
        pairs += [(span, (a.get("spans") or {}).get(span), (b.get("spans") or {}).get(span)) for span in JUDGED_SPANS]
        for measure, sa, sb in pairs:
            if not sa or not sb or sa["median"] is None or sb["median"] is None:
                continue
            rows.append(Comparison(name, measure, sa["median"], sb["median"],
                                   agree(sa["median"], sb["median"], RESOLUTION)))
    return rows


def throughput(base: BenchResult, other: BenchResult) -> list[Comparison]:
    rows = []
    for name in sorted(set(base.variants) & set(other.variants)):
        levels = {level.concurrency: level for level in other.variants[name].load}
        for level in base.variants[name].load:
            if level.concurrency in levels and level.throughput:
                theirs = levels[level.concurrency].throughput
                rows.append(Comparison(name, f"req/s at the pod IP, {level.concurrency} connections",
                                       level.throughput, theirs, agree(level.throughput, theirs), unit="req/s"))
    return rows


def _idle_mib(variant) -> float | None:
    value = memory_bytes(variant, "idle")
    return value / 2**20 if value else None


def singles(base: BenchResult, other: BenchResult) -> list[tuple[str, str, float | None, float | None]]:
    """(variant, measure, baseline value, other value) for the measures shown but not judged."""
    rows = []
    for name in sorted(set(base.variants) & set(other.variants)):
        a, b = base.variants[name], other.variants[name]
        rows.append((name, "idle working set (MiB)", _idle_mib(a), _idle_mib(b)))
        densities = {run.replicas: run for run in b.density}
        for run in a.density:
            if run.replicas in densities:
                mine, theirs = run.per_pod_node_bytes, densities[run.replicas].per_pod_node_bytes
                rows.append((name, f"node memory per pod at N={run.replicas} (MiB)",
                             mine / 2**20 if mine else None, theirs / 2**20 if theirs else None))
        nodeport = {level.concurrency: level for level in b.load_nodeport}
        for level in a.load_nodeport:
            if level.concurrency in nodeport:
                rows.append((name, f"req/s through the NodePort, {level.concurrency} concurrent", level.throughput,
                             nodeport[level.concurrency].throughput))
    return rows
