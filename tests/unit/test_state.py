"""lab.state: what a lab remembers between runs, written so that nothing is lost or exposed."""
import io
import stat
import subprocess
import sys
import textwrap

import pytest
from rich.console import Console

from lab import state as lab_state
from lab.errors import LabError
from lab.state import State


def test_two_holders_of_one_lab_never_write_stale_copies(tmp_path):
    first, second = State("lab1", tmp_path), State("lab1", tmp_path)
    first.set("kubeconfig", "/k")
    second.add("owned_objects", "v1|Namespace||wasm-lab")   # second was read before first's write
    assert State("lab1", tmp_path).data == {"kubeconfig": "/k", "owned_objects": ["v1|Namespace||wasm-lab"]}


def test_things_made_are_kept_in_the_order_they_were_made_once_each(tmp_path):
    state = State("lab1", tmp_path)
    for key in ("v1|Namespace||ns", "apps/v1|Deployment|ns|a", "v1|Namespace||ns", "v1|Service|ns|a"):
        state.add("owned_objects", key)
    assert state.get("owned_objects") == ["v1|Namespace||ns", "apps/v1|Deployment|ns|a", "v1|Service|ns|a"]
    state.remove("owned_objects", "apps/v1|Deployment|ns|a")
    assert State("lab1", tmp_path).get("owned_objects") == ["v1|Namespace||ns", "v1|Service|ns|a"]


def test_the_state_is_private_to_its_user(tmp_path):
    State("lab1", tmp_path).set("kubeconfig", "/k")
    assert stat.S_IMODE((tmp_path / "lab1").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "lab1" / "state.json").stat().st_mode) == 0o600


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_a_damaged_state_file_is_one_line_saying_what_to_do(tmp_path, content):
    (tmp_path / "lab1").mkdir()
    (tmp_path / "lab1" / "state.json").write_bytes(content)
    with pytest.raises(LabError, match=r"^state: .*state.json .*(move it away to start afresh)"):
        State("lab1", tmp_path)


def test_a_second_run_of_one_lab_waits_and_says_who_holds_it(tmp_path, monkeypatch):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from lab.state import State
        with State("lab1", Path({str(tmp_path)!r})).lock("lab.up"):
            print("held", flush=True)
            time.sleep(1.5)
        """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    said = io.StringIO()
    monkeypatch.setattr(lab_state, "console", Console(file=said, width=200))
    with State("lab1", tmp_path).lock("lab.down"):
        assert holder.poll() is not None  # only once the first run let go
    holder.wait()
    assert f"lab lab1 is busy (lab.up, pid {holder.pid}); waiting for it to finish" in said.getvalue()


def test_a_thread_outliving_its_run_cannot_record_anything(tmp_path):
    """An interrupted side-by-side step leaves its threads running until the process ends: once
    the run's lock is released they may not write (another run may hold the lab by then); the
    State is writable again under the next lock."""
    state = State("lab", tmp_path)
    with state.lock("lab.up"):
        state.add("owned", "made inside the run")
    with pytest.raises(LabError, match="run has ended; 'owned' not written"):
        state.add("owned", "made after the run")
    assert State("lab", tmp_path).get("owned") == ["made inside the run"]
    with state.lock("lab.up"):
        state.add("owned", "made in the next run")
    assert State("lab", tmp_path).get("owned") == ["made inside the run", "made in the next run"]
