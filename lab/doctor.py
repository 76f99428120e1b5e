"""Preflight checks (lab.doctor) and a diagnostics bundle (lab.diagnose)."""
from __future__ import annotations

import io
import os
import shutil
import socket
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker

from lab import catalog, providers, published_ports, recovery, redact
from lab.errors import LabError, docker_not_answering
from lab.kube import Kube
from lab.proc import run
from lab.spec import LabSpec
from lab.state import State, private_folder

CAPS_ERROR = "unable to apply caps"
PRIVILEGED_FIX = ("this host's capability bounding set lacks a capability privileged containers need "
                  "(seen in sandboxed VMs); register the runtime wrapper in hack/sandbox-runc: bash hack/setup-docker")


def _check(name, fn):
    try:
        ok, detail = fn()
    except Exception as error:  # a preflight reports every failure instead of stopping at the first
        ok, detail = False, docker_not_answering(error) or f"{error.__class__.__name__}: {error}"
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


def _published_ports(provider, spec: LabSpec):
    ports = provider.published_ports(spec)
    refused = published_ports.refusing(ports)
    if published_ports.api_server_refuses(refused):
        return False, published_ports.dead_ports_error(f"{spec.provider} cluster {spec.name}", refused)
    if refused:
        return True, f"{len(refused)} of {len(ports)} refuse, not the API server's: " + ", ".join(map(str, refused)) + \
            " (no Service behind them?)"
    return True, f"all {len(ports)} published by the lab's nodes accept connections" if ports else "none published by the nodes"


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
    if running:
        checks.append(_check("published ports", lambda: _published_ports(provider, spec)))
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


@dataclass(frozen=True)
class Diagnosis:
    bundle: Path
    redactions: list[redact.Redaction]


def diagnose(spec: LabSpec, output: Path) -> Diagnosis:
    """A tarball (0600) with the provider's logs, each node's containerd config dump and logs, the
    runtimes' files, and the lab's pods, events, nodes and RuntimeClasses, without credentials:
    REDACTED.txt inside says what was taken out where. It is gathered in a 0700 folder of the
    lab's private state; an output folder the lab has to make is made 0700."""
    state = State(spec.name)
    provider = providers.get(spec.provider)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    bundle = output / f"wasm-lab-diagnose-{spec.name}-{stamp}.tar.gz"
    work = Path(tempfile.mkdtemp(prefix=f"diagnose-{stamp}-", dir=private_folder(state.dir)))
    try:
        _collect(spec, state, provider, work)
        redactions = redact.tree(work)
        (work / REDACTED_NOTE).write_text(_redaction_note(redactions))
        if not output.exists():
            output.mkdir(mode=0o700, parents=True)
        with os.fdopen(os.open(bundle, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as sink:
            os.fchmod(sink.fileno(), 0o600)
            with tarfile.open(fileobj=sink, mode="w:gz") as tar:
                tar.add(work, arcname=bundle.name.removesuffix(".tar.gz"), filter=_private_member)
    finally:
        shutil.rmtree(work)
    return Diagnosis(bundle, redactions)


REDACTED_NOTE = "REDACTED.txt"


def _collect(spec: LabSpec, state: State, provider, work: Path) -> None:
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


def _redaction_note(redactions: list[redact.Redaction]) -> str:
    head = ("wasm-lab diagnose: the value of every credential found in these files was replaced by "
            f"{redact.MARK} before they were packed (registry auth, tokens, client keys, Authorization headers, "
            "Bearer/Basic credentials, URL passwords, private keys). The values are not in this tarball.\n")
    if not redactions:
        return head + "Nothing looked like a credential.\n"
    return head + "file:line: key\n" + "".join(f"{item}\n" for item in redactions)


def _private_member(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode = 0o700 if info.isdir() else 0o600
    return info
