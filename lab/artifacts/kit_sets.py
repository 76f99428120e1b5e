"""Which kit artifacts a bundle holds: everything a lab can use offline (a build bundle), or what a
lab runs from without building (a workshop bundle), and the identities of the kit's base images
that the workload images of a workshop bundle record."""
from __future__ import annotations

from pathlib import Path

from lab import catalog as runtime_catalog
from lab.artifacts import MODE_ORIGINS, Resolver, catalog, needed
from lab.artifacts.host import host_arch
from lab.engines import BASE_IMAGE_ARTIFACTS
from lab.lock import LockFile
from lab.mirrors import Mirrors
from lab.spec import Offline


def kit_artifacts(provider: str = "kind", node_containerd: str = "2") -> list[str]:
    """The kit artifacts a lab with every runtime and variant uses offline, and the bench's load
    generator: what a kit bundle holds unless told otherwise."""
    table = catalog()["artifacts"]
    every = runtime_catalog.load()
    names = needed(tuple(every.runtimes), provider, tuple(every.variants)) + ["bench-loadgen"]
    found: list[str] = []
    while names:
        entry = table[names.pop(0)]
        origins = (entry.get(provider) or []) if isinstance(entry, dict) else entry
        for origin in origins:
            if origin["origin"] in MODE_ORIGINS[Offline.KIT]:
                found += [(origin.get("by-containerd") or {}).get(node_containerd, origin["artifact"]),
                          *origin.get("tools", [])]
                names += list(origin.get("needs", ()))
                break
    return list(dict.fromkeys(found))


def workshop_artifacts(provider: str = "kind", node_containerd: str = "2") -> list[str]:
    """What a workshop bundle holds of the kit: kit_artifacts less the base images the workload
    images are built from (the workload images themselves travel instead: kit.export --for workshop)."""
    bases = set(kit_base_artifacts().values())
    return [name for name in kit_artifacts(provider, node_containerd) if name not in bases]


def run_artifacts() -> set[str]:
    """Every kit artifact a workshop bundle may hold, whatever its provider and node containerd."""
    return {name for provider in ("kind", "minikube") for containerd in ("2", "1.7")
            for name in workshop_artifacts(provider, containerd)}


def kit_base_artifacts() -> dict[str, str]:
    """The kit artifact each base image of the workload build comes from offline, by build arg."""
    table = catalog()["artifacts"]
    return {arg: next(origin["artifact"] for origin in table[name] if origin["origin"] in MODE_ORIGINS[Offline.KIT])
            for arg, name in BASE_IMAGE_ARTIFACTS.items()}


def offline_resolver(arch: str | None = None) -> Resolver:
    """A resolver of the offline kit alone (no mirror or lock applies to it)."""
    return Resolver(Offline.KIT, Mirrors(), LockFile(Path("/nonexistent/lab.lock")), arch or host_arch())


def kit_base_identities() -> dict[str, str]:
    """Resolver.identity of each base image the kit gives (build arg -> identity), nothing built:
    what the workload images of a workshop bundle, built from the kit's base images, record."""
    resolver = offline_resolver()
    return {arg: resolver.identities(name)[0][1] for arg, name in BASE_IMAGE_ARTIFACTS.items()}
