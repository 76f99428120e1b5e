"""The action sequences: each action's needs are given by an action before it."""
import pytest


def test_every_sequence_gives_each_action_what_it_needs():
    from lab import actions
    from lab.pipeline import check_sequence

    for sequence in (actions.CLUSTER, actions.SHIMS, actions.WORKLOADS, actions.CHECK, actions.UP):
        check_sequence(sequence)
        assert all(callable(getattr(action, "undo", None)) for action in sequence)
    with pytest.raises(RuntimeError, match="action check needs cluster, which no earlier action gives"):
        check_sequence(actions.CHECK[1:])
