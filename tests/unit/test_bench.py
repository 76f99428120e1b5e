"""lab.bench without a cluster: statistics, the JSON schema, markdown and HTML on synthetic results."""
import json
import re
import xml.etree.ElementTree as ET

import pytest

from lab.bench import page, render, report, results, stats, svg, write
from lab.bench.results import (
    BenchResult,
    ColdStartRun,
    DensityRun,
    ImageSize,
    LoadLevel,
    MemorySample,
    VariantResult,
    from_dict,
    migrate,
    validate,
)

VARIANTS = ("native", "embed-wasmedge", "runtime-wasmedge")
PACKAGINGS = {"native": "native", "embed-wasmedge": "embed", "runtime-wasmedge": "runtime"}
ENGINES = {"embed-wasmedge": {"name": "wasmedge", "version": "0.14.1", "artifact": "base-wasmedge",
                              "origin": "Debian packages via kit recipe wasmedge-cli"},
           "runtime-wasmedge": {"name": "wasmedge", "version": "0.14.1", "artifact": "shim-wasmedge",
                                "origin": "release v0.6.1"}}


def synthetic(interrupted=False) -> BenchResult:
    result = BenchResult(lab="wasm-lab", started="2026-11-21T20:00:00+00:00", finished="2026-11-21T20:10:00+00:00",
                         settings={"variants": list(VARIANTS), "repeat": 3, "concurrencies": [1, 4],
                                   "requests": 500, "duration": 5.0, "path": "/get", "image_removed": True},
                         host={"cpus": 2, "platform": "Linux", "loadavg_start": [1.0, 1.0, 1.0]},
                         interrupted=interrupted)
    for i, name in enumerate(VARIANTS):
        v = VariantResult(variant=name, deployment=f"httpbin-{name}", port=30080 + i, image=f"wasm-lab/httpbin:{name}",
                          runtime_class="wasmedge" if name.startswith("runtime") else None, node="wasm-lab-worker",
                          packaging=PACKAGINGS[name],
                          execution="native" if name == "native" else "interpreter", engine=ENGINES.get(name))
        for run in range(3):
            base = 1.0 + i * 0.5 + run * 0.1
            started = 0.5 + i * 0.1
            v.cold_start.append(ColdStartRun(index=run, kind="first" if run == 0 else "repeat",
                                             seconds={"scheduled": 0.01, "sandbox_created": 0.3, "sandbox_ready": 0.42,
                                                      "container_created": 0.4, "container_started": started,
                                                      "running": base, "pod_ip_200": started + 0.01 * (i + 1) + run * 0.002,
                                                      "ready": base + 1, "http_200": base + 1.2}))
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
                                    latency_ms=stats.latency_summary([1.0, 2.0, 3.0 + i]), stopped_by="duration",
                                    target="pod-ip", client="wrk", ceiling=3000.0,
                                    client_bound=500.0 * c >= 1500))
        v.load_nodeport.append(LoadLevel(concurrency=4, requests=100, ok=100, errors=0, seconds=1.0, throughput=100.0,
                                         latency_ms=stats.latency_summary([5.0]), stopped_by="count"))
        v.density.append(DensityRun(replicas=10, ready=10, failed={}, seconds_to_ready=3.0 + i, nodes=["w"],
                                    node_working_set_before=100 << 20, node_working_set_after=(100 + 10 * (1 + i)) << 20,
                                    pods_working_set=5 << 20))
        result.variants[name] = v
    result.calibration["wasm-lab-worker"] = [
        LoadLevel(concurrency=c, requests=1, ok=1, errors=0, seconds=1.0, throughput=3000.0, stopped_by="duration",
                  latency_ms={"p50": 0.1, "p99": 0.5}, target="responder", client="wrk", client_node="cp")
        for c in (1, 4)]
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


def test_a_cold_start_is_cut_into_spans_that_add_up_to_the_pod_ip_answer():
    run = synthetic().variants["embed-wasmedge"].cold_start[1]
    spans = run.spans()
    assert spans == {"scheduling": 0.01, "kubelet to sandbox": 0.29, "sandbox and image": 0.1,
                     "container start": 0.2, "started to first 200": 0.022, "nodeport": pytest.approx(2.178)}
    assert sum(v for k, v in spans.items() if k != "nodeport") == pytest.approx(run.seconds["pod_ip_200"])
    summary = synthetic().variants["native"].cold_summary()["spans"]
    assert summary["started to first 200"]["median"] == pytest.approx(0.013)


