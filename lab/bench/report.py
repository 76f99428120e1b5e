"""The bench's results for people: a markdown table (also printed) and a self-contained HTML page.

Both are rendered from a BenchResult only, so they can be rebuilt from bench.json later."""
from __future__ import annotations

from html import escape

from lab.bench import svg
from lab.bench.results import SPANS, BenchResult, flavor

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
        pub = published.get(flavor(name))
        rows.append([name, mb(size.node_bytes if size else None), mb(size.host_bytes if size else None),
                     mb(size.gzip_bytes if size else None), "–" if pub is None else f"{pub:g}"])
    out["size"] = (["variant", "in node's containerd (MB)", "host Docker, unpacked (MB)", "docker save | gzip (MB)",
                    "published, same flavor (MB)"], rows)

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


# ----------------------------------------------------------------------------- HTML

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#111;
line-height:1.45;padding:0 16px}
h1{font-size:26px;margin-bottom:4px}h2{font-size:20px;margin-top:36px;border-bottom:1px solid #ccc;padding-bottom:4px}
table{border-collapse:collapse;margin:12px 0;font-size:14px;display:block;overflow-x:auto;max-width:100%}
th,td{border:1px solid #ccc;padding:4px 9px;text-align:right;white-space:nowrap}
th{background:#f2f4f7;white-space:normal;vertical-align:bottom;max-width:150px}td:first-child,th:first-child{text-align:left;font-weight:600}
.meta{color:#444;font-size:14px}.note{color:#444;font-size:14px;max-width:900px}
.chart{margin:14px 0;overflow-x:auto}.warn{background:#fff4d6;border:1px solid #e0c060;padding:8px 12px}
code{background:#f2f4f7;padding:1px 4px;border-radius:3px}
"""


def _html_table(header, rows) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def charts(result: BenchResult) -> dict[str, list[str]]:
    variants = list(result.variants)
    out: dict[str, list[str]] = {key: [] for key in TITLES}
    values: dict = {}
    for name, v in result.variants.items():
        spans = v.cold_summary().get("spans") or {}
        for span in SPANS:
            median = (spans.get(span) or {}).get("median")
            values[(name, span)] = None if median is None else median * 1000
    out["cold"].append(svg.stacked_bar_chart(
        "Where a cold start goes (median of the repeats per span)", variants, list(SPANS), values,
        axis="milliseconds after the pod object was created (ms)",
        note="to the first HTTP 200 at the pod IP, probed from the node every few ms; the Service comes after"))
    values = {}
    series = ["200 at the pod IP (repeats, median)", "200 via NodePort (repeats, median)", "first start, pod IP",
              "after image removal, pod IP", "image load"]
    for name, v in result.variants.items():
        summary = v.cold_summary()
        repeat = summary["repeat"] or {}
        values[(name, series[0])] = (repeat.get("pod_ip_200") or {}).get("median")
        values[(name, series[1])] = (repeat.get("http_200") or {}).get("median")
        values[(name, series[2])] = (summary["first"] or {}).get("pod_ip_200")
        values[(name, series[3])] = (summary["image_removed"] or {}).get("pod_ip_200")
        values[(name, series[4])] = (summary["image_removed"] or {}).get("image_load")
    out["cold"].append(svg.bar_chart("Time to the first HTTP 200", variants, series, values, axis="seconds (s)",
                                     note="image load is timed apart, before the pod is created"))
    values = {}
    for name, v in result.variants.items():
        for label, phase in (("idle", "idle"), ("after load", "after_load")):
            measured = memory_bytes(v, phase)
            values[(name, label)] = None if measured is None else measured / MIB
    out["memory"].append(svg.bar_chart("Working set per pod", variants, ["idle", "after load"], values,
                                       axis="working set (MiB)", digits=1))
    growth, ready_after = {}, {}
    for name, v in result.variants.items():
        runs = [run for run in v.density if run.node_working_set_after is not None]
        if runs:
            growth[name] = [(run.replicas, ((run.node_working_set_after or 0) - (run.node_working_set_before or 0)) / MIB)
                            for run in runs]
            ready_after[name] = [(run.replicas, run.seconds_to_ready) for run in runs]
    if growth:
        out["density"].append(svg.line_chart("Node memory taken by N pods", list(growth), growth,
                                             x_axis="replicas (N)", y_axis="node working set growth (MiB)"))
        out["density"].append(svg.line_chart("Time until all N pods were Ready", list(ready_after), ready_after,
                                             x_axis="replicas (N)", y_axis="seconds (s)", digits=2))
    values = {}
    series = ["in node's containerd", "docker save | gzip", "published (same flavor)"]
    published = result.published.get("sizes_mb", {})
    for name, v in result.variants.items():
        size = v.image_size
        values[(name, series[0])] = size.node_bytes / MB if size and size.node_bytes is not None else None
        values[(name, series[1])] = size.gzip_bytes / MB if size and size.gzip_bytes is not None else None
        values[(name, series[2])] = published.get(flavor(name))
    out["size"].append(svg.bar_chart("Image size", variants, series, values, axis="size (MB = 10⁶ bytes)", digits=2))
    levels = sorted({level.concurrency for v in result.variants.values() for level in v.load})
    if levels:
        series = [f"{c} connections" for c in levels]
        throughput, p50, p99, marks = {}, {}, {}, {}
        for name, v in result.variants.items():
            for level in v.load:
                key = (name, f"{level.concurrency} connections")
                throughput[key] = level.throughput
                p50[key] = level.latency_ms.get("p50")
                p99[key] = level.latency_ms.get("p99")
                if level.client_bound:
                    marks[key] = CLIENT_BOUND_MARK
        out["requests"].append(svg.bar_chart("Throughput at the pod IP (wrk in a pod)", variants, series, throughput,
                                             axis="HTTP 200 answers per second (req/s)", digits=0, marks=marks,
                                             note="client-bound: at least half the client's ceiling on that "
                                                  "node; the server may be faster than shown"))
        out["requests"].append(svg.bar_chart("Latency p50 at the pod IP", variants, series, p50,
                                             axis="milliseconds (ms)"))
        out["requests"].append(svg.bar_chart("Latency p99 at the pod IP", variants, series, p99,
                                             axis="milliseconds (ms)"))
    return out


def _avg(values) -> str:
    return " / ".join(f"{v:.2f}" for v in values) if values else "–"


def machine(result: BenchResult) -> str:
    """One sentence on how busy the machine was: load average and CPU steal."""
    host = result.host
    steal = host.get("steal_percent")
    return (f"Machine: {host.get('cpus')} CPU(s), load average (1/5/15 min) {_avg(host.get('loadavg_start'))} at "
            f"the start and {_avg(host.get('loadavg_end'))} at the end, CPU steal "
            f"{'–' if steal is None else f'{steal:.1f} %'} during the run.")


def html(result: BenchResult) -> str:
    s = result.settings
    host = result.host
    body = [f"<h1>wasm-lab bench: {escape(result.lab)}</h1>",
            f'<p class="meta">Started {escape(str(result.started))}, finished {escape(str(result.finished or "–"))}. '
            f"Host: {escape(str(host.get('platform', '')))}. {escape(machine(result))} "
            f"Repeats: {escape(str(s.get('repeat')))}; connections {escape(str(s.get('concurrencies')))}, "
            f"{escape(str(s.get('duration')))} s per level, <code>GET {escape(str(s.get('path')))}</code>; "
            f"density at {escape(str(s.get('density', '–')))} replicas. "
            "How each number is measured: <code>docs/bench.md</code>.</p>"]
    if result.interrupted:
        body.append('<p class="warn">This bench was interrupted: some numbers are missing.</p>')
    drawn = charts(result)
    explain = {
        "summary": "Medians and single numbers from the sections below; the ratio to the native variant in "
                   "brackets (below 1: smaller, faster or lighter than native, except req/s and pods per GiB "
                   "where above 1 is better). Execution: how the engine runs the module.",
        "cold": "Each repeat scales the Deployment to 0, waits until its pod is gone, scales it to 1 and follows "
                "the new pod three ways: the pod watch (created, scheduled, Ready), a probe inside the node (the "
                "CRI's nanosecond times of the sandbox and the container, and the first HTTP 200 at the pod IP, "
                "asked every 2 ms from the node's network) and the host asking the NodePort. The spans add up to "
                "the first 200 at the pod IP; the Service and kube-proxy come after it and are shown apart. "
                "<em>After image removal</em>: the image was deleted from the node's containerd and loaded back "
                "(there is no registry to pull from); the load is timed apart.",
        "memory": "workingSetBytes of the pod from <code>/api/v1/nodes/&lt;node&gt;/proxy/stats/summary</code>; idle: "
                  "the fresh pod the cold starts leave, before any load; then the first kubelet sample taken "
                  "after the load ended (the kubelet refreshes every 10–15 s). For a wasm shim the pod's cgroup "
                  "holds the wasm instance; the shims' own processes stay in containerd's cgroup.",
        "density": "The variant scaled from 0 to N replicas at once: time until all were Ready, pods that never "
                   "were, and the growth of the nodes' working set (kubelet, the node's root cgroup) per Ready "
                   "pod: it counts what runs for a pod outside its cgroup (a shim process per pod), which the "
                   "pod's own working set leaves out. Pods per GiB = 1 GiB / node memory per pod.",
        "size": f"In the node: containerd's size from the node's CRI image list. Compressed: "
                f"<code>docker save | gzip -6</code> of the host's image. Published: "
                f"{escape(str(result.published.get('source')))}, in {escape(str(result.published.get('unit')))}.",
        "requests": "wrk (Debian's, in a pod of the lab's load-generator image, on another node than the one "
                    "under test when there is one) at the pod IP at every level, and at the ClusterIP at the "
                    "highest; for reference, the host's own threaded client through the NodePort. Levels marked "
                    f"<em>{CLIENT_BOUND_MARK}</em> reached half of the client's ceiling or more: the server may "
                    "be faster than shown.",
        "calibration": "The same wrk, from the same client pod, against nginx answering <code>200 ok</code> on the "
                       "node under test: the most this client can measure on that path. On a machine whose cores "
                       "serve the cluster, the client and the servers alike, the ceiling is that machine's.",
    }
    for key, (header, rows) in tables(result).items():
        body.append(f"<h2>{escape(TITLES[key])}</h2>")
        body.append(f'<p class="note">{explain[key]}</p>')
        body += [f'<div class="chart">{chart}</div>' for chart in drawn.get(key, [])]
        body.append(_html_table(header, rows))
    lines = notes(result)
    if lines:
        body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>wasm-lab bench: {escape(result.lab)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


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
