"""The runtimes the lab installs and the workload variants each brings (lab/defaults/runtimes.yaml),
loaded once, checked and typed. Everything that names a runtime or a variant asks here: the spec
(allowed values, host ports), the installer (files, containerd entry), the RuntimeClasses, the
images and the Deployments."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lab import REPO_ROOT

CATALOG_FILE = Path(__file__).parent / "defaults" / "runtimes.yaml"
DOCKERFILE = REPO_ROOT / "images" / "httpbin" / "Dockerfile"


# How a variant's code runs, and how it is shown to people. jit and aot name the engine's
# compiler when it is known (COMPILERS): "JIT (Cranelift)", "AOT (LLVM)".
EXECUTIONS = {
    "native": "native binary",       # a Linux binary compiled ahead of time by rustc; no wasm engine
    "interpreter": "interpreter",    # the engine interprets the wasm bytecode
    "jit": "JIT",                    # the engine compiles the module to machine code when it loads it
    "aot": "AOT",                    # machine code compiled before deployment, carried in the image
}
COMPILERS = {"wasmtime": "Cranelift", "wasmedge": "LLVM"}
# How a variant's code is packaged and what runs it (docs/architecture.md, Words).
PACKAGINGS = {
    "native": "a Linux binary in an image, run by runc",
    "embed": "an engine and the module in one image, run by runc",
    "runtime": "the module alone in an image, run through a runtime's RuntimeClass",
    "artifact": "the module as a Wasm OCI artifact (one application/wasm layer, no root filesystem), "
                "pulled from a registry and run through a runtime's RuntimeClass",
}
# How a variant's code reaches the node, from its packaging: an image (side-loaded, or pulled from
# the registry the lab pushes it to), or the Wasm OCI artifact.
DELIVERIES = ("image", "artifact")


class CatalogError(ValueError):
    """The catalog file itself is wrong (a bug in the repository, not the user's input)."""


@dataclass(frozen=True)
class Variant:
    name: str
    image: str                          # the Dockerfile target it is deployed from
    packaging: str                      # one of PACKAGINGS
    execution: str                      # how its code runs: one of EXECUTIONS
    engine: str | None = None           # the wasm engine inside; None for native
    runtime_class: str | None = None    # the RuntimeClass (= handler) it runs through; None: runc
    pod_annotations: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    # its wasm runtime is the container's PID 1 with no SIGTERM handler, which the kernel ignores
    # there: in the pod's shared process namespace (the pause process is PID 1) SIGTERM ends it
    share_process_namespace: bool = False

    @property
    def delivery(self) -> str:
        """One of DELIVERIES: how its code reaches the node."""
        return "artifact" if self.packaging == "artifact" else "image"

    @property
    def execution_label(self) -> str:
        """e.g. "JIT (Cranelift)", "AOT (LLVM)", "interpreter", "native binary"."""
        label = EXECUTIONS[self.execution]
        compiler = COMPILERS.get(self.engine or "")
        return f"{label} ({compiler})" if self.execution in ("jit", "aot") and compiler else label


@dataclass(frozen=True)
class Runtime:
    name: str
    handler: str
    runtime_type: str
    options: dict = field(default_factory=dict)
    pod_annotations: tuple[str, ...] = ()
    files: tuple[dict, ...] = ()        # {source: artifact, dest: path on the node}
    bundles: tuple[str, ...] = ()       # artifacts installed whole on the node
    variants: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobRunner:
    """One way the WASI job check runs its command module: an image, run the way the variant
    `like` runs its code (that variant's RuntimeClass, pod annotations and execution)."""
    name: str
    image: str
    like: str
    exit_status: int | None = None      # documented: what its container always ends with (None: as asked)


@dataclass(frozen=True)
class Catalog:
    runtimes: dict[str, Runtime]
    variants: dict[str, Variant]        # in host-port order (host_port_order)
    baseline: tuple[str, ...] = ()      # deployed whatever the runtimes (native)
    jobs: dict[str, JobRunner] = field(default_factory=dict)

    def variants_for(self, runtimes, artifacts: bool = True) -> tuple[str, ...]:
        """The baseline and the variants these runtimes bring, in host-port order; the artifact
        variants only when the nodes can pull from a registry (`artifacts`)."""
        wanted = set(self.baseline) | {v for r in runtimes for v in self.runtimes[r].variants}
        return tuple(v for v, entry in self.variants.items()
                     if v in wanted and (artifacts or entry.delivery != "artifact"))

    def jobs_for(self, runtimes) -> tuple[str, ...]:
        """The job runners of these runtimes (and the native one), in catalog order."""
        variants = self.variants_for(runtimes)
        return tuple(name for name, runner in self.jobs.items() if runner.like in variants)

    @property
    def job_images(self) -> tuple[str, ...]:
        return self.job_images_for(self.runtimes)

    def job_images_for(self, runtimes) -> tuple[str, ...]:
        """The images the job runners of these runtimes run, each once."""
        return tuple(dict.fromkeys(self.jobs[runner].image for runner in self.jobs_for(runtimes)))

    @property
    def images(self) -> tuple[str, ...]:
        """The image targets the variants are deployed from, each once (job images apart)."""
        return tuple(dict.fromkeys(v.image for v in self.variants.values()))


def _variant(name: str, entry: dict, runtime: Runtime | None, targets: set[str]) -> Variant:
    if entry.get("image") not in targets:
        raise CatalogError(f"variant {name}: image {entry.get('image')!r} is not a target of {DOCKERFILE.name}")
    if entry.get("runtime_class") and runtime is None:
        raise CatalogError(f"variant {name}: only a runtime's variants can run through a RuntimeClass")
    execution = entry.get("execution")
    if execution not in EXECUTIONS:
        raise CatalogError(f"variant {name}: execution {execution!r} is not one of {', '.join(EXECUTIONS)}")
    if (execution == "native") != (entry.get("engine") is None):
        raise CatalogError(f"variant {name}: execution native is for a variant without engine, and only for it")
    packaging = entry.get("packaging")
    if packaging not in PACKAGINGS:
        raise CatalogError(f"variant {name}: packaging {packaging!r} is not one of {', '.join(PACKAGINGS)}")
    if (packaging == "native") != (execution == "native"):
        raise CatalogError(f"variant {name}: packaging native is for execution native, and only for it")
    if (packaging in ("runtime", "artifact")) != bool(entry.get("runtime_class")):
        raise CatalogError(f"variant {name}: packaging runtime or artifact runs through a RuntimeClass, "
                           "and only those do")
    return Variant(name=name, image=entry["image"], packaging=packaging, execution=execution,
                   engine=entry.get("engine"),
                   runtime_class=runtime.handler if runtime is not None and entry.get("runtime_class") else None,
                   pod_annotations=dict(entry.get("pod_annotations") or {}), env=dict(entry.get("env") or {}),
                   share_process_namespace=entry.get("share_process_namespace") is True)


def parse(data: dict, targets: set[str]) -> Catalog:
    """The catalog from its YAML mapping (pure: unit-tested with catalogs of its own)."""
    variants = {name: _variant(name, entry, None, targets) for name, entry in (data.get("baseline") or {}).items()}
    runtimes = {}
    for name, entry in (data.get("runtimes") or {}).items():
        missing = [key for key in ("handler", "runtime_type") if not entry.get(key)]
        if missing:
            raise CatalogError(f"runtime {name}: {', '.join(missing)} missing")
        runtime = Runtime(name=name, handler=entry["handler"], runtime_type=entry["runtime_type"],
                          options=dict(entry.get("options") or {}),
                          pod_annotations=tuple(entry.get("pod_annotations") or ()),
                          files=tuple(entry.get("files") or ()), bundles=tuple(entry.get("bundles") or ()),
                          variants=tuple(entry.get("variants") or ()))
        if not runtime.variants:
            raise CatalogError(f"runtime {name}: no variants")
        for variant in runtime.variants:
            if variant in variants:
                raise CatalogError(f"variant {variant} is named twice")
            variants[variant] = _variant(variant, entry["variants"][variant], runtime, targets)
        runtimes[name] = runtime
    jobs = {}
    for name, entry in (data.get("jobs") or {}).items():
        if entry.get("image") not in targets:
            raise CatalogError(f"job runner {name}: image {entry.get('image')!r} is not a target of {DOCKERFILE.name}")
        if entry.get("like") not in variants:
            raise CatalogError(f"job runner {name}: like {entry.get('like')!r} is not a variant")
        jobs[name] = JobRunner(name=name, image=entry["image"], like=entry["like"], exit_status=entry.get("exit_status"))
    return Catalog(runtimes=runtimes, variants=_in_host_port_order(variants, data.get("host_port_order")),
                   baseline=tuple(data.get("baseline") or ()), jobs=jobs)


def _in_host_port_order(variants: dict[str, Variant], order) -> dict[str, Variant]:
    """The variants in `host_port_order` when the catalog has one (every variant named exactly
    once), else in the order they appear: the baseline, then each runtime's."""
    if order is None:
        return variants
    order = list(order)
    twice = sorted({v for v in order if order.count(v) > 1})
    unknown = [v for v in order if v not in variants]
    missing = [v for v in variants if v not in order]
    if twice or unknown or missing:
        raise CatalogError("host_port_order: " + "; ".join(
            f"{what} {', '.join(names)}" for what, names in
            (("named twice:", twice), ("not a variant:", unknown), ("missing:", missing)) if names))
    return {name: variants[name] for name in order}


def dockerfile_targets(path: Path = DOCKERFILE) -> set[str]:
    return set(re.findall(r"^FROM \S+ AS (\S+)$", path.read_text(), flags=re.MULTILINE))


@functools.cache
def load() -> Catalog:
    return parse(yaml.safe_load(CATALOG_FILE.read_text()), dockerfile_targets())
