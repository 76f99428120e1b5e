"""Which wasm engine, at which version, each variant runs on.

An artifact's origin says the engine its bytes carry (`engine:` in lab/defaults/artifacts.yaml;
`{key}` is a version of the kit's versions.yaml, so the kit's engines follow a kit bump). The
artifacts action records the engine of every artifact it resolved (state `artifact_engines`); a
variant runs on the engine of its RuntimeClass's shim or bundle, or of the base image its image is
built from. lab.status, the checks' JSON and the bench rows report it per variant, so a connected
lab and an offline one that run different engines in the same variant can be told apart."""
from __future__ import annotations

from lab import catalog
from lab.kit.recipes import load_versions

# httpbin Dockerfile build arg -> the artifact that gives that base image (lab.artifacts uses it too)
BASE_IMAGE_ARTIFACTS = {"RUST_IMAGE": "base-rust", "WASMEDGE_IMAGE": "base-wasmedge", "WASMTIME_IMAGE": "base-wasmtime"}


def of_origin(origin: dict, versions: dict[str, str] | None = None) -> dict | None:
    """{name, version} of the engine an origin's bytes carry, or None when it carries none."""
    engine = origin.get("engine")
    if not engine:
        return None
    version = str(engine["version"]).format(**(load_versions() if versions is None else versions))
    return {"name": str(engine["name"]), "version": version}


def label(engine: dict | None) -> str:
    """e.g. "wasmtime 48.0.11"; "" for none (native)."""
    return f"{engine['name']} {engine['version']}" if engine else ""


def sources(variant: str) -> tuple[str, ...]:
    """The artifacts whose engine a variant's code runs on: its runtime's files and bundles when it
    runs through a RuntimeClass, else the base images its image is built from."""
    from lab import images

    every = catalog.load()
    entry = every.variants.get(variant)
    if entry is None or entry.engine is None:
        return ()
    if entry.runtime_class:
        runtime = next(r for r in every.runtimes.values() if variant in r.variants)
        return tuple(item["source"] for item in runtime.files) + runtime.bundles
    return tuple(BASE_IMAGE_ARTIFACTS[arg] for arg in images.NEEDS[images.image_of(variant)])


def of_variant(variant: str, artifact_engines: dict[str, dict | None], artifact_origins: dict[str, str]) -> dict | None:
    """{name, version, artifact, origin} of the engine a variant ran on, from what the artifacts
    action recorded; None for native, or when no artifact of it was recorded (a lab from before)."""
    for artifact in sources(variant):
        engine = artifact_engines.get(artifact)
        if engine:
            return {"name": engine["name"], "version": engine["version"], "artifact": artifact,
                    "origin": artifact_origins.get(artifact, "")}
    return None


def of_variants(variants, state) -> dict[str, dict | None]:
    """of_variant for each of `variants`, from a lab's State."""
    recorded, origins = state.get("artifact_engines", {}), state.get("artifact_origins", {})
    return {variant: of_variant(variant, recorded, origins) for variant in variants}
