"""Teardown has one way: `cluster.delete` takes back the cluster through the same ownership check
and undo as `lab.down`, so a cluster the lab did not make (or one made again by hand since) is
refused in lab.down's own line and never deleted.

The provider is a FAKE (it records what it was asked to delete; the lab's state file, lock, CLI
and lifecycle are real). The real kind path is covered by tests/faults/test_users_things.py, which
runs `cluster.delete` on a kind cluster the user made."""
import pytest
from invoke import Program

import tasks
from lab import lifecycle, providers
from lab.providers.base import Provider
from lab.spec import load as load_spec
from lab.state import State

NOT_MADE = "exists and was not created by this lab; the lab leaves it alone"


class RecordingProvider(Provider):
    """FAKE provider: one cluster of the lab's name, with an identity; deletes are recorded."""

    def __init__(self, name="kind", creates_clusters=True, identity="made-by-lab-up"):
        self.name, self.creates_clusters, self.current = name, creates_clusters, identity
        self.deleted, self.released = [], []

    def exists(self, spec):
        return True

    def identity(self, spec):
        return self.current

    def delete(self, spec, state):
        self.deleted.append(spec.name)
        return [f"{self.name} cluster {spec.name}"]

    def release(self, spec, state):
        self.released.append(spec.name)
        return []


@pytest.fixture
def provider(monkeypatch, isolated_state, empty_cwd):
    fake = RecordingProvider()
    monkeypatch.setattr(providers, "get", lambda name: fake)
    return fake


def cluster_delete(capsys, *argv) -> tuple[int, list[str], str]:
    program = Program(namespace=tasks.namespace, name="wasm-lab", binary="invoke")
    code = 0
    try:
        program.run(["invoke", "cluster.delete", "--name", "x", *argv])
    except SystemExit as exited:
        code = exited.code or 0
    out, err = capsys.readouterr()
    return code, [line for line in err.splitlines() if line.strip()], out


def test_a_cluster_the_lab_did_not_make_is_refused_in_one_line(provider, capsys):
    code, errors, _ = cluster_delete(capsys)
    assert (code, errors) == (1, [f"error: kind cluster x {NOT_MADE}"])
    assert provider.deleted == []


def test_lab_down_leaves_it_with_the_same_line(provider, capsys):
    assert lifecycle.down(load_spec(None, {"name": "x"})) == []
    assert f"kind cluster x {NOT_MADE}" in capsys.readouterr().err
    assert provider.deleted == []


def test_an_adopted_cluster_is_refused(provider, capsys):
    State("x").set("cluster_adopted", True)
    code, errors, _ = cluster_delete(capsys)
    assert (code, errors) == (1, [f"error: kind cluster x {NOT_MADE}"]) and provider.deleted == []


def test_a_cluster_made_again_by_hand_since_is_refused(provider, capsys):
    State("x").set("cluster_created", True)
    State("x").set("cluster_id", "made-by-lab-up")
    provider.current = "made-by-the-user-later"
    code, errors, _ = cluster_delete(capsys)
    assert (code, errors) == (1, ["error: kind cluster x was made again outside the lab since lab.up created it; "
                                  "the lab leaves it alone"])
    assert provider.deleted == []


def test_the_cluster_the_lab_made_is_deleted(provider, capsys):
    State("x").set("cluster_created", True)
    State("x").set("cluster_id", "made-by-lab-up")
    code, errors, out = cluster_delete(capsys)
    assert (code, errors, out.strip()) == (0, [], "removed kind cluster x")
    assert provider.deleted == ["x"]


def test_a_provider_that_never_makes_clusters_never_deletes_one(monkeypatch, isolated_state, empty_cwd, capsys):
    fake = RecordingProvider(name="existing", creates_clusters=False)
    monkeypatch.setattr(providers, "get", lambda name: fake)
    (empty_cwd / "lab.yaml").write_text("provider: existing\ncontext: users-cluster\n")
    State("x").set("cluster_created", True)  # even a state file that says otherwise
    code, errors, _ = cluster_delete(capsys)
    assert (code, errors) == (1, [f"error: existing cluster users-cluster {NOT_MADE} (provider existing never "
                                  "deletes a cluster)"])
    assert fake.deleted == [] and fake.released == []
