"""The offline kit: build artifacts from package registries, cache them, describe them in a manifest."""
from __future__ import annotations

import functools
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from lab.errors import LabError
from lab.kit import builders
from lab.kit.recipes import Recipe, RecipeError, build_order, cache_key, image_tag, load_recipes, load_versions, render
from lab.kit.store import ChecksumMismatch, KitStore, checksum_tree
from lab.proc import CommandFailed, console, run


@dataclass
class Planned:
    recipe: Recipe
    key: str
    version: str


def plan(only: list[str] | None = None, recipes: dict[str, Recipe] | None = None,
         versions: dict[str, str] | None = None) -> list[Planned]:
    """Every wanted artifact with its cache key and version, dependencies first."""
    recipes = recipes if recipes is not None else load_recipes()
    versions = versions if versions is not None else load_versions()
    keys: dict[str, str] = {}
    planned = []
    for recipe in build_order(recipes, only):
        keys[recipe.name] = cache_key(recipe, versions, keys)
        version = render(recipe.version_template, versions)
        planned.append(Planned(recipe, keys[recipe.name], version))
    return planned


def is_current(entry: dict | None, key: str) -> bool:
    if not entry or entry.get("key") != key:
        return False
    if "image" in entry:
        return builders.image_present(entry["image"]["ref"], entry["image"]["id"])
    path = Path(entry["path"])
    return path.is_dir() and checksum_tree(path) == entry["files"]


def _ensure_host_tools(to_build: list[Planned]) -> None:
    """What the recipes that really have to be built need on the host (a cached kit needs nothing)."""
    rootfs = [p.recipe.name for p in to_build if p.recipe.kind == "rootfs"]
    if not rootfs:
        return
    if os.geteuid() != 0:
        raise RecipeError(f"building {', '.join(rootfs)} (debootstrap) needs root: run invoke kit.build as root once, "
                          "or sudo apt-get install debootstrap and build as root")
    if builders.debootstrap_path() is None:
        console.print("kit: installing debootstrap from Debian")
        run(["apt-get", "install", "-y", "-qq", "debootstrap"])


def required(planned: list[Planned], wanted: set[str], store: KitStore,
             force: bool = False) -> tuple[list[Planned], list[Planned]]:
    """(the planned artifacts a build must look at, those of them missing or stale): the wanted
    ones, and what an artifact that has to be built needs. A current artifact's own needs are not:
    a kit imported from a bundle holds the node image without the Kubernetes build it was made from."""
    looked_at, stale = set(wanted), set()
    for item in reversed(planned):  # dependents before what they need
        if item.recipe.name in looked_at and (force or not is_current(store.entry(item.recipe.name), item.key)):
            stale.add(item.recipe.name)
            looked_at.update(item.recipe.needs)
    return [p for p in planned if p.recipe.name in looked_at], [p for p in planned if p.recipe.name in stale]


def build(only: list[str] | None = None, store: KitStore | None = None, force: bool = False) -> list[dict]:
    """Build what is missing or stale; return one row per artifact (name, action, seconds)."""
    store = store or KitStore()
    planned = plan(only)
    planned, to_build = required(planned, set(only) if only else {p.recipe.name for p in planned}, store, force)
    _ensure_host_tools(to_build)
    versions = load_versions()
    rows = []
    for item in planned:
        recipe = item.recipe
        waiting = functools.partial(console.print, f"kit: waiting for another build of {recipe.name} to finish")
        with store.lock(recipe.name, on_wait=waiting):
            if not force and is_current(store.entry(recipe.name), item.key):
                rows.append({"name": recipe.name, "version": item.version, "action": "cached", "seconds": 0.0})
                continue
            seconds = _build_one(item, store, versions)
        rows.append({"name": recipe.name, "version": item.version, "action": "built", "seconds": seconds})
    return rows


