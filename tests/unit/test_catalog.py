"""lab.catalog: the runtimes and variants, one typed catalog read from lab/defaults/runtimes.yaml."""
import copy

import pytest
import yaml

from lab import artifacts, catalog, httpbin_cases, images, spec, workloads
from lab.artifacts import plan as artifact_plan
from tests.unit.test_cluster_and_workloads import lab_spec

TARGETS = catalog.dockerfile_targets()


def repository_data() -> dict:
    return yaml.safe_load(catalog.CATALOG_FILE.read_text())


def test_the_repository_catalog_in_host_port_order():
    loaded = catalog.load()
    assert list(loaded.runtimes) == ["wasmedge", "wasmtime", "crun-wasmedge"]
    assert list(loaded.variants) == ["native", "embed-wasmedge", "runtime-wasmedge", "embed-wasmtime",
                                     "runtime-wasmtime", "runtime-crun-wasmedge", "embed-wasmedge-aot",
                                     "runtime-wasmedge-aot", "runtime-crun-wasmedge-aot", "artifact-wasmedge",
                                     "artifact-wasmtime"]
    assert loaded.variants["artifact-wasmtime"].image == "runtime-wasmtime"
    assert loaded.variants["artifact-wasmtime"].delivery == "artifact"
    assert loaded.variants["runtime-wasmtime"].delivery == "image"
    assert loaded.variants["runtime-crun-wasmedge"].image == "runtime-wasmedge"
    assert loaded.variants["runtime-crun-wasmedge-aot"].image == "runtime-wasmedge-aot"
    assert loaded.variants["runtime-crun-wasmedge-aot"].pod_annotations == \
        loaded.variants["runtime-crun-wasmedge"].pod_annotations
    assert loaded.variants["runtime-wasmtime"].runtime_class == "wasmtime"
    assert loaded.variants["runtime-wasmedge-aot"].runtime_class == "wasmedge"
    assert loaded.variants["embed-wasmtime"].runtime_class is None
    assert loaded.variants_for(["crun-wasmedge"]) == ("native", "runtime-crun-wasmedge", "runtime-crun-wasmedge-aot")
    assert loaded.variants_for(["wasmtime"]) == ("native", "embed-wasmtime", "runtime-wasmtime", "artifact-wasmtime")
    assert loaded.variants_for(["wasmtime"], artifacts=False) == ("native", "embed-wasmtime", "runtime-wasmtime")
    assert loaded.runtimes["wasmedge"].variants == ("embed-wasmedge", "runtime-wasmedge", "embed-wasmedge-aot",
                                                    "runtime-wasmedge-aot", "artifact-wasmedge")
    table = artifacts.catalog()["artifacts"]
    for runtime in loaded.runtimes.values():
        assert all(item["source"] in table for item in runtime.files), runtime.name
        assert all(bundle in table for bundle in runtime.bundles), runtime.name


# The ports labs and docs were given before the AOT variants came: they must never move.
PORTS_BEFORE_AOT = {"native": 30080, "embed-wasmedge": 30081, "runtime-wasmedge": 30082, "embed-wasmtime": 30083,
                    "runtime-wasmtime": 30084, "runtime-crun-wasmedge": 30085}


def test_variants_added_later_take_the_ports_after_the_existing_ones(empty_cwd):
    lab = spec.load(overrides={"runtimes": ["wasmedge", "wasmtime", "crun-wasmedge"]})
    assert {v: lab.host_port(v) for v in PORTS_BEFORE_AOT} == PORTS_BEFORE_AOT
    assert [lab.host_port(v) for v in ("embed-wasmedge-aot", "runtime-wasmedge-aot", "runtime-crun-wasmedge-aot")] \
        == [30086, 30087, 30088]
    # whatever the runtimes chosen, and in whatever order
    lab = spec.load(overrides={"runtimes": ["crun-wasmedge", "wasmedge"]})
    assert lab.host_port("runtime-crun-wasmedge") == 30085 and lab.host_port("runtime-wasmedge-aot") == 30087


def test_without_host_port_order_the_variants_keep_the_order_they_appear_in():
    data = repository_data()
    del data["host_port_order"]
    assert list(catalog.parse(data, TARGETS).variants) == [
        "native", "embed-wasmedge", "runtime-wasmedge", "embed-wasmedge-aot", "runtime-wasmedge-aot",
        "artifact-wasmedge", "embed-wasmtime", "runtime-wasmtime", "artifact-wasmtime", "runtime-crun-wasmedge",
        "runtime-crun-wasmedge-aot"]


