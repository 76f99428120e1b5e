"""A workshop bundle (kit.export --for workshop) carries what a lab runs from and the workload images,
never a builder, and its workload images get only the lab's own tags, checked like the kit's images:
the index, the `docker save` archive's names and config, the label of the build inputs, and a tag
already here is never moved. Docker is FAKED here (what the image store holds, by monkeypatch):
loading would tag wasm-lab/httpbin:<target> in the Docker engine the labs of this machine share;
tests/e2e/test_bundle.py loads a real workshop bundle."""
import json

import pytest

from lab import images
from lab.artifacts import kit_sets
from lab.cli import kit as kit_cli
from lab.errors import InputError
from lab.kit import builders
from lab.kit import bundle_checks as checks
from lab.kit.bundle import importer
from tests.security.handmade import (  # noqa: F401
    USER_REF,
    assert_refused_and_nothing_written,
    attendee,
    digest,
    index_of,
    write_bundle,
)
from tests.unit.test_kit_recipes import recipe_root  # noqa: F401 (fixture)

TARGET = "runtime-wasmedge"
# what the kit's base images are (kit_sets.kit_base_identities, FAKED: the tests' recipes are their own)
KIT_BASES = {"RUST_IMAGE": "kit rust-builder " + "a" * 64, "WASMEDGE_IMAGE": "kit wasmedge-cli " + "b" * 64,
             "WASMTIME_IMAGE": "kit wasmtime-cli " + "c" * 64}


def checkout_key(target: str = TARGET) -> str:
    """The inputs digest this checkout gives the target, built from the kit's base images."""
    return images.inputs_digest(target, {arg: KIT_BASES[arg] for arg in images.NEEDS[target]})


def workload(target: str = TARGET, ref: str = "", key: str = "", label: str | None = None,
             tags: list[str] | None = None) -> tuple[dict, dict[str, bytes]]:
    """(a workload entry, its blobs): a `docker save` archive of one image whose config carries the
    label of its build inputs."""
    ref, key = ref or images.tag(target), key or checkout_key(target)
    config = json.dumps({"config": {"Labels": {images.BUILD_INPUTS: key if label is None else label}}}).encode()
    manifest = json.dumps([{"Config": f"{digest(config)}.json", "RepoTags": tags or [ref], "Layers": []}]).encode()
    entry = {"name": target, "kind": "workload", "key": key, "size_bytes": len(config),
             "image": {"ref": ref, "id": f"sha256:{digest(config)}",
                       "archive": [{"name": "manifest.json", "sha256": digest(manifest)},
                                   {"name": f"{digest(config)}.json", "sha256": digest(config)}]}}
    return entry, {digest(manifest): manifest, digest(config): config}


def workshop_index(*entries: dict, artifacts_=()) -> dict:
    return index_of(*artifacts_, purpose="workshop", workloads={entry["name"]: entry for entry in entries})


def test_the_workshop_bundle_holds_what_a_lab_runs_from_and_no_builder():
    names = kit_cli._bundle_names(None, "kind", "workshop")
    assert names == ["node-containerd2", "shims", "crun-wasmedge", "registry", "loadgen"]
    assert not {"rust-builder", "shims-builder", "docker-engine", "kubernetes", "minikube", "debian-sid",
                "wasmedge-cli", "wasmtime-cli"} & kit_sets.run_artifacts() - {"minikube"}
    assert "rust-builder" in kit_cli._bundle_names(None, "kind", "build")
    with pytest.raises(InputError, match="only: 'rust-builder' is not a kit artifact a lab runs from"):
        kit_cli._bundle_names(["rust-builder"], "kind", "workshop")
    with pytest.raises(InputError, match="for: 'laptop' is not allowed; choose one of: build, workshop"):
        kit_cli._bundle_names(None, "kind", "laptop")


def image_entry(name: str) -> dict:
    return {"name": name, "kind": "image", "version": "1.97", "key": "0" * 64,
            "image": {"ref": f"wasm-lab-kit/{name}:1.97", "id": "sha256:" + "0" * 64,
                      "archive": [{"name": "manifest.json", "sha256": "0" * 64}]}}


