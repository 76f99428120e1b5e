"""wasm-lab: a local Kubernetes WebAssembly lab that measures wasm against containers."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
