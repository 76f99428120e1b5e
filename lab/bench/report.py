"""The bench's results for people: a markdown table (also printed) and a self-contained HTML page.

Both are rendered from a BenchResult only, so they can be rebuilt from bench.json later."""
from __future__ import annotations

from html import escape

from lab.bench import svg
from lab.bench.results import PHASE_TITLES, PHASES, BenchResult, flavor

MB = 1_000_000
MIB = 1 << 20


def seconds(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def mb(value) -> str:
    return "–" if value is None else f"{value / MB:.2f}"


def mib(value) -> str:
    return "–" if value is None else f"{value / MIB:.1f}"


def ms(value) -> str:
    return "–" if value is None else (f"{value:.2f}" if value < 10 else f"{value:.1f}")


def median_range(spread: dict | None) -> str:
    if not spread or spread.get("median") is None:
        return "–"
    if spread["n"] == 1:
        return seconds(spread["median"])
    return f"{seconds(spread['median'])} ({seconds(spread['min'])}–{seconds(spread['max'])})"


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


def headline(v) -> dict:
    """The few numbers a reader compares first, for one variant."""
    summary = v.cold_summary()
    repeat = (summary["repeat"] or {}).get("http_200") or {}
    top = max(v.load, key=lambda level: level.concurrency, default=None)
    single = next((level for level in v.load if level.concurrency == 1), None)
    return {"image": v.image_size.node_bytes if v.image_size else None, "start": repeat.get("median"),
            "memory": memory_bytes(v, "idle"), "throughput": top.throughput if top else None,
            "concurrency": top.concurrency if top else None,
            "p50": single.latency_ms.get("p50") if single else None}


def summary_table(result: BenchResult) -> tuple[list[str], list[list[str]]]:
    lines = {name: headline(v) for name, v in result.variants.items()}
    base = lines.get("native", {})
    levels = {h["concurrency"] for h in lines.values() if h["concurrency"]}
    top = f"{max(levels)} concurrent" if len(levels) == 1 else "highest concurrency"
    rows = []
    for name, h in lines.items():
        rows.append([name, mb(h["image"]) + _ratio(h["image"], base.get("image")),
                     seconds(h["start"]) + _ratio(h["start"], base.get("start")),
                     mib(h["memory"]) + _ratio(h["memory"], base.get("memory")),
                     ("–" if h["throughput"] is None else f"{h['throughput']:.0f}")
                     + _ratio(h["throughput"], base.get("throughput")),
                     ms(h["p50"]) + _ratio(h["p50"], base.get("p50"))])
    return (["variant", "image in node (MB)", "first HTTP 200, median of repeats (s)", "idle working set (MiB)",
             f"req/s at {top}", "p50 at 1 concurrent (ms)"], rows)


def tables(result: BenchResult) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Each section as (header, rows) of plain strings: the one source of the markdown and HTML tables."""
    out = {"summary": summary_table(result)}
    rows = []
    for name, v in result.variants.items():
        summary = v.cold_summary()
        repeat = summary["repeat"] or {}
        first = summary["first"] or {}
        removed = summary["image_removed"] or {}
        rows.append([name] + [median_range(repeat.get(p)) for p in PHASES]
                    + [seconds(first.get("http_200")), seconds(removed.get("image_load")),
                       seconds(removed.get("http_200"))])
    out["cold"] = (["variant"] + [f"{PHASE_TITLES[p]} (s)" for p in PHASES]
                   + ["first start: 200 (s)", "image load (s)", "after image removal: 200 (s)"], rows)

    rows = []
    for name, v in result.variants.items():
        rows.append([name, mib(memory_bytes(v, "idle")), mib(memory_bytes(v, "after_load"))])
    out["memory"] = (["variant", "idle working set (MiB)", "after load (MiB)"], rows)

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
    for name, v in result.variants.items():
        for level in v.load:
            lat = level.latency_ms
            rows.append([name, str(level.concurrency), f"{level.throughput:.0f}", ms(lat.get("p50")), ms(lat.get("p95")),
                         ms(lat.get("p99")), f"{level.ok}/{level.requests}", str(level.errors), level.stopped_by])
    out["requests"] = (["variant", "concurrency", "req/s", "p50 (ms)", "p95 (ms)", "p99 (ms)", "HTTP 200",
                        "errors", "ended by"], rows)
    return out


TITLES = {
    "summary": "At a glance (× native in brackets)",
    "cold": "Cold start: seconds after the pod was created — median of the repeats (min–max)",
    "memory": "Memory: the pod's working set from the kubelet's stats summary",
    "size": "Image size",
    "requests": "Requests through the NodePort",
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
             f"Repeats: {s.get('repeat')}; concurrencies: {s.get('concurrencies')}; at most {s.get('requests')} "
             f"requests or {s.get('duration')} s per level. Method: docs/bench.md.", ""]
    for key, (header, rows) in tables(result).items():
        parts += [f"## {TITLES[key]}", "", _table(header, rows), ""]
        if key == "size":
            parts += [f"Published sizes: {result.published.get('source')}, in {result.published.get('unit')}; "
                      "sizes here are 10^6 bytes.", ""]
        if key == "cold":
            parts += ["\"first start\" is the bench's first start of each variant; \"after image removal\" is a "
                      "start after the image was deleted from the node and loaded back with `kind load` "
                      "(no registry can be pulled from): its time to 200 counts from pod creation, after the load.", ""]
    lines = notes(result)
    if lines:
        parts += ["## Notes", ""] + [f"- {line}" for line in lines] + [""]
    return "\n".join(parts)


# ----------------------------------------------------------------------------- HTML

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#111;
line-height:1.45;padding:0 16px}
h1{font-size:26px;margin-bottom:4px}h2{font-size:20px;margin-top:36px;border-bottom:1px solid #ccc;padding-bottom:4px}
table{border-collapse:collapse;margin:12px 0;font-size:14px}
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
    # cold start phases: medians of the repeats, whiskers min..max
    values, whiskers = {}, {}
    series = [PHASE_TITLES[p] for p in PHASES]
    for name, v in result.variants.items():
        repeat = v.cold_summary()["repeat"] or {}
        for phase in PHASES:
            spread = repeat.get(phase) or {}
            values[(name, PHASE_TITLES[phase])] = spread.get("median")
            if spread.get("n", 0) > 1:
                whiskers[(name, PHASE_TITLES[phase])] = (spread["min"], spread["max"])
    out["cold"].append(svg.bar_chart("Cold start phases (median of repeats; whisker: min–max)", variants, series,
                                     values, whiskers=whiskers, axis="seconds after the pod object was created (s)"))
    values = {}
    series = ["first start", "repeats (median)", "after image removal", "image load (kind load)"]
    for name, v in result.variants.items():
        summary = v.cold_summary()
        values[(name, series[0])] = (summary["first"] or {}).get("http_200")
        values[(name, series[1])] = ((summary["repeat"] or {}).get("http_200") or {}).get("median")
        values[(name, series[2])] = (summary["image_removed"] or {}).get("http_200")
        values[(name, series[3])] = (summary["image_removed"] or {}).get("image_load")
    out["cold"].append(svg.bar_chart("Time to the first HTTP 200 seen from the host", variants, series, values,
                                     axis="seconds (s)", note="image load is timed apart, before the pod is created"))
    values = {}
    for name, v in result.variants.items():
        for label, phase in (("idle", "idle"), ("after load", "after_load")):
            measured = memory_bytes(v, phase)
            values[(name, label)] = None if measured is None else measured / MIB
    out["memory"].append(svg.bar_chart("Working set per pod", variants, ["idle", "after load"], values,
                                       axis="working set (MiB)", digits=1))
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
        series = [f"{c} concurrent" for c in levels]
        throughput, p50, p99 = {}, {}, {}
        for name, v in result.variants.items():
            for level in v.load:
                key = (name, f"{level.concurrency} concurrent")
                throughput[key] = level.throughput
                p50[key] = level.latency_ms.get("p50")
                p99[key] = level.latency_ms.get("p99")
        out["requests"].append(svg.bar_chart("Throughput", variants, series, throughput,
                                             axis="HTTP 200 answers per second (req/s)", digits=0))
        out["requests"].append(svg.bar_chart("Latency p50", variants, series, p50, axis="milliseconds (ms)"))
        out["requests"].append(svg.bar_chart("Latency p99", variants, series, p99, axis="milliseconds (ms)"))
    return out


def _avg(values) -> str:
    return " / ".join(f"{v:.2f}" for v in values) if values else "–"


def html(result: BenchResult) -> str:
    s = result.settings
    host = result.host
    body = [f"<h1>wasm-lab bench: {escape(result.lab)}</h1>",
            f'<p class="meta">Started {escape(str(result.started))}, finished {escape(str(result.finished or "–"))}. '
            f"Host: {escape(str(host.get('cpus')))} CPU(s), {escape(str(host.get('platform', '')))}; "
            f"load average (1, 5, 15 min) at start {escape(_avg(host.get('loadavg_start')))}, at end "
            f"{escape(_avg(host.get('loadavg_end')))}. Repeats: {escape(str(s.get('repeat')))}; concurrencies "
            f"{escape(str(s.get('concurrencies')))}; at most {escape(str(s.get('requests')))} requests or "
            f"{escape(str(s.get('duration')))} s per level, <code>GET {escape(str(s.get('path')))}</code>. "
            "How each number is measured: <code>docs/bench.md</code>.</p>"]
    if result.interrupted:
        body.append('<p class="warn">This bench was interrupted: some numbers are missing.</p>')
    drawn = charts(result)
    explain = {
        "summary": "Medians and single numbers from the sections below; the ratio to the native variant in "
                   "brackets (below 1: smaller, faster or lighter than native, except req/s where above 1 is better).",
        "cold": "Each repeat scales the Deployment to 0, waits until its pod is gone, scales it to 1 and times the "
                "new pod from its creation as the host's watch saw it. Pod Ready and the first HTTP 200 are "
                "quantised by the readiness probe's 2 s period; the first 200 also needs the Service's endpoints "
                "and kube-proxy. <em>After image removal</em>: the image was deleted from the node's containerd "
                "and loaded back with <code>kind load</code> (there is no registry to pull from); the load is "
                "timed apart and the start after it includes any first-start compilation.",
        "memory": "workingSetBytes of the pod from <code>/api/v1/nodes/&lt;node&gt;/proxy/stats/summary</code>; idle: "
                  "the fresh pod the cold starts leave, before any load; then the first kubelet sample taken "
                  "after the load ended (the kubelet "
                  "refreshes every 10–15 s). For a wasm shim the pod's cgroup holds the wasm instance; the "
                  "shims' own processes stay in containerd's cgroup, as runc's shim does for the other pods.",
        "size": f"In the node: containerd's size from the node's CRI image list. Compressed: "
                f"<code>docker save | gzip -6</code> of the host's image. Published: "
                f"{escape(str(result.published.get('source')))}, in {escape(str(result.published.get('unit')))}.",
        "requests": "The bench's own client (threads, one keep-alive http.client connection each) through "
                    "the NodePort on 127.0.0.1 (kind) or the node's address; the client shares the machine's cores with the cluster. "
                    "Latencies of HTTP 200 answers only; errors counted apart.",
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
