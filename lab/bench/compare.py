"""Two bench results side by side: do they agree?

Judged, each a median of the repeats or a single wrk run of several seconds: the first 200 at the
pod IP, the container's start and the span from it to the first 200, and the throughput at the pod
IP at every level the server limits. Two values agree when they differ by at most TOLERANCE of the
baseline, or by at most the method's resolution (RESOLUTION seconds for cold starts: the probe asks
every 2 ms and the pod watch adds a few). Memory, density, the NodePort figure and the throughput
of a level either run marked client-bound are shown with their ratio and left out of the verdict:
the kubelet samples memory every 10-15 s, the NodePort answer moves in steps of kube-proxy's sync,
and a client-bound level measures the load generator sharing the machine's cores, not the
variant."""
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


def _pod_ip_levels(mine, theirs, client_bound: bool):
    """(level, the other run's level) at the pod IP of one variant in two runs: the levels either
    run marked client-bound, or those neither did."""
    levels = {level.concurrency: level for level in theirs.load}
    for level in mine.load:
        other = levels.get(level.concurrency)
        if other is not None and level.throughput and bool(level.client_bound or other.client_bound) == client_bound:
            yield level, other


def throughput(base: BenchResult, other: BenchResult) -> list[Comparison]:
    return [Comparison(name, f"req/s at the pod IP, {mine.concurrency} connections", mine.throughput,
                       theirs.throughput, agree(mine.throughput, theirs.throughput), unit="req/s")
            for name in sorted(set(base.variants) & set(other.variants))
            for mine, theirs in _pod_ip_levels(base.variants[name], other.variants[name], client_bound=False)]


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
        rows += [(name, f"req/s at the pod IP, {mine.concurrency} connections (client-bound)", mine.throughput,
                  theirs.throughput) for mine, theirs in _pod_ip_levels(a, b, client_bound=True)]
        nodeport = {level.concurrency: level for level in b.load_nodeport}
        for level in a.load_nodeport:
            if level.concurrency in nodeport:
                rows.append((name, f"req/s through the NodePort, {level.concurrency} concurrent", level.throughput,
                             nodeport[level.concurrency].throughput))
    return rows
