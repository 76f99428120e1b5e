"""The code passes the project's lint and type checks (pyproject.toml [tool.ruff], [tool.mypy]):
unused names and imports, undefined names, import order; types in lab/."""
import shutil
import subprocess
import sys
from pathlib import Path

import lab


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is in requirements.txt; run bash hack/setup-host"
    return found


def test_ruff_finds_nothing():
    done = subprocess.run([tool("ruff"), "check", "--no-cache", "lab", "tests", "tasks.py"], cwd=lab.REPO_ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]


def test_mypy_finds_nothing_in_lab():
    """Untyped functions' bodies included; a library without types is an error, not silently Any."""
    done = subprocess.run([tool("mypy"), "--check-untyped-defs"], cwd=lab.REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