def _build_one(item: Planned, store: KitStore, versions: dict[str, str]) -> float:
    recipe = item.recipe
    values = dict(versions)
    need_dirs, need_images = {}, {}
    for name in recipe.needs:
        need = store.entry(name)
        if need is None:
            raise RecipeError(f"{recipe.name} needs {name}, which is not built")
        if "image" in need:
            need_images[name] = values[f"image:{name}"] = need["image"]["ref"]
        else:
            need_dirs[name] = store.verified_path(name)
            values[f"dir:{name}"] = str(need_dirs[name])
    image = image_tag(recipe, item.version) if recipe.produces_image else None
    ctx = builders.BuildContext(recipe, store, item.key, item.version, values, need_dirs, need_images, image)
    console.print(f"kit: building [bold]{recipe.name}[/bold] {item.version} (log: {ctx.log})")
    start = time.monotonic()
    try:
        outputs = builders.build(ctx)
    except CommandFailed as error:
        # one line naming the recipe and its log; the last lines of the build go to last-error.log
        raise LabError(f"kit recipe {recipe.name} failed ({error.argv[0]} exited {error.returncode}); "
                       f"its log: {ctx.log}\n" + "\n".join(error.tail[-15:])) from error
    seconds = round(time.monotonic() - start, 1)
    store.record({
        "name": recipe.name, "kind": recipe.kind, "version": item.version, "key": item.key,
        "description": recipe.description, "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": seconds, **outputs,
    })
    console.print(f"kit: built {recipe.name} in {seconds:.0f}s")
    return seconds


def status(store: KitStore | None = None) -> list[dict]:
    store = store or KitStore()
    manifest = store.load()["artifacts"]
    rows = []
    for item in plan():
        entry = manifest.get(item.recipe.name)
        if entry is None:
            state = "missing"
        elif is_current(entry, item.key):
            state = "built"
        else:
            state = "stale"
        rows.append({
            "name": item.recipe.name, "kind": item.recipe.kind, "version": item.version,
            "origin": item.recipe.description, "state": state,
            "size_bytes": (entry or {}).get("size_bytes"), "build_seconds": (entry or {}).get("build_seconds"),
            "built_at": (entry or {}).get("built_at"), "description": item.recipe.description,
            "imported_from": (entry or {}).get("imported_from"),
        })
    return rows


def clean(store: KitStore | None = None, caches: bool = False) -> list[str]:
    """Remove what the kit built (images it tagged, artifact files, the manifest); caches on request."""
    store = store or KitStore()
    removed = []
    for name, entry in store.load()["artifacts"].items():
        if "image" in entry:
            ref = entry["image"]["ref"]
            if builders.remove_kit_image(ref, entry["image"]["id"]):
                removed.append(ref)
            else:
                console.print(f"kit.clean: left {ref} alone: not a kit tag, or it names another image than "
                              f"the kit's {entry['image']['id']}", markup=False, soft_wrap=True)
        store.forget(name)
    for sub in ("artifacts", "logs", "exports", "imports") + (("cache",) if caches else ()):
        if (store.root / sub).exists():
            shutil.rmtree(store.root / sub)
            removed.append(str(store.root / sub))
    return removed


class StaleArtifact(KeyError):
    """A kit artifact built from other recipes or versions than this checkout's: as good as not built."""


def artifact(name: str, store: KitStore | None = None) -> dict:
    """A built artifact's manifest entry, made from the recipes and versions of this checkout
    (its recorded cache key is the current one), with files verified against their checksums."""
    store = store or KitStore()
    entry = store.entry(name)
    if entry is None:
        raise KeyError(f"kit artifact {name!r} is not built (run: invoke kit.build --only {name})")
    current = {item.recipe.name: item.key for item in plan([name])}[name]
    if entry.get("key") != current:
        raise StaleArtifact(f"kit artifact {name!r} is stale: built from other recipes or versions than this "
                            f"checkout's (run: invoke kit.build --only {name})")
    if "path" in entry:
        store.verified_path(name)
    elif not builders.image_present(entry["image"]["ref"], entry["image"]["id"]):
        raise StaleArtifact(f"kit artifact {name!r}: image {entry['image']['ref']} is gone or is another image now "
                            f"(run: invoke kit.build --only {name})")
    return entry


__all__ = ["ChecksumMismatch", "KitStore", "StaleArtifact", "artifact", "build", "clean", "plan", "status"]