def test_a_span_with_a_missing_end_is_none():
    run = ColdStartRun(index=0, kind="first", seconds={"scheduled": 0.01, "http_200": 2.0})
    assert run.spans()["scheduling"] == 0.01 and run.spans()["started to first 200"] is None


def test_failed_runs_are_left_out_of_the_summary():
    v = VariantResult(variant="native", deployment="httpbin-native")
    v.cold_start.append(ColdStartRun(index=0, kind="first", seconds=dict.fromkeys(results.PHASES), error="boom"))
    assert v.cold_summary() == {"first": None, "repeat": None, "image_removed": None, "spans": None}


def test_density_per_pod_and_pods_per_gib():
    run = synthetic().variants["runtime-wasmedge"].density[0]
    assert run.per_pod_node_bytes == 3 << 20 and run.pods_per_gib == pytest.approx(1024 / 3)
    assert DensityRun(replicas=5, ready=0, failed={"Unschedulable": 5}, seconds_to_ready=None, nodes=[],
                      node_working_set_before=None, node_working_set_after=None,
                      pods_working_set=None).pods_per_gib is None


def test_a_version_1_result_is_read_as_the_current_version():
    old = synthetic().as_dict()
    old["version"] = 1
    for variant in old["variants"].values():
        for key in ("load_service", "load_nodeport", "density", "execution", "engine"):
            variant.pop(key)
        variant["flavor"] = variant.pop("packaging")
        for run in variant["cold_start"]:
            run.pop("probe")
            run["seconds"] = {k: run["seconds"][k] for k in ("scheduled", "running", "ready", "http_200")}
    new = migrate(old)
    assert new["version"] == 4 and old["version"] == 1
    native = from_dict(old).variants["native"]
    assert native.load == [] and [lv.target for lv in native.load_nodeport] == ["nodeport", "nodeport"]
    assert native.cold_start[0].seconds["pod_ip_200"] is None and native.cold_start[0].probe["ran"] is False
    report.markdown(from_dict(old))   # renders with dashes where version 1 had nothing


def test_a_version_2_result_is_read_with_its_engines_unknown():
    old = synthetic().as_dict()
    old["version"] = 2
    for variant in old["variants"].values():
        variant.pop("engine")
        variant["flavor"] = variant.pop("packaging")
    read = from_dict(old)
    assert old["version"] == 2 and "engine" not in old["variants"]["runtime-wasmedge"]
    assert {name: v.engine for name, v in read.variants.items()} == dict.fromkeys(VARIANTS)
    assert read.as_dict()["version"] == 4
    assert "| runtime-wasmedge | interpreter | – | 3.00 (×0.33) |" in report.markdown(read)


def test_every_row_says_the_engine_and_version_it_ran_on():
    data = json.loads(json.dumps(synthetic().as_dict()))
    assert data["variants"]["runtime-wasmedge"]["engine"] == ENGINES["runtime-wasmedge"]
    assert data["variants"]["native"]["engine"] is None
    text = report.markdown(from_dict(data))
    assert "| variant | execution | engine | image in node (MB) |" in text
    assert "| embed-wasmedge | interpreter | wasmedge 0.14.1 |" in text and "| native | native binary | – |" in text


def test_json_round_trip_and_version():
    data = json.loads(json.dumps(synthetic().as_dict()))
    assert data["schema"] == "wasm-lab/bench" and data["version"] == 4
    assert {name: v["packaging"] for name, v in data["variants"].items()} == PACKAGINGS
    assert not any("flavor" in v for v in data["variants"].values())
    assert data["published"]["sizes_mb"] == {"native": 8.7, "embed": 12.4, "runtime": 1.15}
    again = from_dict(data)
    assert again.as_dict() == data


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(schema="other"), "not a wasm-lab bench result"),
    (lambda d: d.update(version=5), "version 5 is not supported"),
    (lambda d: d.pop("variants"), "lacks 'variants'"),
    (lambda d: d["variants"]["native"].pop("load"), "variant native lacks 'load'"),
    (lambda d: d["variants"]["native"]["cold_start"][0].update(kind="warm"), "cold start kind 'warm'"),
])
def test_validate_rejects(mutate, message):
    data = synthetic().as_dict()
    mutate(data)
    with pytest.raises(ValueError, match=re.escape(message)):
        validate(data)


