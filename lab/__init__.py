"""wasm-lab: a local Kubernetes WebAssembly lab that measures wasm against containers."""
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent
# The lab's data (cluster config, Dockerfiles, kit recipes, the workload's sources): beside the
# package in a checkout, packed into it (lab/_files, see setup.py) when installed from a wheel.
REPO_ROOT = _CHECKOUT if (_CHECKOUT / "images" / "kit").is_dir() else Path(__file__).resolve().parent / "_files"
