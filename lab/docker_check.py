"""lab.docker-check: the runtime images under Docker's wasm runtime, sent the lab's HTTP checks.

This is how many people meet wasm first, before a cluster: `docker run --runtime
io.containerd.wasmedge.v1 …` on an engine with the containerd image store, which hands the
container to the containerd shim of that name. The check runs it in an engine of its own, the kit's
docker-engine image (Debian trixie's docker.io 26 with the containerd image store on) as a
privileged container labelled with the lab's name, with the lab's shims placed on its containerd's
PATH before it starts; it loads the runtime images into it, runs each variant in turn with its
runtime on the engine's network, checks it through the engine container's address, and removes
the engine whatever happens. The user's own engine is only asked whether it could do the same.
"""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import docker

from lab import artifacts, catalog, engines, httpbin_cases, images, report, workloads
from lab.actions.check import CONNECT_RETRIES, as_row
from lab.artifacts.host import version_tuple
from lab.errors import InputError, LabError
from lab.kube import OWNER
from lab.proc import console
from lab.waits import wait_until

ENGINE_PORT = 2375
ENGINE_ARTIFACT = "docker-engine"
FIRST_WASM_ENGINE = (23, 0)     # Docker Engine 23 runs containerd shims given by name to --runtime
WASM_PORT = "3000"
RESULTS_NAME = "docker-check"


def engine_name(lab: str) -> str:
    return f"wasm-lab-{lab}-docker"


def runnable_variants(runtimes) -> dict[str, catalog.Runtime]:
    """The variants Docker's wasm runtime can run, with their runtime: an image (an artifact has no
    filesystem for Docker) run by a containerd shim of its own (crun goes through runc's)."""
    every = catalog.load()
    found = {}
    for name in runtimes:
        runtime = every.runtimes[name]
        if runtime.runtime_type == "io.containerd.runc.v2":
            continue
        for variant in runtime.variants:
            entry = every.variants[variant]
            if entry.runtime_class and entry.delivery == "image":
                found[variant] = runtime
    return found


def own_engine_verdict(client=None) -> str:
    """One line on whether the user's own Docker engine could run these images itself."""
    client = client or docker.from_env()
    version = client.version().get("Version", "0")
    if version_tuple(version) < FIRST_WASM_ENGINE:
        return (f"your Docker engine {version} cannot run them itself: --runtime io.containerd.<shim>.v1 needs "
                f"Docker {'.'.join(map(str, FIRST_WASM_ENGINE))}+ with the containerd image store")
    drivers = " ".join(str(value) for _, value in client.info().get("DriverStatus") or [])
    if "io.containerd.snapshotter" not in drivers:
        return (f"your Docker engine {version} cannot run them as it is: turn on the containerd image store "
                '("features": {"containerd-snapshotter": true} in /etc/docker/daemon.json) and put the shims '
                "on containerd's PATH")
    return f"your Docker engine {version} has the containerd image store: with the shims on its PATH it can run them too"