def test_a_version_3_result_is_read_with_its_flavor_as_the_packaging():
    old = json.loads(json.dumps(synthetic().as_dict()))
    old["version"] = 3
    for variant in old["variants"].values():
        variant["flavor"] = variant.pop("packaging")
    read = from_dict(old)
    assert {name: v.packaging for name, v in read.variants.items()} == PACKAGINGS
    assert old["variants"]["native"]["flavor"] == "native"   # the file read is left as it was
    again = read.as_dict()
    assert again["version"] == 4 and not any("flavor" in v for v in again["variants"].values())
    # the published sizes are matched by packaging, as before by flavor
    assert "| embed-wasmedge | 6.00 | 10.00 | 3.00 | 12.4 |" in report.markdown(read)


# ----------------------------------------------------------------------------- markdown

def test_markdown_tables():
    text = report.markdown(synthetic())
    assert text.startswith("# wasm-lab bench: wasm-lab")
    assert ("| native | 10 (10–10) | 290 (290–290) | 100 (100–100) | 100 (100–100) | 13 (12–14) | 1837 (1788–1886) "
            "| 0.51 (0.51–0.51) | 2.15 (2.10–2.20) | 2.35 (2.30–2.40) | 0.51 | 4.50 | – |") in text
    assert "| native | 2.0 | 4.0 |" in text            # memory, MiB; after load from the container sum
    assert "| runtime-wasmedge | 10 | 10 | 0 | 5.00 | 3.0 | 0.5 | 341 |" in text   # density
    assert "| runtime-wasmedge | 3.00 | 10.00 | 3.00 | 1.15 |" in text   # sizes and published runtime size
    assert "| embed-wasmedge | pod IP (wrk) | 4 | 2000 (client-bound) | 3000 | 2.00 | 3.96 | 0 |" in text
    assert "| embed-wasmedge | NodePort (host client) | 4 | 100 | – | 5.00 | 5.00 | 0 |" in text
    assert "| wasm-lab-worker | 4 | 3000 | 0.10 | 0.50 | cp | none (another node) |" in text   # calibration
    assert "runtime-wasmedge: a note with <angle> & ampersand" in text
    # every table row has as many cells as its header
    for block in re.findall(r"(\|.*\|\n\|[-:|]+\|\n(?:\|.*\|\n?)+)", text):
        lines = block.strip().splitlines()
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in lines}
        assert len(widths) == 1, lines


def test_summary_gives_ratios_to_native():
    text = report.markdown(synthetic())
    assert ("| native | native binary | – | 9.00 (×1.00) | 13 (×1.00) | 0.51 (×1.00) | 2.0 (×1.00) "
            "| 2000 (client-bound) (×1.00) | 2.00 (×1.00) | 1024 (N=10) |") in text
    assert ("| runtime-wasmedge | interpreter | wasmedge 0.14.1 | 3.00 (×0.33) | 33 (×2.54) | 0.73 (×1.43) | 4.0 (×2.00) "
            "| 2000 (client-bound) (×1.00) | 2.00 (×1.00) | 341 (N=10) |") in text
    assert "req/s at the pod IP, 4 connections" in text


def test_markdown_of_missing_numbers_shows_dashes():
    result = BenchResult(lab="x", started="now", settings={})
    result.variants["native"] = VariantResult(variant="native", deployment="httpbin-native")
    text = report.markdown(result)
    assert "| native | – | – | – | – | – | – | – |" in text
    assert "| native | – | – |" in text


# ----------------------------------------------------------------------------- HTML and SVG

def test_html_is_self_contained_and_escaped():
    html = page.html(synthetic(interrupted=True))
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "a note with &lt;angle&gt; &amp; ampersand" in html
    assert "interrupted" in html
    # cold start ×2 (stacked spans, time to 200), memory, density ×2, size, throughput, p50, p99
    assert html.count("<svg") == 9
    assert "client-bound" in html


def test_every_svg_is_well_formed_with_labelled_axes():
    for charts in page.charts(synthetic()).values():
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
    assert len(tables) == 7
    assert tables[1].row_count == 3
