"""Build the httpbin workload's images (images/httpbin/Dockerfile) with the docker SDK.

One Dockerfile, one target per variant; the embed and runtime images of an engine copy the same
file out of the shared `build` stage, so they carry byte-identical .wasm. Base images come from
resolved by lab.artifacts (pinned upstream images, or the offline kit's).

Each image carries, as the label BUILD_INPUTS, a digest of what it was built from (inputs_digest:
its target, the Dockerfile, the build context docker sends, the identity of each base image it
uses). An image whose label matches is used as it is, without a build: an unchanged re-run, or the
images a workshop bundle brought (docs/kit.md).
"""
from __future__ import annotations

import hashlib
import io
import itertools
import os
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from lab import REPO_ROOT, catalog
from lab.kit.store import sha256_file
from lab.proc import console

ROOT = REPO_ROOT
CONTEXT = ROOT / "workloads" / "httpbin"
DOCKERFILE = catalog.DOCKERFILE
REPOSITORY = "wasm-lab/httpbin"
# The image targets the variants are deployed from (a variant may share another's image: the
# workload's `FLAVOR` is set at deploy time), and the engine of each image that carries a .wasm
# (lab/catalog.py).
IMAGE_TARGETS = catalog.load().images
JOB_IMAGES = catalog.load().job_images   # the WASI job check's images (lab/jobs.py)
ENGINE = {v.image: v.engine for v in catalog.load().variants.values() if v.engine}
WASM_PATH = "/httpbin.wasm"
BUILD_INPUTS = "wasm-lab.dev/build-inputs"   # the image label holding inputs_digest

# The base images are build args; lab.artifacts resolves each (BASE_IMAGE_ARTIFACTS) from its
# origins: a pinned upstream image, one built here from pinned inputs, or the kit's.
BASE_ARGS = ("RUST_IMAGE", "WASMEDGE_IMAGE", "WASMTIME_IMAGE")
# Which base images each target needs; the others are replaced by `scratch` so the legacy
# builder (which builds every stage before the target) never needs an image it does not use. A
# stage that only COPYs builds on `scratch` too; the `aot-wasmedge` stage RUNs the WasmEdge CLI, so
# the AOT targets (after it in the Dockerfile) need WASMEDGE_IMAGE even for a FROM scratch image.
NEEDS = {
    "native": ("RUST_IMAGE",),
    "runtime-wasmedge": ("RUST_IMAGE",),
    "runtime-wasmtime": ("RUST_IMAGE",),
    "embed-wasmedge": ("RUST_IMAGE", "WASMEDGE_IMAGE"),
    "embed-wasmtime": ("RUST_IMAGE", "WASMTIME_IMAGE"),
    "embed-wasmedge-aot": ("RUST_IMAGE", "WASMEDGE_IMAGE"),
    "runtime-wasmedge-aot": ("RUST_IMAGE", "WASMEDGE_IMAGE"),
    "job-wasm": ("RUST_IMAGE",),
    "job-native": ("RUST_IMAGE",),
}


class ImageBuildError(RuntimeError):
    pass


@dataclass
class BaseImages:
    images: dict[str, str]                        # build arg -> image reference
    # build arg -> what the base image is, the same on every machine (lab.artifacts.Resolver.identity):
    # what a prebuilt image's inputs label is held to
    identities: dict[str, str]
    origins: dict[str, str] = field(default_factory=dict)

    def identities_for(self, target: str) -> dict[str, str]:
        missing = [arg for arg in NEEDS[target] if not self.identities.get(arg)]
        if missing:
            raise ImageBuildError(f"{target} needs {missing[0]}, which was not resolved")
        return {arg: self.identities[arg] for arg in NEEDS[target]}

    def buildargs(self, variant: str) -> dict[str, str]:
        args = {}
        for arg in BASE_ARGS:
            if arg in NEEDS[variant]:
                if not self.images.get(arg):
                    raise ImageBuildError(f"{variant} needs {arg}, which was not resolved")
                args[arg] = self.images[arg]
            else:
                args[arg] = "scratch"
        return args


@dataclass
class BuiltImage:
    variant: str
    tag: str
    id: str
    size: int
    seconds: float
    wasm_sha256: str | None = None
    prebuilt: bool = False        # its label matched its inputs: used without a build
    inputs: str = ""              # inputs_digest, which its label BUILD_INPUTS records


