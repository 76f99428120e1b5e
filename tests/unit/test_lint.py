"""The code passes the project's lint rules (pyproject.toml [tool.ruff]): unused names and
imports, undefined names, import order."""
import shutil
import subprocess
import sys
from pathlib import Path

import lab


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is in requirements.txt; run bash hack/setup-host"
    done = subprocess.run([ruff, "check", "--no-cache", "lab", "tests", "tasks.py"], cwd=lab.REPO_ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
