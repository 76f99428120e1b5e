"""lab.bench without a cluster: statistics, the JSON schema, markdown and HTML on synthetic results."""
import json
import re
import xml.etree.ElementTree as ET

import pytest

from lab.bench import render, report, results, stats, svg, write
from lab.bench.results import (
    BenchResult,
    ColdStartRun,
    ImageSize,
    LoadLevel,
    MemorySample,
    VariantResult,
    from_dict,
    validate,
)

VARIANTS = ("native", "embed-wasmedge", "runtime-wasmedge")


def synthetic(interrupted=False) -> BenchResult:
    result = BenchResult(lab="wasm-lab", started="2026-11-21T20:00:00+00:00", finished="2026-11-21T20:10:00+00:00",
                         settings={"variants": list(VARIANTS), "repeat": 3, "concurrencies": [1, 4],
                                   "requests": 500, "duration": 5.0, "path": "/get", "image_removed": True},
                         host={"cpus": 2, "platform": "Linux", "loadavg_start": [1.0, 1.0, 1.0]},
                         interrupted=interrupted)
    for i, name in enumerate(VARIANTS):
        v = VariantResult(variant=name, deployment=f"httpbin-{name}", port=30080 + i, image=f"wasm-lab/httpbin:{name}",
                          runtime_class="wasmedge" if name.startswith("runtime") else None, node="wasm-lab-worker")
        for run in range(3):
            base = 1.0 + i * 0.5 + run * 0.1
            v.cold_start.append(ColdStartRun(index=run, kind="first" if run == 0 else "repeat",
                                             seconds={"scheduled": 0.01, "running": base, "ready": base + 1,
                                                      "http_200": base + 1.2}))
        v.cold_start.append(ColdStartRun(index=3, kind="image-removed", image_load_seconds=4.5,
                                         seconds={"scheduled": 0.01, "running": 3.0, "ready": 4.0, "http_200": 4.2}))
        v.memory["idle"] = MemorySample(pod_working_set_bytes=(2 + i) * 1 << 20,
                                        containers={"httpbin": {"working_set_bytes": (2 + i) << 20,
                                                                "rss_bytes": None, "usage_bytes": None}})
        v.memory["after_load"] = MemorySample(pod_working_set_bytes=None,
                                              containers={"httpbin": {"working_set_bytes": (4 + i) << 20,
                                                                      "rss_bytes": None, "usage_bytes": None}})
        v.image_size = ImageSize(ref=v.image, node_bytes=(9 - 3 * i) * 1_000_000, host_bytes=10_000_000,
                                 gzip_bytes=3_000_000)
        for c in (1, 4):
            v.load.append(LoadLevel(concurrency=c, requests=500, ok=500, errors=0, seconds=1.0, throughput=500.0 * c,
                                    latency_ms=stats.latency_summary([1.0, 2.0, 3.0 + i]), stopped_by="count"))
        result.variants[name] = v
    result.variants["runtime-wasmedge"].notes.append("a note with <angle> & ampersand")
    return result


# ----------------------------------------------------------------------------- statistics

def test_percentile_interpolates_between_ranks():
    data = [1, 2, 3, 4]
    assert stats.percentile(data, 0) == 1
    assert stats.percentile(data, 100) == 4
    assert stats.percentile(data, 50) == 2.5
    assert stats.percentile(data, 25) == pytest.approx(1.75)
    assert stats.percentile([7], 99) == 7
    assert stats.percentile([], 50) is None
    assert stats.percentile([3, None, 1], 50) == 2


def test_percentile_matches_nearest_ranks_on_a_hundred_values():
    data = list(range(1, 101))
    assert stats.percentile(data, 95) == pytest.approx(95.05)
    assert stats.percentile(data, 99) == pytest.approx(99.01)


def test_percentile_rejects_out_of_range():
    with pytest.raises(ValueError):
        stats.percentile([1], 101)


def test_spread_of_few_samples():
    s = stats.spread([3.0, 1.0, 2.0, None])
    assert (s.n, s.median, s.min, s.max) == (3, 2.0, 1.0, 3.0)
    assert s.iqr == pytest.approx(1.0)
    assert stats.spread([]).as_dict()["median"] is None


def test_latency_summary():
    summary = stats.latency_summary([5.0, 1.0, 3.0])
    assert summary["p50"] == 3.0 and summary["min"] == 1.0 and summary["max"] == 5.0 and summary["mean"] == 3.0
    assert stats.latency_summary([])["p99"] is None


# ----------------------------------------------------------------------------- schema

def test_cold_summary_reports_first_repeats_and_image_removed_apart():
    summary = synthetic().variants["native"].cold_summary()
    assert summary["first"]["http_200"] == pytest.approx(2.2)
    assert summary["repeat"]["http_200"]["n"] == 2
    assert summary["repeat"]["http_200"]["median"] == pytest.approx(2.35)
    assert summary["image_removed"] == {"scheduled": 0.01, "running": 3.0, "ready": 4.0, "http_200": 4.2,
                                        "image_load": 4.5}


def test_failed_runs_are_left_out_of_the_summary():
    v = VariantResult(variant="native", deployment="httpbin-native")
    v.cold_start.append(ColdStartRun(index=0, kind="first", seconds=dict.fromkeys(results.PHASES), error="boom"))
    assert v.cold_summary() == {"first": None, "repeat": None, "image_removed": None}