def image_of(variant: str) -> str:
    """The image target a variant is deployed from (an image target names itself)."""
    found = catalog.load().variants.get(variant)
    return found.image if found else variant


def targets_for(variants, runtimes) -> list[str]:
    """The image targets a lab with these variants and runtimes builds: the variants' images and,
    when there are variants, the WASI job's images for the runtimes (lab/jobs.py)."""
    if not variants:
        return []
    return list(dict.fromkeys([image_of(v) for v in variants] + list(catalog.load().job_images_for(tuple(runtimes)))))


def context_files(context: Path = CONTEXT) -> list[str]:
    """The files of the build context docker sends (its .dockerignore applied), relative, sorted."""
    from docker.utils.build import exclude_paths

    ignore = context / ".dockerignore"
    patterns = ignore.read_text().splitlines() if ignore.is_file() else []
    return sorted(path for path in exclude_paths(str(context), patterns) if (context / path).is_file())


def inputs_digest(target: str, bases: dict[str, str], dockerfile: Path = DOCKERFILE,
                  context: Path = CONTEXT) -> str:
    """sha256 over what a target's image is built from: the target, the Dockerfile, each file of
    the build context (name and sha256), and the identity of each base image the target uses
    (`bases`: build arg -> identity; the others are `scratch`). The host's extra CA certificates
    are left out: they let cargo reach crates.io and change nothing that is built."""
    digest = hashlib.sha256(f"target={target}\0dockerfile={sha256_file(dockerfile)}\0".encode())
    for relative in context_files(context):
        digest.update(f"{relative}={sha256_file(context / relative)}\0".encode())
    for arg in BASE_ARGS:
        if arg in NEEDS[target] and not bases.get(arg):
            raise ImageBuildError(f"{target} needs {arg}, whose identity is not known")
        digest.update(f"{arg}={bases[arg] if arg in NEEDS[target] else 'scratch'}\0".encode())
    return digest.hexdigest()


def build_inputs(ref: str, client=None) -> str | None:
    """The inputs digest an image's label records (None: no such image, or no label)."""
    import docker
    try:
        image = (client or _client()).images.get(ref)
    except docker.errors.ImageNotFound:
        return None
    return (image.labels or {}).get(BUILD_INPUTS)


def tag(variant: str) -> str:
    """The local tag of a variant's image, or of a job image (named by its target)."""
    variant = image_of(variant)
    if variant not in IMAGE_TARGETS + JOB_IMAGES:
        raise ValueError(f"unknown httpbin variant {variant!r} (one of {', '.join(IMAGE_TARGETS + JOB_IMAGES)})")
    return f"{REPOSITORY}:{variant}"


def exists(ref: str, client=None) -> bool:
    import docker
    try:
        (client or _client()).images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


def extra_ca_certs() -> str:
    """PEM text of the host's extra CA certificates (TLS-intercepting proxies), for cargo inside
    the build; empty on ordinary hosts. WASM_LAB_EXTRA_CA_CERTS names a PEM file to use instead."""
    named = os.environ.get("WASM_LAB_EXTRA_CA_CERTS")
    paths = [Path(named)] if named else sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
    texts = []
    for path in paths:
        try:
            texts.append(path.read_text())
        except OSError:
            continue
    # The same text as `$(cat files…)`, so images/kit/rust-builder/build.sh and this agree.
    return "".join(texts).rstrip("\n")


def _client():
    from lab.docker_api import docker_client
    return docker_client(timeout=3600)