def _shims_archive(runtimes: list[catalog.Runtime], files: dict) -> bytes:
    """The runtimes' shim binaries as a tar for /usr/local/bin, each under its name on the node."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for runtime in runtimes:
            for item in runtime.files:
                data = files[item["source"]].verified_bytes()
                info = tarfile.TarInfo(Path(item["dest"]).name)
                info.size, info.mode = len(data), 0o755
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _remove_engine(client, lab: str) -> bool:
    try:
        container = client.containers.get(engine_name(lab))
    except docker.errors.NotFound:
        return False
    if container.labels.get(OWNER) != lab:
        raise LabError(f"a container named {engine_name(lab)} exists and is not lab {lab}'s Docker engine: "
                       "remove or rename it")
    container.remove(force=True, v=True)
    return True


def _start_engine(client, lab: str, image: str, shims: bytes):
    """The engine container, started with the shims in place; (container, its client, its address)."""
    if _remove_engine(client, lab):
        console.print(f"  removed {engine_name(lab)} left by an interrupted run")
    container = client.containers.create(image, name=engine_name(lab), privileged=True, detach=True,
                                         labels={OWNER: lab}, ports={f"{ENGINE_PORT}/tcp": ("127.0.0.1", None)})
    container.put_archive("/usr/local/bin", shims)
    container.start()
    container.reload()
    port = container.attrs["NetworkSettings"]["Ports"][f"{ENGINE_PORT}/tcp"][0]["HostPort"]

    def answers():
        container.reload()
        if container.status == "exited":
            tail = container.logs(tail=3).decode(errors="replace").strip().splitlines()
            raise LabError(f"the Docker engine in {engine_name(lab)} stopped: {tail[-1] if tail else 'no log'}")
        try:  # "auto" asks the engine its API version: no client before it answers
            client = docker.DockerClient(base_url=f"tcp://127.0.0.1:{port}", version="auto", timeout=120)
            return client if client.ping() else None
        except docker.errors.DockerException:
            return None

    inner = wait_until(answers, 90, f"the Docker engine in {engine_name(lab)} never answered on 127.0.0.1:{port}")
    return container, inner, container.attrs["NetworkSettings"]["IPAddress"]


def _check_variant(inner, address: str, variant: str, runtime: catalog.Runtime) -> list[dict]:
    """One variant run the way `docker run --runtime … --network host` runs it, checked, removed."""
    entry = catalog.load().variants[variant]
    container = inner.containers.run(images.tag(variant), name=variant, detach=True, network_mode="host",
                                     runtime=runtime.runtime_type,
                                     environment={"FLAVOR": variant, "PORT": WASM_PORT, **entry.env})
    try:
        base_url = f"http://{address}:{WASM_PORT}"
        try:
            workloads.wait_answering(base_url, variant, timeout=60)
        except LabError as error:
            container.reload()
            log = container.logs(tail=5).decode(errors="replace").strip().replace("\n", " | ")
            raise LabError(f"{error} (container {container.status}: {log or 'no log'})") from None
        return [as_row(r) for r in httpbin_cases.run_cases(base_url, connect_retries=CONNECT_RETRIES)]
    finally:
        container.remove(force=True)


def run(spec) -> str:
    """Every runnable variant of the spec's runtimes under the lab's Docker engine; the checks'
    table, docker-check.json and its JUnit file; a LabError when a check failed."""
    chosen = runnable_variants(spec.runtimes)
    if not chosen:
        shims = [name for name, r in catalog.load().runtimes.items() if r.runtime_type != "io.containerd.runc.v2"]
        raise InputError(f"runtime: Docker's wasm runtime runs the containerd shims; choose one of: {', '.join(shims)}")
    console.print(own_engine_verdict())
    every = catalog.load().runtimes
    runtimes = [every[name] for name in dict.fromkeys(r.name for r in chosen.values())]
    resolved = artifacts.resolve(spec, tuple(r.name for r in runtimes), tuple(chosen))
    engine_image = artifacts.image(spec, ENGINE_ARTIFACT)
    images.build(list(chosen), images.BaseImages(resolved.base_images, identities=resolved.base_identities))
    client = docker.from_env()
    with console.status(f"starting the Docker engine {engine_name(spec.name)} ({engine_image})"):
        container, inner, address = _start_engine(client, spec.name, engine_image,
                                                  _shims_archive(runtimes, resolved.files))
    try:
        version = inner.version().get("Version", "?")
        console.print(f"  Docker {version} with the containerd image store in {engine_name(spec.name)} ({address})")
        for ref in dict.fromkeys(images.tag(v) for v in chosen):
            inner.images.load(b"".join(client.images.get(ref).save(named=True)))
        results = {}
        for variant, runtime in chosen.items():
            with console.status(f"{variant}: docker run --runtime {runtime.runtime_type}, checks"):
                results[variant] = _check_variant(inner, address, variant, runtime)
    finally:
        container.remove(force=True, v=True)
    variants = catalog.load().variants
    ran_on = {v: engines.of_variant(v, resolved.engines, resolved.origins) for v in results}
    report.show(results, {v: variants[v].execution_label for v in results},
                title=f"Docker {version}'s wasm runtime (docker run --runtime io.containerd.<shim>.v1): variant × case",
                engines={v: engines.label(e) for v, e in ran_on.items()})
    json_path, junit_path = report.write(results, Path(spec.results_dir), {
        "lab": spec.name, "engine": f"Docker {version}", "runtimes": {v: r.runtime_type for v, r in chosen.items()},
        "execution": {v: variants[v].execution for v in results}, "engines": ran_on}, name=RESULTS_NAME)
    failed = report.failures(results)
    if failed:
        raise LabError(f"{failed} check(s) failed under Docker's wasm runtime; details in {json_path} and {junit_path}")
    return f"all checks passed on {len(results)} variants under Docker {version}'s wasm runtime; {json_path}, {junit_path}"