def test_json_round_trip_and_version():
    data = json.loads(json.dumps(synthetic().as_dict()))
    assert data["schema"] == "wasm-lab/bench" and data["version"] == 1
    assert data["variants"]["native"]["flavor"] == "native"
    assert data["published"]["sizes_mb"] == {"native": 8.7, "embed": 12.4, "runtime": 1.15}
    again = from_dict(data)
    assert again.as_dict() == data


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(schema="other"), "not a wasm-lab bench result"),
    (lambda d: d.update(version=2), "version 2 is not supported"),
    (lambda d: d.pop("variants"), "lacks 'variants'"),
    (lambda d: d["variants"]["native"].pop("load"), "variant native lacks 'load'"),
    (lambda d: d["variants"]["native"]["cold_start"][0].update(kind="warm"), "cold start kind 'warm'"),
])
def test_validate_rejects(mutate, message):
    data = synthetic().as_dict()
    mutate(data)
    with pytest.raises(ValueError, match=re.escape(message)):
        validate(data)


def test_flavor():
    assert [results.flavor(v) for v in ("native", "embed-wasmtime", "runtime-crun-wasmedge")] == \
        ["native", "embed", "runtime"]


# ----------------------------------------------------------------------------- markdown

def test_markdown_tables():
    text = report.markdown(synthetic())
    assert text.startswith("# wasm-lab bench: wasm-lab")
    assert "| native | 0.01 (0.01–0.01) | 1.15 (1.10–1.20) | 2.15 (2.10–2.20) | 2.35 (2.30–2.40) | 2.20 | 4.50 | 4.20 |" in text
    assert "| native | 2.0 | 4.0 |" in text            # memory, MiB; after load from the container sum
    assert "| runtime-wasmedge | 3.00 | 10.00 | 3.00 | 1.15 |" in text   # sizes and published runtime size
    assert "| embed-wasmedge | 4 | 2000 |" in text
    assert "runtime-wasmedge: a note with <angle> & ampersand" in text
    # every table row has as many cells as its header
    for block in re.findall(r"(\|.*\|\n\|[-:|]+\|\n(?:\|.*\|\n?)+)", text):
        lines = block.strip().splitlines()
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in lines}
        assert len(widths) == 1, lines


def test_summary_gives_ratios_to_native():
    text = report.markdown(synthetic())
    assert "| native | 9.00 (×1.00) | 2.35 (×1.00) | 2.0 (×1.00) | 2000 (×1.00) | 2.00 (×1.00) |" in text
    assert "| runtime-wasmedge | 3.00 (×0.33) | 3.35 (×1.43) | 4.0 (×2.00) | 2000 (×1.00) | 2.00 (×1.00) |" in text
    assert "req/s at 4 concurrent" in text


def test_markdown_of_missing_numbers_shows_dashes():
    result = BenchResult(lab="x", started="now", settings={})
    result.variants["native"] = VariantResult(variant="native", deployment="httpbin-native")
    text = report.markdown(result)
    assert "| native | – | – | – | – | – | – | – |" in text
    assert "| native | – | – |" in text


# ----------------------------------------------------------------------------- HTML and SVG

def test_html_is_self_contained_and_escaped():
    page = report.html(synthetic(interrupted=True))
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "a note with &lt;angle&gt; &amp; ampersand" in page
    assert "interrupted" in page
    assert page.count("<svg") == 7  # cold start ×2, memory, size, throughput, p50, p99


def test_every_svg_is_well_formed_with_labelled_axes():
    for charts in report.charts(synthetic()).values():
        for chart in charts:
            root = ET.fromstring(chart)
            texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
            assert any("(" in t and ")" in t for t in texts), texts   # an axis title with its unit
            assert "native" in texts and "runtime-wasmedge" in texts


def test_bar_chart_draws_values_na_and_whiskers():
    chart = svg.bar_chart("t", ["a", "b"], ["s"], {("a", "s"): 2.0, ("b", "s"): None}, axis="seconds (s)",
                          whiskers={("a", "s"): (1.5, 3.0)})
    root = ET.fromstring(chart)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "n/a" in texts and "2.00" in texts
    assert len(list(root.iter("{http://www.w3.org/2000/svg}line"))) >= 3 + 2  # whisker + axes


def test_bar_chart_bars_are_proportional():
    chart = svg.bar_chart("t", ["a", "b"], ["s"], {("a", "s"): 1.0, ("b", "s"): 4.0}, axis="x (s)")
    widths = [float(r.get("width")) for r in ET.fromstring(chart).iter("{http://www.w3.org/2000/svg}rect")
              if r.get("height") == "18"]
    assert widths[1] == pytest.approx(4 * widths[0], rel=0.01)


@pytest.mark.parametrize("maximum, last", [(0.37, 0.4), (4.2, 5), (1234, 1250), (0, 1.0), (10, 10)])
def test_nice_ticks(maximum, last):
    ticks = svg.nice_ticks(maximum)
    assert ticks[0] == 0 and ticks[-1] == pytest.approx(last) and ticks[-1] >= maximum
    assert len(ticks) <= 7


def test_write_and_render_again(tmp_path):
    paths = write(synthetic(), tmp_path)
    assert {p.name for p in paths.values()} == {"bench.json", "bench.md", "bench.html"}
    before = paths["html"].read_text()
    paths["html"].unlink()
    result, again = render(paths["json"])
    assert again["html"].read_text() == before
    assert result.lab == "wasm-lab"


def test_render_rejects_bad_files(tmp_path):
    from lab.errors import InputError

    with pytest.raises(InputError, match="does not exist"):
        render(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"schema": "nope"}')
    with pytest.raises(InputError, match="not a wasm-lab bench result"):
        render(tmp_path / "bad.json")


def test_rich_tables_match_sections():
    tables = report.rich_tables(synthetic())
    assert len(tables) == 5
    assert tables[1].row_count == 3
