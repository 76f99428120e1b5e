"""Preflight checks (lab.doctor) and a diagnostics bundle (lab.diagnose)."""
from __future__ import annotations

import io
import shutil
import socket
import tarfile
import time
from pathlib import Path

import docker

from lab import catalog, providers, recovery
from lab.errors import LabError
from lab.kube import Kube
from lab.proc import run
from lab.spec import LabSpec
from lab.state import State

CAPS_ERROR = "unable to apply caps"
PRIVILEGED_FIX = ("this host's capability bounding set lacks a capability privileged containers need "
                  "(seen in sandboxed VMs); register the runtime wrapper in hack/sandbox-runc: bash hack/setup-docker")


def _check(name, fn):
    try:
        ok, detail = fn()
    except Exception as error:  # a preflight reports every failure instead of stopping at the first
        ok, detail = False, f"{error.__class__.__name__}: {error}"
    return {"check": name, "ok": ok, "detail": detail}


def _docker():
    version = docker.from_env().version()
    return True, f"engine {version['Version']} (API {version['ApiVersion']})"


def _cgroups():
    info = docker.from_env().info()
    version, driver = info.get("CgroupVersion", "?"), info.get("CgroupDriver", "?")
    note = "; Kubernetes >= 1.35 needs failCgroupV1: false (the lab sets it)" if version == "1" else ""
    return True, f"cgroup v{version}, driver {driver}{note}"


def _ports(spec: LabSpec, cluster_running: bool):
    busy = []
    variants = catalog.load().variants
    for variant in variants:
        port = spec.host_port(variant)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                busy.append(str(port))
    if busy and not cluster_running:
        return False, f"ports in use on 127.0.0.1: {', '.join(busy)} (set host_port_base in lab.yaml)"
    return True, "the lab's cluster holds them" if busy else f"{spec.host_port_base}..{spec.host_port_base + len(variants) - 1} free"


def _privileged():
    client = docker.from_env()
    empty = io.BytesIO()
    tarfile.open(fileobj=empty, mode="w").close()
    image = "wasm-lab/doctor-empty:1"
    client.api.import_image_from_data(empty.getvalue(), repository=image.split(":")[0], tag="1")
    container = None
    try:
        # created and started apart: a start that fails leaves a container run(remove=True) keeps
        container = client.containers.create(image, ["/nonexistent"], privileged=True)
        container.start()
    except docker.errors.APIError as error:
        if CAPS_ERROR in str(error):
            return False, PRIVILEGED_FIX
        if "no such file" in str(error).lower() or "executable file not found" in str(error):
            return True, "privileged containers start"
        raise
    finally:
        if container is not None:
            container.remove(force=True)
        client.images.remove(image, force=True)
    return True, "privileged containers start"


NODE_FILES = {
    "containerd-config-dump.toml": ["containerd", "config", "dump"],
    "containerd.log": ["journalctl", "-u", "containerd", "--no-pager", "-n", "2000"],
    "kubelet.log": ["journalctl", "-u", "kubelet", "--no-pager", "-n", "2000"],
    "runtimes.txt": ["sh", "-c", "ls -l /usr/local/bin/containerd-shim-* /usr/bin/crun /opt/wasm-lab 2>&1"],
}
CLUSTER_FILES = {"pods.txt": ["describe", "pods"], "events.txt": ["get", "events", "--sort-by=.lastTimestamp"],
                 "nodes.txt": ["describe", "nodes"], "runtimeclasses.yaml": ["get", "runtimeclass", "-o", "yaml"]}


def preflight(spec: LabSpec) -> list[dict]:
    """The host's checks, then what the lab's provider needs, then the lab's ports."""
    provider = providers.get(spec.provider)
    checks = [_check("docker", _docker), *(_check(name, fn) for name, fn in provider.host_checks().items()),
              _check("cgroups", _cgroups), _check("privileged containers", _privileged)]
    try:
        running = provider.exists(spec)
    except Exception:
        running = False
    checks.append(_check("host ports", lambda: _ports(spec, running)))
    checks.append(_check("lab pods", lambda: _crash_looping_pods(spec, running)))
    return checks


def _crash_looping_pods(spec: LabSpec, cluster_running: bool):
    """The lab's pods stuck crash-looping, as a containerd restart leaves runwasi pods on containerd 2.x."""
    if not cluster_running:
        return True, "no cluster yet"
    state = State(spec.name)
    try:
        cluster = providers.get(spec.provider).attach(spec, state)
    except LabError:
        return True, "the lab is not up"
    try:
        looping = recovery.crash_looping_pods(Kube(cluster.kubeconfig, cluster.context).core,
                                              state.get("namespace", spec.namespace), spec.name)
    finally:
        cluster.close_nodes()
    if looping:
        return False, (f"{len(looping)} pod(s) of the lab crash-loop: {', '.join(p.describe() for p in looping)}, "
                       "as a containerd restart leaves runwasi pods; `invoke lab.up` recreates them in new sandboxes")
    return True, "no pod of the lab crash-loops"


def diagnose(spec: LabSpec, output: Path) -> Path:
    """A tarball with the provider's logs, each node's containerd config dump and logs, the
    runtimes' files, and the lab's pods, events, nodes and RuntimeClasses."""
    state = State(spec.name)
    provider = providers.get(spec.provider)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    bundle = output / f"wasm-lab-diagnose-{spec.name}-{stamp}.tar.gz"
    output.mkdir(parents=True, exist_ok=True)
    work = state.dir / f"diagnose-{stamp}"
    work.mkdir(parents=True, exist_ok=True)
    cluster = provider.attach(spec, state)
    try:
        provider.collect_logs(spec, work)
        for node in cluster.nodes:
            (work / node.name).mkdir(exist_ok=True)
            for filename, argv in NODE_FILES.items():
                done = node.run(argv, check=False)
                (work / node.name / filename).write_text(done.stdout + done.stderr)
    finally:
        cluster.close_nodes()
    for name, argv in CLUSTER_FILES.items():
        done = run(["kubectl", "--kubeconfig", cluster.kubeconfig, *(["--context", cluster.context] if cluster.context else []),
                    "-n", state.get("namespace", spec.namespace), *argv], check=False)
        (work / name).write_text(done.stdout + done.stderr)
    with tarfile.open(bundle, "w:gz") as tar:
        tar.add(work, arcname=bundle.name.removesuffix(".tar.gz"))
    shutil.rmtree(work)
    return bundle
