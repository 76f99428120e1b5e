"""The workload images are built for the architecture of the Docker engine that builds them, which
is the kind nodes' (they run on that engine): no Dockerfile names a CPU architecture, the native
httpbin and WASI job binaries are built for the Rust toolchain's own host triple (the build stage's
image is the engine's platform: a multi-platform digest or a kit image built on that engine), and
the build asks for no other platform. A FAKE docker client records the build call."""
import re

from lab import REPO_ROOT, images

DOCKERFILES = sorted((REPO_ROOT / "images").glob("*/Dockerfile"))
ARCH_NAMES = re.compile(r"x86_64|aarch64|amd64|arm64|--platform")


def test_no_workload_dockerfile_names_a_cpu_architecture():
    named = {str(path.relative_to(REPO_ROOT)): ARCH_NAMES.findall(path.read_text()) for path in DOCKERFILES}
    assert "images/httpbin/Dockerfile" in named
    assert {path: found for path, found in named.items() if found} == {}


def test_the_native_binaries_are_built_for_the_toolchains_own_host_triple():
    text = (REPO_ROOT / "images" / "httpbin" / "Dockerfile").read_text()
    runs = [run for run in text.split("\nRUN ") if "-p httpbin-native" in run]
    assert len(runs) == 2  # the dependencies' build and the real one
    for run in runs:
        assert run.index("host=\"$(rustc -vV | sed -n 's/^host: //p')\"") < run.index('--target "$host" -p httpbin-native')
    assert 'cp "target/$host/release/httpbin" /out/httpbin' in text
    assert 'cp "target/$host/release/wasi-job" /out/wasi-job' in text


class FakeDocker:
    """FAKE docker client: records the build call and answers with one image."""

    def __init__(self):
        self.builds: list[dict] = []
        outer = self

        class Api:
            def build(self, **kwargs):
                outer.builds.append(kwargs)
                return iter([{"aux": {"ID": "sha256:1"}}])

        class Images:
            def get(self, ref):
                return type("Image", (), {"id": "sha256:1", "attrs": {"Size": 1}, "labels": {}})()

        self.api, self.images = Api(), Images()


def test_the_build_asks_for_no_platform_but_the_engines_own():
    client = FakeDocker()
    bases = images.BaseImages({"RUST_IMAGE": "rust@sha256:" + "a" * 64}, identities={"RUST_IMAGE": "kit:rust-builder"})
    images.build_variant("native", bases, client)
    (call,) = client.builds
    assert call["target"] == "native" and "platform" not in call
    assert not [value for value in call["buildargs"].values() if ARCH_NAMES.search(value)]
