"""lab.down's way into the nodes: one for every undo, released however lab.down ends; the waits
an undo leaves beside the undos after it. FAKE provider, nodes and actions (the real undos run in
the existing-cluster end-to-end test)."""
import threading
from types import SimpleNamespace

import pytest

from lab import lifecycle, providers
from lab.errors import LabError
from lab.pipeline import wait_beside
from lab.spec import load as load_spec
from lab.state import State


class CountedNode:
    """FAKE node: counts how often it is opened (an installer pod started) and closed."""

    def __init__(self):
        self.opened = self.closed = 0
        self.open = False

    def run(self):
        if not self.open:
            self.open, self.opened = True, self.opened + 1

    def close(self):
        if self.open:
            self.open, self.closed = False, self.closed + 1


class NodeUndo:
    """FAKE in-cluster action whose undo reaches the node."""
    in_cluster, notes = True, ()

    def __init__(self, name, fails=False):
        self.name, self.records, self.fails = name, (f"{name}_record",), fails

    def undo(self, ctx):
        ctx.cluster.nodes[0].run()
        if self.fails:
            raise LabError(f"{self.name} failed")
        return [f"{self.name} undone"]


@pytest.fixture
def lab(monkeypatch, isolated_state):
    node = CountedNode()
    cluster = SimpleNamespace(nodes=[node], close_nodes=lambda: node.close())
    monkeypatch.setattr(providers, "get", lambda name: SimpleNamespace(creates_clusters=False, registry_network=None))

    def connect(ctx):
        ctx.cluster = cluster
        return True

    monkeypatch.setattr(lifecycle, "connect", connect)

    def with_actions(*actions):
        monkeypatch.setattr(lifecycle, "UP", list(actions))
        monkeypatch.setattr(lifecycle, "IN_CLUSTER_RECORDS", tuple(a.records[0] for a in actions))
        state = State("x")
        with state.lock("test"):
            for action in actions:
                state.set(action.records[0], ["something"])
        return load_spec(None, {"name": "x", "provider": "existing", "context": "c"})
    return node, with_actions


def test_every_undo_reaches_the_nodes_through_one_opening(lab):
    node, with_actions = lab
    spec = with_actions(NodeUndo("runtimes"), NodeUndo("load"), NodeUndo("deploy"))
    assert lifecycle.down(spec)[:3] == ["deploy undone", "load undone", "runtimes undone"]
    assert (node.opened, node.closed) == (1, 1)


def test_the_nodes_are_released_when_an_undo_fails(lab):
    node, with_actions = lab
    spec = with_actions(NodeUndo("runtimes", fails=True), NodeUndo("deploy"))
    with pytest.raises(LabError, match="runtimes failed"):
        lifecycle.down(spec)
    assert (node.opened, node.closed) == (1, 1)


class SettlingUndo(NodeUndo):
    """FAKE undo that leaves a wait beside: it ends only once `later` has been undone (up to 5 s)."""

    def __init__(self, name, later: threading.Event, fails=False):
        super().__init__(name, fails)
        self.later = later

    def undo(self, ctx):
        def settle():
            if not self.later.wait(5):
                raise LabError(f"{self.name}'s wait ran alone")
            if self.fails:
                raise LabError(f"{self.name} never settled")
            return [f"{self.name} settled"]
        wait_beside(ctx, f"{self.name} settling", settle)
        return [f"{self.name} undone"]


class SignallingUndo(NodeUndo):
    def __init__(self, name, undone: threading.Event):
        super().__init__(name)
        self.undone = undone

    def undo(self, ctx):
        self.undone.set()
        return super().undo(ctx)


def test_a_wait_left_beside_runs_while_the_later_undos_go_on_and_lab_down_ends_with_it(lab):
    node, with_actions = lab
    later = threading.Event()
    # undone in reverse: runtimes (leaves its wait), then cluster while the wait still runs
    spec = with_actions(SignallingUndo("cluster", later), SettlingUndo("runtimes", later))
    assert lifecycle.down(spec)[:3] == ["runtimes undone", "cluster undone", "runtimes settled"]


def test_a_wait_left_beside_that_fails_fails_lab_down(lab):
    node, with_actions = lab
    later = threading.Event()
    spec = with_actions(SignallingUndo("cluster", later), SettlingUndo("runtimes", later, fails=True))
    with pytest.raises(LabError, match="runtimes never settled"):
        lifecycle.down(spec)
    assert (node.opened, node.closed) == (1, 1)
