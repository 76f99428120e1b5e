"""The action sequences: each action's needs are given by an action before it."""
import pytest


def test_every_sequence_gives_each_action_what_it_needs():
    from lab import actions
    from lab.pipeline import check_sequence

    for sequence in (actions.CLUSTER, actions.RUNTIMES, actions.WORKLOADS, actions.CHECK, actions.UP):
        check_sequence(sequence)
        assert all(callable(getattr(action, "undo", None)) for action in sequence)
    with pytest.raises(RuntimeError, match="action jobs needs cluster, kube, which no earlier action gives"):
        check_sequence(actions.CHECK[1:])
    with pytest.raises(RuntimeError, match="action report needs results, jobs, which no earlier action gives"):
        check_sequence(actions.CHECK[2:])


def test_no_node_transport_outlives_the_action_that_used_it(tmp_path, monkeypatch):
    """FAKE actions and nodes: after each action, failed or not, every node is let go of (an
    installer pod on an existing cluster lives only while its node is being changed)."""
    from types import SimpleNamespace as NS

    from lab.pipeline import Context, run_actions
    from lab.providers.base import Cluster
    from lab.state import State

    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path))
    closed = []
    node = NS(name="w1", close=lambda: closed.append("w1"))

    def action(name, body):
        return NS(name=name, title=name, needs=(), gives=(), execute=body)

    def attach(ctx):
        ctx.cluster = Cluster(name="c", kubeconfig=tmp_path / "k", context="c", nodes=[node])
        return "attached"

    def fail(ctx):
        raise RuntimeError("broke")

    ctx = Context(spec=None, state=State("pipeline-test"), provider=None)
    with pytest.raises(RuntimeError, match="broke"):
        run_actions(ctx, [action("attach", attach), action("use", lambda ctx: "used"), action("fail", fail)])
    assert closed == ["w1", "w1", "w1"]
