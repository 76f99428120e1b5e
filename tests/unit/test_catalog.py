"""lab.catalog: the runtimes and variants, one typed catalog read from lab/defaults/runtimes.yaml."""
import copy

import pytest
import yaml

from lab import artifacts, catalog, images, spec, workloads
from tests.unit.test_cluster_and_workloads import lab_spec

TARGETS = catalog.dockerfile_targets()


def repository_data() -> dict:
    return yaml.safe_load(catalog.CATALOG_FILE.read_text())


def test_the_repository_catalog_in_host_port_order():
    loaded = catalog.load()
    assert list(loaded.runtimes) == ["wasmedge", "wasmtime", "crun-wasmedge"]
    assert list(loaded.variants) == ["native", "embed-wasmedge", "runtime-wasmedge", "embed-wasmtime",
                                     "runtime-wasmtime", "runtime-crun-wasmedge"]
    assert loaded.variants["runtime-crun-wasmedge"].image == "runtime-wasmedge"
    assert loaded.variants["runtime-wasmtime"].runtime_class == "wasmtime"
    assert loaded.variants["embed-wasmtime"].runtime_class is None
    assert loaded.variants_for(["crun-wasmedge"]) == ("native", "runtime-crun-wasmedge")
    table = artifacts.catalog()["artifacts"]
    for runtime in loaded.runtimes.values():
        assert all(item["source"] in table for item in runtime.files), runtime.name
        assert all(bundle in table for bundle in runtime.bundles), runtime.name


@pytest.mark.parametrize("change, message", [
    (lambda d: d["runtimes"]["wasmtime"].pop("handler"), "runtime wasmtime: handler missing"),
    (lambda d: d["runtimes"]["wasmtime"]["variants"]["embed-wasmtime"].update(image="nope"),
     "variant embed-wasmtime: image 'nope' is not a target of Dockerfile"),
    (lambda d: d["runtimes"]["crun-wasmedge"]["variants"].update({"runtime-wasmedge": {"image": "runtime-wasmedge"}}),
     "variant runtime-wasmedge is named twice"),
    (lambda d: d["baseline"]["native"].update(runtime_class=True), "only a runtime's variants"),
    (lambda d: d["runtimes"]["wasmtime"].update(variants={}), "runtime wasmtime: no variants"),
])
def test_a_broken_catalog_is_refused_naming_the_entry(change, message):
    data = repository_data()
    change(data)
    with pytest.raises(catalog.CatalogError, match=message):
        catalog.parse(data, TARGETS)


def test_a_runtime_added_through_the_catalog_alone_is_validated_planned_and_listed(monkeypatch, tmp_path):
    """A FAKE runtime (its file borrowed from wasmtime's artifact): nothing but the catalog changes."""
    data = repository_data()
    data["runtimes"]["fakewasm"] = {
        "handler": "fakewasm", "runtime_type": "io.containerd.fakewasm.v1",
        "files": [{"source": "shim-wasmtime", "dest": "/usr/local/bin/containerd-shim-fakewasm-v1"}],
        "variants": {"runtime-fakewasm": {"image": "runtime-wasmtime", "engine": "wasmtime", "runtime_class": True,
                                          "env": {"FAKE": "1"}}}}
    fake = catalog.parse(copy.deepcopy(data), TARGETS)
    monkeypatch.setattr(catalog, "load", lambda: fake)

    lab = lab_spec(runtimes=["fakewasm"], offline="true", lock=str(tmp_path / "lab.lock"))
    assert lab.variants == ("native", "runtime-fakewasm")
    assert lab.host_port("runtime-fakewasm") == lab.host_port_base + 6
    with pytest.raises(spec.InputError, match="choose one of: wasmedge, wasmtime, crun-wasmedge, fakewasm"):
        lab_spec(runtimes=["nope"])

    planned = {row["artifact"] for row in artifacts.plan(lab, lab.runtimes, lab.variants, "kind", ("x86_64",))}
    assert {"shim-wasmtime", "base-rust"} <= planned

    deployment, _ = workloads.variant_objects("runtime-fakewasm", images.tag("runtime-fakewasm"), "ns", 30086)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["runtimeClassName"] == "fakewasm" and {"name": "FAKE", "value": "1"} in pod["containers"][0]["env"]
    assert images.tag("runtime-fakewasm") == "wasm-lab/httpbin:runtime-wasmtime"
