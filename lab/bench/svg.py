"""Inline SVG bar charts for the HTML report, written by hand (no plotting library).

A chart is horizontal grouped bars: one group per category (variant), one bar per series, an
optional whisker per bar (min..max), the value at the end of each bar, a labelled x axis with
units, grid lines and a legend."""
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


def bar_chart(title: str, categories: list[str], series: list[str], values: dict, *, axis: str,
              digits: int = 2, whiskers: dict | None = None, width: int = 960, note: str | None = None) -> str:
    """`values[(category, series)]` -> number or None (drawn as "n/a"); `axis` names the unit."""
    whiskers = whiskers or {}
    bar_h, gap_in, gap_out = 18, 3, 16
    left, right, top = 210, 90, 58 + (18 if note else 0)
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

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
           'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="13">',
           f'<title>{escape(title)}</title>',
           f'<text x="{left}" y="22" font-size="16" font-weight="600">{escape(title)}</text>']
    if note:
        out.append(f'<text x="{left}" y="40" font-size="12" fill="#555">{escape(note)}</text>')
    # legend
    lx = float(left)
    ly = top - 16
    for i, name in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{color}"/>')
        out.append(f'<text x="{lx + 17}" y="{ly}">{escape(name)}</text>')
        lx += 30 + 7.5 * len(name)
    # grid and ticks
    bottom = top + plot_h
    for tick in ticks:
        tx = x(tick)
        out.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{bottom}" stroke="#ddd"/>')
        out.append(f'<text x="{tx:.1f}" y="{bottom + 18}" text-anchor="middle" fill="#333">{_fmt(tick, 3)}</text>')
    out.append(f'<line x1="{left}" y1="{bottom}" x2="{left + plot_w}" y2="{bottom}" stroke="#333"/>')
    out.append(f'<line x1="{left}" y1="{top - 4}" x2="{left}" y2="{bottom}" stroke="#333"/>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{bottom + 42}" text-anchor="middle" '
               f'font-weight="600">{escape(axis)}</text>')
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
            out.append(f'<text x="{end + 6:.1f}" y="{by + bar_h - 5}" fill="#111">{value:.{digits}f}</text>')
    out.append("</svg>")
    return "\n".join(out)
