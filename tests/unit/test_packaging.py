"""The wheel `pip install .` / `pipx install .` build: the package, its data folders and the
`wasm-lab` command (installing it for real was checked with pipx; see README)."""
import shutil
import subprocess
import sys
import zipfile

import lab

SOURCES = ("lab", "clusters", "images", "workloads", "pyproject.toml", "setup.py", "README.md")


def test_the_wheel_carries_the_lab_its_data_and_the_command(tmp_path):
    source = tmp_path / "source"  # a copy: the build writes build/ and egg-info beside its sources
    for name in SOURCES:
        origin = lab.REPO_ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("target", "__pycache__", "*.egg-info"))
        else:
            shutil.copy2(origin, source / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path),
                           str(source)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    wheel = next(tmp_path.glob("wasm_lab-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("lab/cli/program.py", "lab/defaults/runtimes.yaml", "lab/defaults/artifacts.yaml", "lab/bench/probe.sh",
                     "lab/_files/clusters/kind.yaml", "lab/_files/images/httpbin/Dockerfile",
                     "lab/_files/images/kit/node/recipe.yaml", "lab/_files/workloads/httpbin/Cargo.toml"):
        assert expected in names, expected
    assert not [n for n in names if "/target/" in n or n.startswith("tests/")]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "wasm-lab = lab.cli.program:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