@pytest.mark.parametrize("index, pattern", [
    (workshop_index(artifacts_=[image_entry("rust-builder")]),
     r"artifact rust-builder is not one a lab runs from, and a workshop bundle carries no builders"),
    (workshop_index(artifacts_=[image_entry("docker-engine")]), r"artifact docker-engine is not one a lab runs from"),
    (index_of(image_entry("registry"), workloads={TARGET: workload()[0]}),
     r"a build bundle carries the kit, not workload images"),
    (workshop_index(workload(ref=USER_REF)[0]),
     r"workload runtime-wasmedge: image 'wasmlab-sectest/user:mine' is not the lab's own wasm-lab/httpbin:"
     r"runtime-wasmedge \(a bundle tags workload images only wasm-lab/httpbin:<target>\)"),
    (workshop_index(workload(ref=images.tag("native"))[0]),
     r"image 'wasm-lab/httpbin:native' is not the lab's own wasm-lab/httpbin:runtime-wasmedge"),
    (workshop_index(workload(ref="wasm-lab-kit/registry:2.8.3")[0]), r"is not the lab's own"),
    (index_of(purpose="workshop", workloads={TARGET: {**workload()[0], "name": "sh"}}),
     r"workload runtime-wasmedge calls itself 'sh'"),
    (workshop_index({**workload()[0], "kind": "image"}), r"of kind 'image'"),
    (workshop_index({**workload()[0], "key": "x"}), r"workload runtime-wasmedge: key is not a sha256"),
    (workshop_index({**workload()[0], "hooks": "x"}), r"workload runtime-wasmedge has an unknown field 'hooks'"),
    (index_of(purpose="workshop", workloads={"../x": workload()[0]}), r"workload '\.\./x' is not an image target"),
])
def test_a_workshop_index_listing_a_builder_or_another_tag_is_refused(index, pattern):
    with pytest.raises(checks.Refused, match=pattern):
        checks.check_index(index)


@pytest.fixture
def docker_here(monkeypatch):
    """FAKE image store: the tags present here, by ref -> (id, inputs label)."""
    present: dict[str, tuple[str, str | None]] = {}
    monkeypatch.setattr(kit_sets, "kit_base_identities", lambda: KIT_BASES)
    monkeypatch.setattr(builders, "image_id", lambda ref: present.get(ref, (None, None))[0])
    monkeypatch.setattr(images, "build_inputs", lambda ref, client=None: present.get(ref, (None, None))[1])
    return present


def import_file(path, store):
    return lambda: importer.import_bundle(str(path), store=store)


@pytest.mark.parametrize("change, pattern", [
    (dict(tags=[USER_REF]), r"its image archive tags \['wasmlab-sectest/user:mine'\], the index says "
                            r"\['wasm-lab/httpbin:runtime-wasmedge'\]"),
    (dict(tags=[images.tag(TARGET), USER_REF]), r"its image archive tags \["),
    (dict(label="0" * 64), r"workload runtime-wasmedge: its image's label wasm-lab.dev/build-inputs is not its key"),
])
def test_a_workload_archive_must_name_its_tag_and_carry_its_inputs(attendee, docker_here, tmp_path,  # noqa: F811
                                                                    change, pattern):
    entry, blobs = workload(**change)
    path = write_bundle(tmp_path / "kit.tar", workshop_index(entry), blobs)
    assert_refused_and_nothing_written(import_file(path, attendee), pattern, tmp_path)


def test_a_workshop_bundle_never_retags_an_image_here(attendee, docker_here, tmp_path):  # noqa: F811
    entry, blobs = workload()
    docker_here[images.tag(TARGET)] = ("sha256:" + "1" * 64, None)  # the user's own image under that tag
    path = write_bundle(tmp_path / "kit.tar", workshop_index(entry), blobs)
    assert_refused_and_nothing_written(
        import_file(path, attendee), r"wasm-lab/httpbin:runtime-wasmedge is image sha256:1{64} here, the "
                                     r"bundle's is sha256:[0-9a-f]{64}, and an import never moves a tag", tmp_path)

    docker_here[images.tag(TARGET)] = ("sha256:" + "1" * 64, entry["key"])  # built here from the same inputs
    rows = importer.import_bundle(str(path), store=attendee)
    assert rows == [{"name": images.tag(TARGET), "version": f"inputs {entry['key'][:12]}", "action": "present"}]


def test_a_workload_from_other_sources_than_this_checkout_s_is_skipped(attendee, docker_here, tmp_path):  # noqa: F811
    entry, blobs = workload(key="ab" * 32)
    path = write_bundle(tmp_path / "kit.tar", workshop_index(entry), blobs)
    rows = importer.import_bundle(str(path), store=attendee)
    assert [row["action"] for row in rows] == ["skipped: built from other sources than this checkout's"]
