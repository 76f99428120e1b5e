"""The bench's results for people: the tables (the one source of every rendering), the markdown
(also printed) and the terminal's; `lab.bench.page` draws the HTML page from the same tables.

All are rendered from a BenchResult only, so they can be rebuilt from bench.json later."""
from __future__ import annotations

from lab.bench.results import SPANS, BenchResult

MB = 1_000_000
MIB = 1 << 20


def seconds(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def mb(value) -> str:
    return "–" if value is None else f"{value / MB:.2f}"


def mib(value) -> str:
    return "–" if value is None else f"{value / MIB:.1f}"


def ms_of(seconds_value) -> str:
    """Seconds shown as whole milliseconds."""
    return "–" if seconds_value is None else f"{seconds_value * 1000:.0f}"


def ms(value) -> str:
    return "–" if value is None else (f"{value:.2f}" if value < 10 else f"{value:.1f}")


def median_range(spread: dict | None, show=seconds) -> str:
    """A spread of seconds as "median (min–max)", each value shown by `show` (seconds or ms_of)."""
    if not spread or spread.get("median") is None:
        return "–"
    if spread["n"] == 1:
        return show(spread["median"])
    return f"{show(spread['median'])} ({show(spread['min'])}–{show(spread['max'])})"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> str:
    header = [_cell(h) for h in header]
    rows = [[_cell(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def memory_bytes(variant, key) -> int | None:
    sample = variant.memory.get(key)
    if sample is None:
        return None
    if sample.pod_working_set_bytes:  # 0: the kubelet had no pod total yet
        return sample.pod_working_set_bytes
    values = [c.get("working_set_bytes") for c in sample.containers.values() if c.get("working_set_bytes") is not None]
    return sum(values) if values else None


def _ratio(value, base) -> str:
    return f" (×{value / base:.2f})" if value is not None and base else ""


EXECUTION = {"native": "native binary", "interpreter": "interpreter", "jit": "JIT (Cranelift)",
             "aot": "AOT (LLVM)"}
CLIENT_BOUND_MARK = "client-bound"


def rate(level) -> str:
    if level is None:
        return "–"
    return f"{level.throughput:.0f}" + (f" ({CLIENT_BOUND_MARK})" if level.client_bound else "")


def headline(v) -> dict:
    """The few numbers a reader compares first, for one variant."""
    summary = v.cold_summary()
    spans = summary.get("spans") or {}
    repeat = summary["repeat"] or {}
    top = max(v.load, key=lambda level: level.concurrency, default=None)
    lowest = min(v.load, key=lambda level: level.concurrency, default=None)
    densest = max(v.density, key=lambda run: run.replicas, default=None)
    return {"image": v.image_size.node_bytes if v.image_size else None,
            "start_to_200": (spans.get("started to first 200") or {}).get("median"),
            "pod_ip_200": (repeat.get("pod_ip_200") or {}).get("median"),
            "memory": memory_bytes(v, "idle"), "throughput": top.throughput if top else None, "top": top,
            "concurrency": top.concurrency if top else None,
            "p50": lowest.latency_ms.get("p50") if lowest else None,
            "lowest": lowest.concurrency if lowest else None,
            "pods_per_gib": densest.pods_per_gib if densest else None,
            "replicas": densest.replicas if densest else None}


def summary_table(result: BenchResult) -> tuple[list[str], list[list[str]]]:
    lines = {name: headline(v) for name, v in result.variants.items()}
    base = lines.get("native", {})
    tops = {h["concurrency"] for h in lines.values() if h["concurrency"]}
    lows = {h["lowest"] for h in lines.values() if h["lowest"]}
    top = f"{max(tops)} connections" if len(tops) == 1 else "the highest level"
    low = f"{min(lows)} connection(s)" if len(lows) == 1 else "the lowest level"
    rows = []
    for name, h in lines.items():
        v = result.variants[name]
        rows.append([name, EXECUTION.get(v.execution or "", v.execution or "–"),
                     f"{v.engine['name']} {v.engine['version']}" if v.engine else "–",
                     mb(h["image"]) + _ratio(h["image"], base.get("image")),
                     ms_of(h["start_to_200"]) + _ratio(h["start_to_200"], base.get("start_to_200")),
                     seconds(h["pod_ip_200"]) + _ratio(h["pod_ip_200"], base.get("pod_ip_200")),
                     mib(h["memory"]) + _ratio(h["memory"], base.get("memory")),
                     rate(h["top"]) + _ratio(h["throughput"], base.get("throughput")),
                     ms(h["p50"]) + _ratio(h["p50"], base.get("p50")),
                     "–" if h["pods_per_gib"] is None else f"{h['pods_per_gib']:.0f} (N={h['replicas']})"])
    return (["variant", "execution", "engine", "image in node (MB)", "container started → first 200, median (ms)",
             "first 200 at the pod IP, median (s)", "idle working set (MiB)", f"req/s at the pod IP, {top}",
             f"p50 at {low} (ms)", "pods per GiB of node memory"], rows)


def tables(result: BenchResult) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Each section as (header, rows) of plain strings: the one source of the markdown and HTML tables."""
    out = {"summary": summary_table(result)}
    rows = []
    for name, v in result.variants.items():
        summary = v.cold_summary()
        spans = summary.get("spans") or {}
        repeat = summary["repeat"] or {}
        first = summary["first"] or {}
        removed = summary["image_removed"] or {}
        rows.append([name] + [median_range(spans.get(span), ms_of) for span in SPANS]
                    + [median_range(spans.get("nodeport"), ms_of), median_range(repeat.get("pod_ip_200")),
                       median_range(repeat.get("ready")), median_range(repeat.get("http_200")),
                       seconds(first.get("pod_ip_200")), seconds(removed.get("image_load")),
                       seconds(removed.get("pod_ip_200"))])
    out["cold"] = (["variant"] + [f"{span} (ms)" for span in SPANS]
                   + ["Service/NodePort after the pod answered (ms)", "first 200 at the pod IP (s)", "pod Ready (s)",
                      "first 200 via NodePort (s)", "first start: 200 at the pod IP (s)", "image load (s)",
                      "after image removal: 200 at the pod IP (s)"], rows)

    rows = []
    for name, v in result.variants.items():
        rows.append([name, mib(memory_bytes(v, "idle")), mib(memory_bytes(v, "after_load"))])
    out["memory"] = (["variant", "idle working set (MiB)", "after load (MiB)"], rows)

    rows = []
    for name, v in result.variants.items():
        for run in v.density:
            per_pod_own = run.pods_working_set / run.ready if run.pods_working_set and run.ready else None
            rows.append([name, str(run.replicas), str(run.ready),
                         ", ".join(f"{k} {n}" for k, n in run.failed.items()) or "0",
                         seconds(run.seconds_to_ready), mib(run.per_pod_node_bytes), mib(per_pod_own),
                         "–" if run.pods_per_gib is None else f"{run.pods_per_gib:.0f}"])
    out["density"] = (["variant", "replicas", "Ready", "failed", "all Ready after (s)",
                       "node memory per pod (MiB)", "pod's own working set (MiB)", "pods per GiB"], rows)

    rows = []
    published = result.published.get("sizes_mb", {})
    for name, v in result.variants.items():
        size = v.image_size
        pub = published.get(v.packaging or "")
        rows.append([name, mb(size.node_bytes if size else None), mb(size.host_bytes if size else None),
                     mb(size.gzip_bytes if size else None), "–" if pub is None else f"{pub:g}"])
    out["size"] = (["variant", "in node's containerd (MB)", "host Docker, unpacked (MB)", "docker save | gzip (MB)",
                    "published, same packaging (MB)"], rows)

    rows = []
    where = {"pod-ip": "pod IP (wrk)", "service": "ClusterIP (wrk)", "nodeport": "NodePort (host client)"}
    for name, v in result.variants.items():
        for level in [*v.load, *v.load_service, *v.load_nodeport]:
            lat = level.latency_ms
            rows.append([name, where.get(level.target, level.target), str(level.concurrency), rate(level),
                         "–" if level.ceiling is None else f"{level.ceiling:.0f}", ms(lat.get("p50")),
                         ms(lat.get("p99")), str(level.errors)])
    out["requests"] = (["variant", "aimed at", "connections", "req/s", "client's ceiling (req/s)", "p50 (ms)",
                        "p99 (ms)", "errors"], rows)

    rows = []
    for node, levels in result.calibration.items():
        for level in levels:
            rows.append([node, str(level.concurrency), f"{level.throughput:.0f}", ms(level.latency_ms.get("p50")),
                         ms(level.latency_ms.get("p99")), level.client_node or "–",
                         level.client_cpu_limit or "none (another node)"])
    out["calibration"] = (["node under test", "connections", "ceiling (req/s)", "p50 (ms)", "p99 (ms)",
                           "client on", "client CPU limit"], rows)
    return out


TITLES = {
    "summary": "At a glance (× native in brackets)",
    "cold": "Cold start, cut into its spans — median of the repeats (min–max)",
    "memory": "Memory: the pod's working set from the kubelet's stats summary",
    "density": "Density: N replicas at once",
    "size": "Image size",
    "requests": "Requests: wrk in a pod at the pod IP and the ClusterIP; the host's client through the NodePort",
    "calibration": "The load generator's ceiling: the same wrk against a trivial responder (nginx)",
}


def notes(result: BenchResult) -> list[str]:
    lines = list(result.notes)
    for name, v in result.variants.items():
        lines += [f"{name}: {n}" for n in v.notes]
        lines += [f"{name}: run {r.index} ({r.kind}) failed: {r.error}" for r in v.cold_start if r.error]
    return lines


def markdown(result: BenchResult) -> str:
    s = result.settings
    parts = [f"# wasm-lab bench: {result.lab}", "",
             f"Started {result.started}, finished {result.finished or '–'}"
             + (" — **interrupted**" if result.interrupted else "") + ". "
             f"Repeats: {s.get('repeat')}; connections: {s.get('concurrencies')}; {s.get('duration')} s per "
             f"level; density at {s.get('density', '–')} replicas. {machine(result)} Method: docs/bench.md.", ""]
    for key, (header, rows) in tables(result).items():
        parts += [f"## {TITLES[key]}", "", _table(header, rows), ""]
        if key == "size":
            parts += [f"Published sizes: {result.published.get('source')}, in {result.published.get('unit')}; "
                      "sizes here are 10^6 bytes.", ""]
        if key == "cold":
            parts += ["Spans end at the CRI's nanosecond times of the sandbox and container and at the first 200 "
                      "a probe in the node got from the pod IP (asked every 2 ms). \"first start\" is the bench's "
                      "first start of each variant; \"after image removal\" is a start after the image was "
                      "deleted from the node and loaded back (no registry can be pulled from): its times count "
                      "from pod creation, after the load.", ""]
        if key == "requests":
            parts += [f"\"{CLIENT_BOUND_MARK}\": the level reached at least half of the client's ceiling (next "
                      "table) on that node, so the server may be faster than shown.", ""]
    lines = notes(result)
    if lines:
        parts += ["## Notes", ""] + [f"- {line}" for line in lines] + [""]
    return "\n".join(parts)


def _avg(values) -> str:
    return " / ".join(f"{v:.2f}" for v in values) if values else "–"


def machine(result: BenchResult) -> str:
    """One sentence on how busy the machine was: load average and CPU steal."""
    host = result.host
    steal = host.get("steal_percent")
    return (f"Machine: {host.get('cpus')} CPU(s), load average (1/5/15 min) {_avg(host.get('loadavg_start'))} at "
            f"the start and {_avg(host.get('loadavg_end'))} at the end, CPU steal "
            f"{'–' if steal is None else f'{steal:.1f} %'} during the run.")


def rich_tables(result: BenchResult) -> list:
    """The same tables for the terminal (rich)."""
    from rich.table import Table

    out = []
    for key, (header, rows) in tables(result).items():
        table = Table(*header, title=TITLES[key], title_justify="left")
        for row in rows:
            table.add_row(*row)
        out.append(table)
    return out
