"""Cluster providers behind one interface (lab/providers/base.py)."""
from lab.providers.kind import KindProvider

PROVIDERS = {"kind": KindProvider}


def get(name: str):
    """The provider for a validated spec's `provider` field."""
    return PROVIDERS[name]()
