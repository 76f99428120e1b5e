"""lab.waits: the bounded wait every step uses."""
import pytest

from lab import waits
from lab.errors import LabError


def test_wait_until_names_what_never_happened():
    with pytest.raises(LabError, match=r"the thing never came \(waited 0s\)"):
        waits.wait_until(lambda: None, 0.05, "the thing never came", interval=0.01)


def test_a_passing_error_is_retried_and_named_when_the_wait_ends():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("refused")
        return "up"

    assert waits.wait_until(flaky, 5, "x", interval=0.01) == "up"
    with pytest.raises(LabError, match="last error: refused"):
        waits.wait_until(lambda: (_ for _ in ()).throw(ConnectionError("refused")), 0.05, "never", interval=0.01)


def test_a_lab_error_ends_the_wait_at_once():
    calls = []

    def hopeless():
        calls.append(1)
        raise LabError("image cannot be pulled")

    with pytest.raises(LabError, match="cannot be pulled"):
        waits.wait_until(hopeless, 5, "x", interval=0.01)
    assert calls == [1]


def test_ctrl_c_ends_a_wait_instead_of_being_retried():
    calls = []

    def interrupted():
        calls.append(1)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        waits.wait_until(interrupted, timeout=5, what="x", interval=0.01)
    assert calls == [1]
