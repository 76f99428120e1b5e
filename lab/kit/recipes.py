"""Kit recipes: loading images/kit/*/recipe.yaml, the pinned versions, templates and cache keys."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lab import REPO_ROOT

RECIPES_DIR = REPO_ROOT / "images" / "kit"
VERSIONS_FILE = RECIPES_DIR / "versions.yaml"
KINDS = ("rootfs", "image", "files")
IMAGE_REPOSITORY = "wasm-lab-kit"


class RecipeError(ValueError):
    """A recipe file that does not follow docs/kit.md."""


@dataclass(frozen=True)
class Recipe:
    name: str
    kind: str
    directory: Path
    description: str = ""
    version_template: str = "latest"
    versions: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    run: tuple[str, ...] = ()
    container: str | None = None
    dockerfile: str | None = None
    build_args: dict = field(default_factory=dict)
    suite: str | None = None
    variant: str = "minbase"
    include: tuple[str, ...] = ()

    @property
    def produces_image(self) -> bool:
        return self.kind in ("rootfs", "image")


def env_name(prefix: str, key: str) -> str:
    return prefix + re.sub(r"[^A-Za-z0-9]", "_", key).upper()


def load_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    data = yaml.safe_load(path.read_text()) or {}
    return {str(k): str(v) for k, v in data.items()}


def load_recipe(directory: Path) -> Recipe:
    data = yaml.safe_load((directory / "recipe.yaml").read_text()) or {}
    name = data.get("name")
    if name != directory.name:
        raise RecipeError(f"{directory}/recipe.yaml: name must be {directory.name!r}, got {name!r}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise RecipeError(f"{name}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    dockerfile = data.get("dockerfile")
    if kind == "image" and not data.get("run") and dockerfile is None and (directory / "Dockerfile").exists():
        dockerfile = "Dockerfile"
    recipe = Recipe(
        name=name,
        kind=kind,
        directory=directory,
        description=data.get("description", ""),
        version_template=str(data.get("version", "latest")),
        versions=tuple(data.get("versions") or ()),
        needs=tuple(data.get("needs") or ()),
        run=tuple(str(a) for a in data.get("run") or ()),
        container=data.get("container"),
        dockerfile=dockerfile,
        build_args=dict(data.get("build_args") or {}),
        suite=data.get("suite"),
        variant=data.get("variant", "minbase"),
        include=tuple(data.get("include") or ()),
    )
    if kind == "rootfs" and not recipe.suite:
        raise RecipeError(f"{name}: a rootfs recipe needs 'suite'")
    if kind == "files" and not recipe.run:
        raise RecipeError(f"{name}: a files recipe needs 'run'")
    if kind == "image" and not (recipe.run or recipe.dockerfile):
        raise RecipeError(f"{name}: an image recipe needs a Dockerfile or 'run'")
    return recipe


def load_recipes(root: Path = RECIPES_DIR) -> dict[str, Recipe]:
    recipes = {}
    for path in sorted(root.glob("*/recipe.yaml")):
        recipe = load_recipe(path.parent)
        recipes[recipe.name] = recipe
    for recipe in recipes.values():
        for need in recipe.needs:
            if need not in recipes:
                raise RecipeError(f"{recipe.name}: needs unknown artifact {need!r}")
        if recipe.container and recipe.container not in recipe.needs:
            raise RecipeError(f"{recipe.name}: container {recipe.container!r} must also be listed in needs")
    return recipes


def build_order(recipes: dict[str, Recipe], wanted: list[str] | None = None) -> list[Recipe]:
    """The wanted recipes (all when None) and everything they need, dependencies first."""
    for name in wanted or ():
        if name not in recipes:
            raise RecipeError(f"unknown kit artifact {name!r}; known: {', '.join(sorted(recipes))}")
    order: list[Recipe] = []
    state: dict[str, str] = {}

    def visit(name: str, chain: tuple[str, ...]):
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise RecipeError("kit recipes need each other in a cycle: " + " -> ".join(chain + (name,)))
        state[name] = "visiting"
        for need in recipes[name].needs:
            visit(need, chain + (name,))
        state[name] = "done"
        order.append(recipes[name])

    for name in wanted or sorted(recipes):
        visit(name, ())
    return order


def image_tag(recipe: Recipe, version: str) -> str:
    return f"{IMAGE_REPOSITORY}/{recipe.name}:{version}"


class _TemplateValues(dict):
    def __missing__(self, key):
        raise RecipeError(f"template names unknown value {{{key}}}")


def render(template: str, values: dict[str, str]) -> str:
    """Fill {version-key}, {image:name} and {dir:name}; '-' and '_' are the same in names."""
    mapping = _TemplateValues({k.replace("-", "_"): v for k, v in values.items()})
    return re.sub(r"\{([A-Za-z0-9_:.\-]+)\}", lambda m: mapping[m.group(1).replace("-", "_")], template)


def recipe_digest(recipe: Recipe) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in recipe.directory.rglob("*") if p.is_file()):
        if "__pycache__" in path.parts or path.name.endswith(".pyc"):
            continue
        digest.update(path.relative_to(recipe.directory).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_key(recipe: Recipe, versions: dict[str, str], need_keys: dict[str, str]) -> str:
    digest = hashlib.sha256()
    digest.update(f"kind={recipe.kind}\0recipe={recipe_digest(recipe)}\0".encode())
    for key in sorted(recipe.versions):
        if key not in versions:
            raise RecipeError(f"{recipe.name}: version key {key!r} is not in {VERSIONS_FILE.name}")
        digest.update(f"version:{key}={versions[key]}\0".encode())
    for need in sorted(recipe.needs):
        digest.update(f"need:{need}={need_keys[need]}\0".encode())
    return digest.hexdigest()