def build_variant(variant: str, bases: BaseImages, client=None, log: Path | None = None,
                  wasm_sums: bool = True) -> BuiltImage:
    """Build one variant's image, unless the image there was built from the same inputs; streams
    progress through rich, the full log to `log`. `wasm_sums`: also read the .wasm's sha256."""
    client = client or _client()
    ref = tag(variant)
    inputs = inputs_digest(variant, bases.identities_for(variant))
    if build_inputs(ref, client) == inputs:
        image = client.images.get(ref)
        return BuiltImage(variant=variant, tag=ref, id=image.id, size=image.attrs.get("Size", 0), seconds=0.0,
                          wasm_sha256=wasm_sha256(ref, client) if wasm_sums and variant in ENGINE else None,
                          prebuilt=True, inputs=inputs)
    buildargs = bases.buildargs(variant)
    ca = extra_ca_certs()
    if ca:
        buildargs["EXTRA_CA_CERTS"] = ca
    started = time.monotonic()
    image_id = None
    tail: list[str] = []
    sink = open(log, "a", buffering=1) if log else None
    try:
        with console.status(f"httpbin {variant}: docker build") as status:
            for chunk in client.api.build(path=str(CONTEXT), dockerfile=str(DOCKERFILE), tag=ref,
                                          target=variant, buildargs=buildargs, rm=True, forcerm=True,
                                          pull=False, decode=True, labels={BUILD_INPUTS: inputs}):
                if "error" in chunk:
                    message = chunk["error"].strip()
                    if sink:
                        sink.write(message + "\n")
                    raise ImageBuildError(f"{ref}: {message}\n" + "\n".join(tail[-20:]))
                text = chunk.get("stream") or chunk.get("status") or ""
                if sink and text:
                    sink.write(text)
                if "aux" in chunk and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
                line = text.strip()
                if line:
                    tail = (tail + [line])[-40:]
                    status.update(f"httpbin {variant}: [dim]{line[:100]}[/dim]")
    finally:
        if sink:
            sink.close()
    seconds = time.monotonic() - started
    image = client.images.get(ref)
    built = BuiltImage(variant=variant, tag=ref, id=image_id or image.id, size=image.attrs.get("Size", 0),
                       seconds=seconds, inputs=inputs)
    if wasm_sums and variant in ENGINE:
        built.wasm_sha256 = wasm_sha256(ref, client)
    return built


def build(variants: list[str] | None, bases: BaseImages, log: Path | None = None,
          wasm_sums: bool = True) -> list[BuiltImage]:
    """Build the given variants (all when None), in order, each unless it is prebuilt from the same
    inputs; returns tag, id, size, build time."""
    wanted = [image_of(v) for v in (variants or IMAGE_TARGETS)]
    for v in wanted:
        tag(v)
    client = _client()
    return [build_variant(v, bases, client, log, wasm_sums) for v in dict.fromkeys(wanted)]


def prebuilt_with(target: str, candidates: dict[str, list[str]], client=None) -> dict[str, str] | None:
    """The base identities (build arg -> identity, one of each arg's `candidates`) with which the
    target's tagged image was built, when its label says so; None when it was not (or is absent)."""
    recorded = build_inputs(tag(target), client)
    if recorded is None:
        return None
    for combination in itertools.product(*(candidates.get(arg, []) for arg in NEEDS[target])):
        chosen = dict(zip(NEEDS[target], combination))
        if inputs_digest(target, chosen) == recorded:
            return chosen
    return None


def file_from_image(ref: str, path: str, client=None) -> bytes:
    """One file inside an image (exported from a container that is created, never started)."""
    client = client or _client()
    container = client.containers.create(ref, entrypoint=["/nothing"], command=[])
    try:
        stream, _ = container.get_archive(path)
        archive = io.BytesIO(b"".join(stream))
    finally:
        container.remove(force=True)
    with tarfile.open(fileobj=archive) as tar:
        member = tar.getmembers()[0]
        handle = tar.extractfile(member)
        if handle is None:
            raise ImageBuildError(f"{ref}: {path} is not a file")
        return handle.read()


def wasm_bytes(ref: str, client=None) -> bytes:
    """The .wasm file inside an image."""
    return file_from_image(ref, WASM_PATH, client)


def wasm_sha256(ref: str, client=None) -> str:
    return hashlib.sha256(wasm_bytes(ref, client)).hexdigest()


def wasm_identical(built: list[BuiltImage]) -> dict[str, bool | None]:
    """Per pair of embed-X and runtime-X images (X: wasmedge, wasmtime, wasmedge-aot): do both
    carry the same .wasm (None: not both built)."""
    sums = {b.variant: b.wasm_sha256 for b in built}
    out: dict[str, bool | None] = {}
    for image in IMAGE_TARGETS:
        if image.startswith("embed-") and f"runtime-{image.removeprefix('embed-')}" in IMAGE_TARGETS:
            pair = (sums.get(image), sums.get(f"runtime-{image.removeprefix('embed-')}"))
            out[image.removeprefix("embed-")] = None if None in pair else pair[0] == pair[1]
    return out
