"""One builder per recipe kind. Each turns a recipe into its outputs and returns the manifest
fields describing them; the caller decides whether a build is needed and records the entry."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import docker

from lab.docker_api import docker_client
from lab.kit.recipes import IMAGE_REPOSITORY, Recipe, env_name, render
from lab.kit.store import KitStore, checksum_tree
from lab.proc import CommandFailed, progress, run_logged

DEBIAN_MIRROR = os.environ.get("WASM_LAB_DEBIAN_MIRROR", "http://deb.debian.org/debian")
APT_SNAPSHOT_CONF = 'Acquire::Check-Valid-Until "false";\n'


class BuildContext:
    """What one recipe's build sees: its values for templates and environment, and where to write."""

    def __init__(self, recipe: Recipe, store: KitStore, key: str, version: str, values: dict[str, str],
                 need_dirs: dict[str, Path], need_images: dict[str, str], image: str | None):
        self.recipe, self.store, self.key, self.version = recipe, store, key, version
        self.values, self.need_dirs, self.need_images, self.image = values, need_dirs, need_images, image
        self.log = store.log_path(recipe.name)
        self.cache = store.cache_dir(recipe.name)

    def environment(self, out: Path | str, cache: Path | str, need_dirs: dict) -> dict[str, str]:
        env = {env_name("KIT_VERSION_", k): self.values[k] for k in self.recipe.versions}
        env.update({env_name("KIT_IMAGE_", n): ref for n, ref in self.need_images.items()})
        env.update({env_name("KIT_DIR_", n): str(p) for n, p in need_dirs.items()})
        env.update(KIT_OUT=str(out), KIT_CACHE=str(cache), KIT_NAME=self.recipe.name, KIT_RECIPE_VERSION=self.version)
        if self.image:
            env["KIT_IMAGE"] = self.image
        return env


def build(ctx: BuildContext) -> dict:
    ctx.log.parent.mkdir(parents=True, exist_ok=True)
    ctx.log.write_text("")
    ctx.cache.mkdir(parents=True, exist_ok=True)
    builder = {"rootfs": build_rootfs, "image": build_image, "files": build_files}[ctx.recipe.kind]
    return builder(ctx)


def _image_fields(ref: str) -> dict:
    image = docker_client().images.get(ref)
    return {"image": {"ref": ref, "id": image.id}, "size_bytes": image.attrs.get("Size", 0)}


def build_rootfs(ctx: BuildContext) -> dict:
    recipe = ctx.recipe
    rootfs = ctx.cache / "rootfs"
    complete = ctx.cache / "rootfs.complete"
    if not complete.exists():
        shutil.rmtree(rootfs, ignore_errors=True)
        argv: list = [debootstrap_path() or "debootstrap", f"--variant={recipe.variant}"]
        if recipe.include:
            argv.append("--include=" + ",".join(recipe.include))
        argv += [recipe.suite, rootfs, DEBIAN_MIRROR]
        run_logged(argv, label=f"{recipe.name}: debootstrap {recipe.suite}", log=ctx.log)
        (rootfs / "etc/apt/apt.conf.d/99wasm-lab-snapshot").write_text(APT_SNAPSHOT_CONF)
        (rootfs / "etc/apt/sources.list").write_text(f"deb {DEBIAN_MIRROR} {recipe.suite} main\n")
        for leftovers in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / leftovers).glob("*"):
                if path.is_file():
                    path.unlink()
        complete.touch()
    tarball = ctx.cache / "rootfs.tar"
    run_logged(["tar", "--numeric-owner", "-C", rootfs, "-cf", tarball, "."],
               label=f"{recipe.name}: packing the root filesystem", log=ctx.log)
    with progress(f"{recipe.name}: docker import {ctx.image}"):
        repository, tag = str(ctx.image).rsplit(":", 1)
        docker_client().api.import_image_from_file(str(tarball), repository=repository, tag=tag,
                                                     changes=['CMD ["/bin/bash"]'])
    tarball.unlink()
    return _image_fields(str(ctx.image))