def test_every_variant_says_how_its_code_runs():
    loaded = catalog.load()
    assert {name: v.execution for name, v in loaded.variants.items()} == {
        "native": "native", "embed-wasmedge": "interpreter", "runtime-wasmedge": "interpreter",
        "embed-wasmtime": "jit", "runtime-wasmtime": "jit", "runtime-crun-wasmedge": "interpreter",
        "embed-wasmedge-aot": "aot", "runtime-wasmedge-aot": "aot", "runtime-crun-wasmedge-aot": "aot",
        "artifact-wasmedge": "interpreter", "artifact-wasmtime": "jit"}
    assert {v.execution_label for v in loaded.variants.values()} == {
        "native binary", "interpreter", "JIT (Cranelift)", "AOT (LLVM)"}
    # an engine the labels do not know is still labelled, without a compiler's name
    assert catalog.Variant("x", "img", packaging="embed", execution="jit", engine="wamr").execution_label == "JIT"


def test_every_variant_says_how_it_is_packaged_whatever_its_name():
    loaded = catalog.load()
    assert {name: v.packaging for name, v in loaded.variants.items()} == {
        "native": "native", "embed-wasmedge": "embed", "runtime-wasmedge": "runtime", "embed-wasmtime": "embed",
        "runtime-wasmtime": "runtime", "runtime-crun-wasmedge": "runtime", "embed-wasmedge-aot": "embed",
        "runtime-wasmedge-aot": "runtime", "runtime-crun-wasmedge-aot": "runtime", "artifact-wasmedge": "artifact",
        "artifact-wasmtime": "artifact"}
    # the packaging is the catalog's word, never read off the name
    data = repository_data()
    wasmtime = data["runtimes"]["wasmtime"]["variants"]
    wasmtime["fast-wasmtime"] = wasmtime.pop("artifact-wasmtime")
    data["host_port_order"] = [("fast-wasmtime" if v == "artifact-wasmtime" else v) for v in data["host_port_order"]]
    renamed = catalog.parse(data, TARGETS).variants["fast-wasmtime"]
    assert (renamed.packaging, renamed.delivery) == ("artifact", "artifact")


@pytest.mark.parametrize("change, message", [
    (lambda d: d["runtimes"]["wasmtime"].pop("handler"), "runtime wasmtime: handler missing"),
    (lambda d: d["runtimes"]["wasmtime"]["variants"]["embed-wasmtime"].update(image="nope"),
     "variant embed-wasmtime: image 'nope' is not a target of Dockerfile"),
    (lambda d: d["runtimes"]["crun-wasmedge"]["variants"].update({"runtime-wasmedge": {"image": "runtime-wasmedge"}}),
     "variant runtime-wasmedge is named twice"),
    (lambda d: d["baseline"]["native"].update(runtime_class=True), "only a runtime's variants"),
    (lambda d: d["runtimes"]["wasmtime"]["variants"]["artifact-wasmtime"].update(packaging="ftp"),
     "variant artifact-wasmtime: packaging 'ftp' is not one of native, embed, runtime, artifact"),
    (lambda d: d["runtimes"]["wasmtime"]["variants"]["embed-wasmtime"].pop("packaging"),
     "variant embed-wasmtime: packaging None is not one of"),
    (lambda d: d["runtimes"]["wasmtime"]["variants"]["embed-wasmtime"].update(packaging="artifact"),
     "variant embed-wasmtime: packaging runtime or artifact runs through a RuntimeClass, and only those do"),
    (lambda d: d["runtimes"]["wasmtime"]["variants"]["runtime-wasmtime"].update(packaging="embed"),
     "variant runtime-wasmtime: packaging runtime or artifact runs through a RuntimeClass"),
    (lambda d: d["runtimes"]["wasmtime"]["variants"]["embed-wasmtime"].update(packaging="native"),
     "variant embed-wasmtime: packaging native is for execution native, and only for it"),
    (lambda d: d["runtimes"]["wasmtime"].update(variants={}), "runtime wasmtime: no variants"),
    (lambda d: d["runtimes"]["wasmtime"]["variants"]["embed-wasmtime"].pop("execution"),
     "variant embed-wasmtime: execution None is not one of native, interpreter, jit, aot"),
    (lambda d: d["runtimes"]["wasmtime"]["variants"]["embed-wasmtime"].update(execution="fast"),
     "variant embed-wasmtime: execution 'fast' is not one of"),
    (lambda d: d["runtimes"]["wasmtime"]["variants"]["embed-wasmtime"].update(execution="native"),
     "variant embed-wasmtime: execution native is for a variant without engine"),
    (lambda d: d["baseline"]["native"].update(execution="aot"), "variant native: execution native is for"),
    (lambda d: d["host_port_order"].remove("runtime-wasmtime"), r"host_port_order: missing: runtime-wasmtime$"),
    (lambda d: d["host_port_order"].extend(["nope", "native"]),
     "host_port_order: named twice: native; not a variant: nope$"),
    (lambda d: d["jobs"]["wasmtime"].update(image="job-js"), "job runner wasmtime: image 'job-js' is not a target"),
    (lambda d: d["jobs"]["wasmtime"].update(like="runtime-spin"), "job runner wasmtime: like 'runtime-spin' is not a"),
])
def test_a_broken_catalog_is_refused_naming_the_entry(change, message):
    data = repository_data()
    change(data)
    with pytest.raises(catalog.CatalogError, match=message):
        catalog.parse(data, TARGETS)


