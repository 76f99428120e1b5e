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
        return NS(name=name, title=name, needs=(), gives=(), records=(), notes=(), execute=body)

    def attach(ctx):
        ctx.cluster = Cluster(name="c", kubeconfig=tmp_path / "k", context="c", nodes=[node])
        return "attached"

    def fail(ctx):
        raise RuntimeError("broke")

    ctx = Context(spec=None, state=State("pipeline-test"), provider=None)
    with pytest.raises(RuntimeError, match="broke"):
        run_actions(ctx, [action("attach", attach), action("use", lambda ctx: "used"), action("fail", fail)])
    assert closed == ["w1", "w1", "w1"]


def test_an_action_writing_a_state_key_it_does_not_declare_is_stopped(tmp_path, monkeypatch):
    """FAKE actions: lab.down reads the declarations to know what to take back, so a record an action
    keeps without declaring it would be left behind; the state refuses it, naming both."""
    from types import SimpleNamespace as NS

    from lab.pipeline import Context, run_actions
    from lab.state import State, UndeclaredRecord

    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path))
    ctx = Context(spec=None, state=State("pipeline-test"), provider=None)

    def writes(key):
        return lambda ctx: ctx.state.add(key, "x@node") or "wrote"

    declared = NS(name="declared", title="", needs=(), gives=(), records=("things_on_nodes",), notes=(),
                  execute=writes("things_on_nodes"))
    sneaky = NS(name="sneaky", title="", needs=(), gives=(), records=("things_on_nodes",), notes=(),
                execute=writes("other_things"))
    run_actions(ctx, [declared])
    assert ctx.state.get("things_on_nodes") == ["x@node"]
    with pytest.raises(UndeclaredRecord, match="^action sneaky wrote state key 'other_things', which it does not "
                                               "declare \\(it declares things_on_nodes\\)$"):
        run_actions(ctx, [sneaky])
    assert ctx.state.get("other_things") is None
    ctx.state.set("other_things", "outside any action")   # the pipeline's own records are not an action's


def test_lab_down_knows_what_needs_the_cluster_from_the_declarations():
    from lab import lifecycle

    # the records docs/architecture.md's table lists for the in-cluster undos
    assert set(lifecycle.IN_CLUSTER_RECORDS) == {"owned_objects", "adopted_objects", "runtimes_on_nodes",
                                                 "labels_on_nodes", "bundles_on_nodes", "images_on_nodes",
                                                 "registry_hosts_on_nodes"}


def test_actions_side_by_side_each_write_what_they_declare(tmp_path, monkeypatch):
    """FAKE actions in one Together: while one runs inside its declaration, the other's writes are
    held to the other's own (the declaration is per thread, not one for the State)."""
    import threading
    from types import SimpleNamespace as NS

    from lab.pipeline import Context, Together, run_actions
    from lab.state import State

    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path))
    both_inside, both_wrote = threading.Barrier(2, timeout=10), threading.Barrier(2, timeout=10)

    def writes(key):
        def body(ctx):
            both_inside.wait()
            try:
                ctx.state.add(key, "made")
            finally:
                both_wrote.wait()  # neither leaves its declaration before the other has written
            return key
        return body

    left = NS(name="left", title="left", needs=(), gives=(), records=("left_things",), notes=(), in_cluster=False,
              execute=writes("left_things"))
    right = NS(name="right", title="right", needs=(), gives=(), records=("right_things",), notes=(), in_cluster=False,
               execute=writes("right_things"))
    ctx = Context(spec=NS(), state=State("side-by-side"), provider=NS())
    run_actions(ctx, [Together(left, right)])
    assert ctx.state.get("left_things") == ["made"] and ctx.state.get("right_things") == ["made"]


def test_lab_up_installs_the_runtimes_beside_the_image_builds_and_the_registry():
    """Independent work side by side (docs/speed.md): none needs what another of them gives, so
    check_sequence accepts the step, and the RuntimeClasses come only after the runtimes."""
    from lab import actions
    from lab.pipeline import flat

    steps = [[a.name for a in flat([step])] for step in actions.UP]
    assert ["runtimes", "images", "registry"] in steps
    assert steps.index(["runtimes", "images", "registry"]) < steps.index(["runtimeclasses"]) < steps.index(["load"])
