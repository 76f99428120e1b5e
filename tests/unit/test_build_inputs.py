"""The workload images' inputs digest (lab/images.py) and the builds it saves: an image whose label
records the same inputs is used as it is; base images that only such images need are not resolved.

Uses a FAKE Docker client (images by tag with their labels, builds recorded, nothing built) and a
fake resolver; the e2e test (tests/e2e/test_bundle.py) runs the real builds."""
import shutil
import types

import docker
import pytest

from lab import artifacts, images

BASES = {"RUST_IMAGE": "kit rust-builder aaaa", "WASMEDGE_IMAGE": "kit wasmedge-cli bbbb",
         "WASMTIME_IMAGE": "kit wasmtime-cli cccc"}


@pytest.fixture
def inputs(tmp_path):
    """A copy of the httpbin build context and its Dockerfile, to change."""
    context = tmp_path / "httpbin"
    shutil.copytree(images.CONTEXT, context, ignore=shutil.ignore_patterns("target"))
    dockerfile = tmp_path / "Dockerfile"
    shutil.copy(images.DOCKERFILE, dockerfile)
    return context, dockerfile


def digest(inputs, target="embed-wasmedge", bases=None):
    context, dockerfile = inputs
    return images.inputs_digest(target, BASES if bases is None else bases, dockerfile=dockerfile, context=context)


def test_the_inputs_digest_changes_with_a_source_file_the_dockerfile_or_a_base_it_uses(inputs):
    context, dockerfile = inputs
    before = digest(inputs)
    assert digest(inputs) == before
    assert digest(inputs, target="runtime-wasmedge") != before
    assert digest(inputs, bases={**BASES, "RUST_IMAGE": "kit rust-builder 0000"}) != before
    assert digest(inputs, bases={**BASES, "WASMEDGE_IMAGE": "debian:trixie@sha256:00"}) != before
    source = context / "crates" / "core" / "src" / "lib.rs"
    source.write_text(source.read_text() + "\n// changed\n")
    after_source = digest(inputs)
    assert after_source != before
    dockerfile.write_text(dockerfile.read_text() + "\n# changed\n")
    assert digest(inputs) not in (before, after_source)


def test_the_inputs_digest_ignores_what_docker_does_not_send_and_bases_the_target_does_not_use(inputs):
    context, _ = inputs
    before = digest(inputs)
    assert digest(inputs, bases={**BASES, "WASMTIME_IMAGE": "kit wasmtime-cli 0000"}) == before  # embed-wasmedge
    (context / "target" / "release").mkdir(parents=True)
    (context / "target" / "release" / "httpbin").write_bytes(b"a build output")
    (context / "crates" / "stray.wasm").write_bytes(b"\0asm")
    assert digest(inputs) == before
    with pytest.raises(images.ImageBuildError, match="WASMEDGE_IMAGE"):
        digest(inputs, bases={"RUST_IMAGE": BASES["RUST_IMAGE"]})


class FakeImage:
    def __init__(self, ref, labels):
        self.id, self.labels, self.attrs = f"sha256:{abs(hash(ref)):064d}"[:71], labels, {"Size": 1000}


class FakeDocker:
    """FAKE Docker client: images by tag with their labels; a build tags the image it was asked for."""

    def __init__(self, labels):
        self.labels, self.builds = dict(labels), []
        self.images = types.SimpleNamespace(get=self.get)
        self.api = types.SimpleNamespace(build=self.build)

    def get(self, ref):
        if ref not in self.labels:
            raise docker.errors.ImageNotFound(ref)
        return FakeImage(ref, self.labels[ref])

    def build(self, tag, labels, target, **_):
        self.builds.append(target)
        self.labels[tag] = labels
        return iter([{"stream": f"built {target}\n"}])


def bases():
    return images.BaseImages({arg: f"wasm-lab-kit/{arg.lower()}:1" for arg in BASES}, identities=BASES)


def label(target):
    return {images.BUILD_INPUTS: images.inputs_digest(target, {a: BASES[a] for a in images.NEEDS[target]})}


def test_an_image_built_from_the_same_inputs_is_not_built_again_and_one_from_others_is():
    client = FakeDocker({images.tag("native"): label("native"),
                         images.tag("runtime-wasmedge"): {images.BUILD_INPUTS: "0" * 64},
                         images.tag("runtime-wasmtime"): {}})
    native = images.build_variant("native", bases(), client, wasm_sums=False)
    assert native.prebuilt and client.builds == []
    for target in ("runtime-wasmedge", "runtime-wasmtime", "embed-wasmtime"):  # other label, none, no image
        assert not images.build_variant(target, bases(), client, wasm_sums=False).prebuilt
    assert client.builds == ["runtime-wasmedge", "runtime-wasmtime", "embed-wasmtime"]
    assert client.labels[images.tag("embed-wasmtime")] == label("embed-wasmtime")  # the label goes on at build
    assert images.build_variant("embed-wasmtime", bases(), client, wasm_sums=False).prebuilt


class FakeResolver:
    """FAKE resolver: each base image artifact has one identity (its kit recipe's key) or, once
    resolved, the one `resolves_as` says; `got` lists what was resolved."""

    def __init__(self, resolves_as=None):
        self.resolves_as, self.got, self.resolved = resolves_as or {}, [], {}

    def identities(self, name):
        return [({"origin": "kit", "artifact": name}, BASES[self.arg(name)])]

    def arg(self, name):
        return next(arg for arg, artifact in artifacts.BASE_IMAGE_ARTIFACTS.items() if artifact == name)

    def get(self, name):
        self.got.append(name)
        self.resolved[name] = ({"origin": "kit", "artifact": name}, None)

    def identity(self, name, origin, value=None):
        return self.resolves_as.get(name, BASES[self.arg(name)])


def test_bases_only_prebuilt_images_need_are_not_resolved(monkeypatch):
    targets = ["native", "embed-wasmedge", "runtime-wasmedge", "job-wasm"]
    labels = {images.tag(t): label(t) for t in targets}
    monkeypatch.setattr(images, "_client", lambda: FakeDocker(labels))
    resolver = FakeResolver()
    skipped = artifacts._prebuilt_bases(resolver, targets)
    assert {name: identity for name, (_, identity) in skipped.items()} == {
        "base-rust": BASES["RUST_IMAGE"], "base-wasmedge": BASES["WASMEDGE_IMAGE"]}
    assert resolver.got == []

    del labels[images.tag("job-wasm")]  # one image to build: the base it needs is resolved, the other not
    resolver = FakeResolver()
    assert set(artifacts._prebuilt_bases(resolver, targets)) == {"base-wasmedge"} and resolver.got == ["base-rust"]

    # the base resolves as another than the prebuilt images were built with: they are built too
    resolver = FakeResolver({"base-rust": "kit rust-builder 0000"})
    assert artifacts._prebuilt_bases(resolver, targets) == {}
    assert set(resolver.got) == {"base-rust", "base-wasmedge"}
