"""Which workload image tags a lab claims and which its `lab.down` removes.

Uses a fake Docker image store (a dict) and a fake provider; the e2e test (tests/e2e/test_lab.py)
runs the real `lab.down` against Docker."""
import docker
import pytest

from lab import images, lifecycle, providers
from lab.actions.images import BuildImages
from lab.artifacts import Artifacts
from lab.pipeline import Context
from lab.providers.base import Provider
from lab.state import State
from tests.unit.test_cluster_and_workloads import lab_spec


class FakeImages:
    """Stands in for docker's image store: tags present, tags removed."""

    def __init__(self, present):
        self.present, self.removed = set(present), []

    def get(self, ref):
        if ref not in self.present:
            raise docker.errors.ImageNotFound(ref)
        return ref

    def remove(self, ref):
        self.get(ref)
        self.present.discard(ref)
        self.removed.append(ref)


class FakeClient:
    def __init__(self, store):
        self.images = store


class NoProvider(Provider):
    """FAKE provider: no cluster at all."""
    name = "none"

    def exists(self, spec):
        return False

    def delete(self, spec, state):
        return []


@pytest.fixture
def store(monkeypatch, tmp_path):
    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path))
    store = FakeImages({images.tag("native")})
    monkeypatch.setattr(images, "_client", lambda: FakeClient(store))
    monkeypatch.setattr(docker, "from_env", lambda **kw: FakeClient(store))
    monkeypatch.setattr(providers, "get", lambda name: NoProvider())

    def build(variants, bases, log=None, wasm_sums=True):
        store.present.update(images.tag(v) for v in variants)
        return []
    monkeypatch.setattr(images, "build", build)
    return store


def build_for(name, runtimes):
    spec = lab_spec(name=name, runtimes=runtimes)
    ctx = Context(spec=spec, state=State(name), provider=NoProvider())
    ctx.artifacts = Artifacts("online")
    BuildImages().execute(ctx)
    return spec


def test_a_lab_claims_only_the_tags_it_brought_into_being(store):
    spec = build_for("one", ["wasmtime"])
    wasmtime = sorted(images.tag(t) for t in ("embed-wasmtime", "runtime-wasmtime", "job-native", "job-wasm"))
    state = State("one")
    assert sorted(state.get("images")) == wasmtime
    assert state.get("images_used") == sorted([images.tag("native")] + wasmtime)
    lifecycle.down(spec)
    assert sorted(store.removed) == wasmtime
    assert images.tag("native") in store.present


def test_down_keeps_a_tag_that_another_lab_still_uses(store):
    first = build_for("one", ["wasmtime"])
    second = build_for("two", ["wasmtime"])
    lifecycle.down(first)
    assert store.removed == []
    assert not State("one").dir.exists()
    lifecycle.down(second)  # the last lab using the tags removes them
    assert sorted(store.removed) == sorted(images.tag(t) for t in ("embed-wasmtime", "runtime-wasmtime", "job-native",
                                                                    "job-wasm"))
    assert images.tag("native") in store.present
