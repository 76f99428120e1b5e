"""The bench's self-contained HTML page: the tables of `lab.bench.report` with their charts and
what each section measures. Rendered from a BenchResult only, like the markdown."""
from __future__ import annotations

from html import escape

from lab.bench import svg
from lab.bench.report import CLIENT_BOUND_MARK, MB, MIB, TITLES, machine, memory_bytes, notes, tables
from lab.bench.results import SPANS, BenchResult

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
    series = ["in node's containerd", "docker save | gzip", "published (same packaging)"]
    published = result.published.get("sizes_mb", {})
    for name, v in result.variants.items():
        size = v.image_size
        values[(name, series[0])] = size.node_bytes / MB if size and size.node_bytes is not None else None
        values[(name, series[1])] = size.gzip_bytes / MB if size and size.gzip_bytes is not None else None
        values[(name, series[2])] = published.get(v.packaging or "")
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