def _docker_build(ctx: BuildContext) -> None:
    recipe = ctx.recipe
    with tempfile.TemporaryDirectory(prefix=f"kit-{recipe.name}-") as tmp:
        context = Path(tmp) / "context"
        shutil.copytree(recipe.directory, context)
        for need, path in ctx.need_dirs.items():
            shutil.copytree(path, context / "kit" / need, symlinks=True)
        buildargs = {k: render(str(v), ctx.values) for k, v in recipe.build_args.items()}
        api = docker_client().api
        tail: list[str] = []
        with open(ctx.log, "a") as sink, progress(f"{recipe.name}: docker build") as shown:
            for chunk in api.build(path=str(context), dockerfile=recipe.dockerfile, tag=ctx.image,
                                   buildargs=buildargs, rm=True, forcerm=True, pull=False, decode=True):
                if "error" in chunk:
                    sink.write(chunk["error"] + "\n")
                    raise CommandFailed(["docker build", recipe.name], 1, tail + [chunk["error"]], ctx.log)
                text = chunk.get("stream") or chunk.get("status") or ""
                sink.write(text)
                line = text.strip()
                if line:
                    tail = (tail + [line])[-40:]
                    shown.update(line)


def debootstrap_path() -> str | None:
    """debootstrap wherever root would find it (sbin is not on a normal user's PATH)."""
    return shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")


def build_image(ctx: BuildContext) -> dict:
    if ctx.recipe.dockerfile:
        _docker_build(ctx)
    else:
        env = {**os.environ, **ctx.environment(ctx.cache / "out", ctx.cache, ctx.need_dirs)}
        run_logged(ctx.recipe.run, label=f"{ctx.recipe.name}: building {ctx.image}", log=ctx.log,
                   env=env, cwd=ctx.recipe.directory)
    return _image_fields(str(ctx.image))


def _run_in_container(ctx: BuildContext, staging: Path) -> None:
    recipe = ctx.recipe
    volumes = {str(recipe.directory): {"bind": "/recipe", "mode": "ro"},
               str(staging): {"bind": "/out", "mode": "rw"},
               str(ctx.cache): {"bind": "/cache", "mode": "rw"}}
    inside: dict[str, str] = {}
    for need, path in ctx.need_dirs.items():
        volumes[str(path)] = {"bind": f"/kit/{need}", "mode": "ro"}
        inside[need] = f"/kit/{need}"
    env = ctx.environment("/out", "/cache", inside)
    image = ctx.need_images[str(recipe.container)]
    container = docker_client().containers.run(image, list(recipe.run), environment=env, volumes=volumes,
                                                  working_dir="/recipe", detach=True)
    tail: list[str] = []
    try:
        with open(ctx.log, "a") as sink, progress(f"{recipe.name}: building in {image}") as shown:
            for raw in container.logs(stream=True, follow=True):
                text = raw.decode(errors="replace")
                sink.write(text)
                line = text.strip()
                if line:
                    tail = (tail + [line])[-40:]
                    shown.update(line)
        code = container.wait()["StatusCode"]
    finally:
        container.remove(force=True)
    if code != 0:
        raise CommandFailed(list(recipe.run), code, tail, ctx.log)


def build_files(ctx: BuildContext) -> dict:
    final = ctx.store.artifact_dir(ctx.recipe.name, ctx.key)
    staging = final.with_name(final.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if ctx.recipe.container:
        _run_in_container(ctx, staging)
    else:
        env = {**os.environ, **ctx.environment(staging, ctx.cache, ctx.need_dirs)}
        run_logged(ctx.recipe.run, label=f"{ctx.recipe.name}: building", log=ctx.log, env=env,
                   cwd=ctx.recipe.directory)
    files = checksum_tree(staging)
    if not files:
        raise CommandFailed(list(ctx.recipe.run), 0, [f"{ctx.recipe.name}: the build wrote nothing to KIT_OUT"], ctx.log)
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    size = sum((final / relative).stat().st_size for relative in files)
    return {"path": str(final), "files": files, "size_bytes": size}


def image_id(ref: str) -> str | None:
    """The id of the image `ref` names here, or None."""
    try:
        return docker_client().images.get(ref).id
    except docker.errors.ImageNotFound:
        return None


def image_present(ref: str, image_id_: str) -> bool:
    return image_id(ref) == image_id_


def remove_kit_image(ref: str, recorded_id: str) -> bool:
    """Take the kit's tag `ref` off its image, only while it is a kit tag naming the image the kit
    recorded: a tag of someone else's, or one moved to another image since, is left. True when the
    tag is gone."""
    if not ref.startswith(f"{IMAGE_REPOSITORY}/"):
        return False
    present = image_id(ref)
    if present is None:
        return True
    if present != recorded_id:
        return False
    docker_client().images.remove(ref)
    return True
