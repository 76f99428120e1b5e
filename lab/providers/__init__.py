"""Cluster providers behind one interface (lab/providers/base.py)."""
from lab.providers.existing import ExistingProvider
from lab.providers.kind import KindProvider
from lab.providers.minikube import MinikubeProvider

PROVIDERS = {"kind": KindProvider, "minikube": MinikubeProvider, "existing": ExistingProvider}


def get(name: str):
    """The provider for a validated spec's `provider` field."""
    return PROVIDERS[name]()
