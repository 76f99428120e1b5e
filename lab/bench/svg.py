"""Inline SVG charts for the HTML report, written by hand (no plotting library).

Three kinds: horizontal grouped bars (one group per category, one bar per series, an optional
whisker per bar, an optional mark after a value), horizontal stacked bars (one bar per category cut
into its series) and lines (one per series over a numeric x). Each has the values written on it, a
labelled axis with units, grid lines and a legend."""
from __future__ import annotations

import math
from html import escape

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `maximum` (steps of 1, 2, 2.5 or 5 times a power of ten)."""
    if maximum is None or maximum <= 0 or math.isnan(maximum):
        return [0.0, 1.0]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < maximum - 1e-12:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _header(title: str, width: int, height: int, left: int, note: str | None) -> list[str]:
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
           'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="13">',
           f'<title>{escape(title)}</title>',
           f'<text x="{left}" y="22" font-size="16" font-weight="600">{escape(title)}</text>']
    if note:
        out.append(f'<text x="{left}" y="40" font-size="12" fill="#555">{escape(note)}</text>')
    return out


def _legend(series: list[str], left: float, y: float) -> list[str]:
    out = []
    lx = float(left)
    for i, name in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{lx}" y="{y - 10}" width="12" height="12" fill="{color}"/>')
        out.append(f'<text x="{lx + 17}" y="{y}">{escape(name)}</text>')
        lx += 30 + 7.5 * len(name)
    return out


def _x_axis(ticks: list[float], x, left: float, plot_w: float, top: float, bottom: float, axis: str) -> list[str]:
    """Vertical grid lines at the ticks, their values, both axis lines and the axis title."""
    out = []
    for tick in ticks:
        tx = x(tick)
        out.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{bottom}" stroke="#ddd"/>')
        out.append(f'<text x="{tx:.1f}" y="{bottom + 18}" text-anchor="middle" fill="#333">{_fmt(tick, 3)}</text>')
    out.append(f'<line x1="{left}" y1="{bottom}" x2="{left + plot_w}" y2="{bottom}" stroke="#333"/>')
    out.append(f'<line x1="{left}" y1="{top - 4}" x2="{left}" y2="{bottom}" stroke="#333"/>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{bottom + 42}" text-anchor="middle" '
               f'font-weight="600">{escape(axis)}</text>')
    return out


def stacked_bar_chart(title: str, categories: list[str], series: list[str], values: dict, *, axis: str,
                      digits: int = 0, width: int = 960, note: str | None = None) -> str:
    """One bar per category, cut into `values[(category, series)]` (None: that part is missing and
    the bar says so); the total at the end."""
    bar_h, gap = 22, 14
    left, right, top = 240, 110, 58 + (18 if note else 0)
    plot_h = max(1, len(categories)) * (bar_h + gap)
    height = top + plot_h + 58
    plot_w = width - left - right
    totals = {c: sum(values.get((c, s)) or 0 for s in series) for c in categories}
    ticks = nice_ticks(max(totals.values()) if totals else 0)

    def x(value):
        return left + plot_w * (value / ticks[-1] if ticks[-1] else 0)

    out = _header(title, width, height, left, note) + _legend(series, left, top - 16)
    bottom = top + plot_h
    out += _x_axis(ticks, x, left, plot_w, top, bottom, axis)
    for i, category in enumerate(categories):
        y = top + i * (bar_h + gap) + gap / 2
        out.append(f'<text x="{left - 10}" y="{y + bar_h / 2 + 5:.1f}" text-anchor="end" '
                   f'font-weight="600">{escape(category)}</text>')
        start, missing = 0.0, False
        for k, name in enumerate(series):
            value = values.get((category, name))
            if value is None:
                missing = True
                continue
            out.append(f'<rect x="{x(start):.1f}" y="{y}" width="{max(0.0, x(start + value) - x(start)):.1f}" '
                       f'height="{bar_h}" fill="{PALETTE[k % len(PALETTE)]}" stroke="#fff" stroke-width="0.5">'
                       f'<title>{escape(category)} · {escape(name)}: {value:.{digits}f}</title></rect>')
            start += value
        label = f"{start:.{digits}f}" + (" (parts n/a)" if missing else "")
        out.append(f'<text x="{x(start) + 6:.1f}" y="{y + bar_h - 6}" fill="#111">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def line_chart(title: str, series: list[str], points: dict, *, x_axis: str, y_axis: str, digits: int = 1,
               width: int = 960, height: int = 360, note: str | None = None) -> str:
    """`points[series]` -> [(x, y), ...]: one line per series, each point marked and labelled."""
    left, right, top = 80, 40, 58 + (18 if note else 0)
    plot_w, plot_h = width - left - right, height - top - 60
    xs = [px for pts in points.values() for px, _ in pts]
    ys = [py for pts in points.values() for _, py in pts if py is not None]
    x_ticks, y_ticks = nice_ticks(max(xs) if xs else 0), nice_ticks(max(ys) if ys else 0)

    def sx(value):
        return left + plot_w * value / x_ticks[-1]

    def sy(value):
        return top + plot_h - plot_h * value / y_ticks[-1]

    out = _header(title, width, height, left, note) + _legend(series, left, top - 16)
    for tick in y_ticks:
        out.append(f'<line x1="{left}" y1="{sy(tick):.1f}" x2="{left + plot_w}" y2="{sy(tick):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{sy(tick) + 4:.1f}" text-anchor="end" fill="#333">{_fmt(tick, 3)}</text>')
    for tick in x_ticks:
        out.append(f'<text x="{sx(tick):.1f}" y="{top + plot_h + 18}" text-anchor="middle" fill="#333">'
                   f'{_fmt(tick, 3)}</text>')
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 14}" text-anchor="middle" font-weight="600">'
               f'{escape(x_axis)}</text>')
    out.append(f'<text x="16" y="{top + plot_h / 2:.1f}" text-anchor="middle" font-weight="600" '
               f'transform="rotate(-90 16 {top + plot_h / 2:.1f})">{escape(y_axis)}</text>')
    for k, name in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        pts = sorted((px, py) for px, py in points.get(name, []) if py is not None)
        if len(pts) > 1:
            path = " ".join(f"{sx(px):.1f},{sy(py):.1f}" for px, py in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for px, py in pts:
            out.append(f'<circle cx="{sx(px):.1f}" cy="{sy(py):.1f}" r="4" fill="{color}">'
                       f'<title>{escape(name)} at {_fmt(px, 3)}: {py:.{digits}f}</title></circle>')
            out.append(f'<text x="{sx(px) + 6:.1f}" y="{sy(py) - 6:.1f}" font-size="11" fill="{color}">'
                       f'{py:.{digits}f}</text>')
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(title: str, categories: list[str], series: list[str], values: dict, *, axis: str,
              digits: int = 2, whiskers: dict | None = None, width: int = 960, note: str | None = None,
              marks: dict | None = None) -> str:
    """`values[(category, series)]` -> number or None (drawn as "n/a"); `axis` names the unit;
    `marks[(category, series)]` is a word written after that value (e.g. "client-bound")."""
    whiskers = whiskers or {}
    marks = marks or {}
    bar_h, gap_in, gap_out = 18, 3, 16
    left, right, top = 240, 90 + (90 if marks else 0), 58 + (18 if note else 0)
    group_h = len(series) * (bar_h + gap_in) - gap_in
    plot_h = max(1, len(categories)) * (group_h + gap_out)
    height = top + plot_h + 58
    plot_w = width - left - right
    numbers = [v for v in values.values() if v is not None]
    numbers += [hi for (_, hi) in whiskers.values() if hi is not None]
    ticks = nice_ticks(max(numbers) if numbers else 0)
    top_value = ticks[-1]

    def x(value):
        return left + plot_w * (value / top_value if top_value else 0)

    out = _header(title, width, height, left, note) + _legend(series, left, top - 16)
    # grid and ticks
    bottom = top + plot_h
    out += _x_axis(ticks, x, left, plot_w, top, bottom, axis)
    # bars
    for g, category in enumerate(categories):
        gy = top + g * (group_h + gap_out) + gap_out / 2
        out.append(f'<text x="{left - 10}" y="{gy + group_h / 2 + 5:.1f}" text-anchor="end" '
                   f'font-weight="600">{escape(category)}</text>')
        for s, name in enumerate(series):
            by = gy + s * (bar_h + gap_in)
            value = values.get((category, name))
            color = PALETTE[s % len(PALETTE)]
            if value is None:
                out.append(f'<text x="{left + 6}" y="{by + bar_h - 5}" fill="#888" font-style="italic">n/a</text>')
                continue
            bw = max(0.0, x(value) - left)
            out.append(f'<rect x="{left}" y="{by}" width="{bw:.1f}" height="{bar_h}" fill="{color}">'
                       f'<title>{escape(category)} · {escape(name)}: {value:.{digits}f}</title></rect>')
            end = x(value)
            whisker = whiskers.get((category, name))
            if whisker and whisker[0] is not None and whisker[1] is not None:
                lo, hi = x(whisker[0]), x(whisker[1])
                mid = by + bar_h / 2
                out.append(f'<g stroke="#222" stroke-width="1.5"><line x1="{lo:.1f}" y1="{mid}" x2="{hi:.1f}" y2="{mid}"/>'
                           f'<line x1="{lo:.1f}" y1="{mid - 5}" x2="{lo:.1f}" y2="{mid + 5}"/>'
                           f'<line x1="{hi:.1f}" y1="{mid - 5}" x2="{hi:.1f}" y2="{mid + 5}"/></g>')
                end = max(end, hi)
            mark = f" {marks[(category, name)]}" if (category, name) in marks else ""
            out.append(f'<text x="{end + 6:.1f}" y="{by + bar_h - 5}" fill="#111">{value:.{digits}f}'
                       f'{escape(mark)}</text>')
    out.append("</svg>")
    return "\n".join(out)
