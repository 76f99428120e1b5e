"""The case runner and normaliser themselves (no server needed)."""
import yaml

import lab
from lab import httpbin_cases as hc
from lab import images


def test_case_names_unique():
    names = [c.name for c in hc.CASES]
    assert len(names) == len(set(names))


def test_subset_matching():
    assert hc.subset_problems({"a": [1], "b": hc.ANY}, {"a": [1], "b": 2, "c": 3}) == []
    assert hc.subset_problems({"a": [1]}, {"a": [1, 2]})
    assert hc.subset_problems({"a": 1}, {})


def test_normalise_drops_what_differs():
    a = {"args": {}, "headers": {"Host": ["127.0.0.1:1"]}, "origin": "127.0.0.1", "url": "http://127.0.0.1:1/get?x=1",
         "flavor": "native"}
    b = {"args": {}, "headers": {"Host": ["localhost:2"]}, "origin": "", "url": "http://localhost:2/get?x=1",
         "flavor": "embed-wasmtime"}
    assert hc.normalise(a) == hc.normalise(b)
    xff = {"headers": {"X-Forwarded-For": ["203.0.113.7"]}, "origin": "203.0.113.7"}
    assert hc.normalise(xff)["origin"] == "203.0.113.7"
    assert hc.normalise({"service": "httpbin", "runtime": "wasmedge", "flavor": "x"}) == {"service": "httpbin"}


def test_check_reports_problems():
    case = hc.Case("t", "GET", "/get", json={"args": {}})
    ok = hc.check(case, 200, {"Content-Type": hc.JSON_CT, "X-Workload-Flavor": "native"}, b'{\n  "args": {}\n}\n', 0.1)
    assert ok.ok, ok.problems
    bad = hc.check(case, 500, {"Content-Type": hc.JSON_CT}, b'{"args": 1}', 0.1)
    assert not bad.ok
    text = " ".join(bad.problems)
    assert "status" in text and "X-Workload-Flavor" in text and "trailing newline" in text


def test_image_tags_and_aliases():
    assert images.tag("native") == "wasm-lab/httpbin:native"
    assert images.tag("runtime-crun-wasmedge") == "wasm-lab/httpbin:runtime-wasmedge"
    bases = images.BaseImages({"RUST_IMAGE": "r", "WASMEDGE_IMAGE": "e"}, identities={})
    assert bases.buildargs("embed-wasmedge") == {"RUST_IMAGE": "r", "WASMEDGE_IMAGE": "e", "WASMTIME_IMAGE": "scratch"}
    try:
        bases.buildargs("embed-wasmtime")
    except images.ImageBuildError as error:
        assert "WASMTIME_IMAGE" in str(error)
    else:
        raise AssertionError("a base image that was not resolved must be an error")


def test_reference_differences_name_real_cases_and_checks():
    from tests.conformance import reference, test_httpbin

    differences = reference.load()
    assert set(differences.cases) <= {c.name for c in hc.CASES}
    assert [name for name in differences.checks if not callable(getattr(test_httpbin, name, None))] == []


def test_docs_list_the_same_reference_differences_as_the_data():
    """docs/conformance.md is the reviewed list; reference_differences.yaml the same list as data."""
    import re

    from tests.conformance import reference

    data = yaml.safe_load(reference.DIFFERENCES_FILE.read_text())
    listed = {(row["id"], row["reason"]) for section in ("conventions", "cases", "checks") for row in data[section]}
    docs = (lab.REPO_ROOT / "docs" / "conformance.md").read_text()
    rows = {(m.group(1), m.group(2).strip()) for m in re.finditer(r"^\| `([^`]+)` \| ([^|]+?) \|", docs, re.M)}
    assert rows == listed, f"only in the docs: {sorted(rows - listed)}; only in the data: {sorted(listed - rows)}"
