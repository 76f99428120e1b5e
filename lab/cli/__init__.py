"""invoke collections, one module each; tasks.py adds every one listed here."""
import importlib

COLLECTION_MODULES = ["lab", "cluster", "shims", "images", "workloads", "kit"]


def collections():
    found = []
    for name in COLLECTION_MODULES:
        try:
            module = importlib.import_module(f"lab.cli.{name}")
        except ModuleNotFoundError as missing:
            if missing.name != f"lab.cli.{name}":
                raise
            continue
        found.append(module.ns)
    return found
