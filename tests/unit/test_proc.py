"""lab.proc: long steps show progress; off a terminal (a CI log) as periodic lines."""
import io
import sys

from rich.console import Console

from lab import proc


def test_without_a_terminal_a_long_step_prints_its_stage_elapsed_time_and_last_line(monkeypatch, tmp_path):
    log = io.StringIO()
    monkeypatch.setattr(proc, "console", Console(file=log, force_terminal=False, width=200))
    monkeypatch.setattr(proc, "PROGRESS_EVERY", 0.05)
    script = "import time\nfor i in range(4):\n    print(f'compiling crate {i}', flush=True)\n    time.sleep(0.1)\n"
    proc.run_logged([sys.executable, "-c", script], label="kit: building wasmtime", log=tmp_path / "build.log")
    lines = log.getvalue().splitlines()
    assert lines[0] == "kit: building wasmtime …"
    ticks = [line for line in lines[1:] if line.startswith("kit: building wasmtime: ")]
    assert ticks and all("s" in line.split(": ")[1] for line in ticks)
    assert any("last: compiling crate" in line for line in ticks)
    assert "compiling crate 3" in (tmp_path / "build.log").read_text()