def test_a_runtime_added_through_the_catalog_alone_is_validated_planned_and_listed(monkeypatch, tmp_path):
    """A FAKE runtime (its file borrowed from wasmtime's artifact): nothing but the catalog changes
    (its entry, and its variant appended to host_port_order)."""
    data = repository_data()
    data["runtimes"]["fakewasm"] = {
        "handler": "fakewasm", "runtime_type": "io.containerd.fakewasm.v1",
        "files": [{"source": "shim-wasmtime", "dest": "/usr/local/bin/containerd-shim-fakewasm-v1"}],
        "variants": {"runtime-fakewasm": {"image": "runtime-wasmtime", "packaging": "runtime", "engine": "wasmtime",
                                          "execution": "jit",
                                          "runtime_class": True, "env": {"FAKE": "1"}}}}
    data["host_port_order"].append("runtime-fakewasm")
    fake = catalog.parse(copy.deepcopy(data), TARGETS)
    monkeypatch.setattr(catalog, "load", lambda: fake)

    lab = lab_spec(runtimes=["fakewasm"], offline="true", lock=str(tmp_path / "lab.lock"))
    assert lab.variants == ("native", "runtime-fakewasm")
    assert lab.host_port("runtime-fakewasm") == lab.host_port_base + 11
    with pytest.raises(spec.InputError, match="choose one of: wasmedge, wasmtime, crun-wasmedge, fakewasm"):
        lab_spec(runtimes=["nope"])

    planned = {row["artifact"] for row in artifact_plan.plan(lab, lab.runtimes, lab.variants, "kind", ("x86_64",))}
    assert {"shim-wasmtime", "base-rust"} <= planned

    deployment, _ = workloads.variant_objects("runtime-fakewasm", images.tag("runtime-fakewasm"), "ns", 30089)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["runtimeClassName"] == "fakewasm" and {"name": "FAKE", "value": "1"} in pod["containers"][0]["env"]
    assert images.tag("runtime-fakewasm") == "wasm-lab/httpbin:runtime-wasmtime"


def dockerfile_stages() -> list[tuple[str, str, bool]]:
    """(name, base, whether it RUNs anything) of each stage of images/httpbin/Dockerfile, in order."""
    stages: list[tuple[str, str, bool]] = []
    for line in catalog.DOCKERFILE.read_text().splitlines():
        if line.startswith("FROM "):
            _, base, _, name = line.split()
            stages.append((name, base, False))
        elif line.startswith("RUN ") and stages:
            stages[-1] = (*stages[-1][:2], True)
    return stages


def test_each_image_target_needs_exactly_the_base_images_the_legacy_builder_uses():
    """The legacy builder builds every stage up to the target: a stage that RUNs needs its real base
    image, the target itself is its base; any other base can be `scratch` (images.BaseImages)."""
    stages = dockerfile_stages()
    names = [name for name, _, _ in stages]
    assert set(images.NEEDS) == set(catalog.load().images + catalog.load().job_images)
    for target, needs in images.NEEDS.items():
        upto = stages[:names.index(target) + 1]
        used = {base for _, base, runs in upto if runs} | {upto[-1][1]}
        assert {base.strip("${}") for base in used if base != "scratch"} == set(needs), target


def test_embed_and_runtime_pairs_are_compared_by_their_wasm():
    built = [images.BuiltImage(v, images.tag(v), "id", 1, 1.0, wasm_sha256=s) for v, s in (
        ("embed-wasmedge", "a"), ("runtime-wasmedge", "a"), ("embed-wasmedge-aot", "b"), ("runtime-wasmedge-aot", "c"),
        ("embed-wasmtime", "d"))]
    assert images.wasm_identical(built) == {"wasmedge": True, "wasmtime": None, "wasmedge-aot": False}


def test_every_variant_is_a_name_the_checks_accept():
    """The checks refuse an unknown X-Workload-Flavor, and a variant reports its name in it."""
    assert set(catalog.load().variants) <= set(httpbin_cases.VARIANT_NAMES)


def test_the_wasi_job_runs_natively_and_under_each_chosen_runtime():
    every = catalog.load()
    assert every.jobs_for(["wasmedge"]) == ("native", "wasmedge")
    assert every.jobs_for(["crun-wasmedge", "wasmtime"]) == ("native", "wasmtime", "crun-wasmedge")
    assert every.job_images == ("job-native", "job-wasm")
    assert set(every.job_images) <= catalog.dockerfile_targets()
    assert images.tag("job-wasm") == "wasm-lab/httpbin:job-wasm" and images.NEEDS["job-wasm"] == ("RUST_IMAGE",)
