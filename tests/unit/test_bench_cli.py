"""`invoke lab.bench` as a user meets it without a cluster: bad input is one line and exit 2."""
import os
import subprocess
import sys

import pytest
from test_bench import synthetic

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def invoke(*args, tmp_path):
    env = {**os.environ, "WASM_LAB_STATE_DIR": str(tmp_path / "state")}
    return subprocess.run([sys.executable, "-m", "invoke", "--search-root", REPO, *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args, message", [
    (["--repeat", "0"], "error: repeat: 0 is outside 1..50"),
    (["--report", "missing.json"], "error: report: missing.json does not exist"),
    (["--density", "0"], "error: density: 0 is outside 1..100"),
    (["--quiet-wait", "soon"], "error: quiet-wait: 'soon' is not a number of seconds"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    done = invoke("lab.bench", *args, tmp_path=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(message)
    assert len(done.stderr.strip().splitlines()) == 1


def test_report_rerenders_from_json(tmp_path):
    from lab.bench import write

    paths = write(synthetic(), tmp_path / "old")
    done = invoke("lab.bench", "--report", str(paths["json"]), "--output", str(tmp_path / "new"), tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "new" / "bench.html").read_text() == paths["html"].read_text()
    assert "Cold start" in done.stdout
