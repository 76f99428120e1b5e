"""provider existing, for real: a kind cluster made with the kit's node image is handed to the lab
only as a kubeconfig context (the lab runs no kind command). lab.up installs the shims through
installer pods, deploys and checks the variants; a second lab.up changes nothing; lab.down must
leave every node's containerd config byte-identical (sha256 before == after), no shim file, no
lab label, no RuntimeClass, no lab namespace.

Images reach the nodes through a local registry when Debian's `docker-registry` is installed
(it listens on 127.0.0.1:5001; a relay on the Docker bridge gateway lets the kind nodes reach it,
and the test cluster's containerd maps localhost:5001 to that relay), otherwise through the
fallback: `ctr images import` on each wasm node via its installer pod.

Runs only when the kit is complete (so it never starts a long kit build) and skips saying why."""
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import docker
import pytest
import yaml

from lab import kit
from lab.providers.kind import host_cgroup_v1
from tests.commands import REPO, invoke, output, present_in
from tests.e2e import standins

pytestmark = [pytest.mark.cluster, pytest.mark.kit, pytest.mark.docker]

CLUSTER = "wasmlab-existing-test"
CONTEXT = f"kind-{CLUSTER}"
PORT_BASE = 32080
REGISTRY_PORT = 5001
RUNTIMES = ["wasmedge", "wasmtime", "crun-wasmedge"]
SHIM_FILES = ["/usr/local/bin/containerd-shim-wasmedge-v1", "/usr/local/bin/containerd-shim-wasmtime-v1",
              "/usr/local/bin/crun-wasmedge"]


@pytest.fixture(scope="module")
def node_image(kind_cli, kit_complete):
    return kit.artifact("node")["image"]["ref"]


def bridge_gateway() -> str:
    """The host's address on Docker's default bridge (docker0), which kind nodes can reach."""
    import ipaddress

    config = docker.from_env().networks.get("bridge").attrs["IPAM"]["Config"][0]
    # Docker 20.10 may list only the subnet; the gateway is then its first address
    return config.get("Gateway") or str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


class Relay:
    """TCP relay gateway:port -> 127.0.0.1:port, so kind nodes reach a registry bound to loopback."""

    def __init__(self, listen_host: str, port: int):
        self.server = socket.create_server((listen_host, port))
        self.port = port
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.server.close()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """Debian's distribution registry on 127.0.0.1:5001 plus a relay on the bridge gateway; None without it."""
    if shutil.which("docker-registry") is None:
        yield None
        return
    with standins.registry(tmp_path_factory.mktemp("registry"), REGISTRY_PORT):
        relay = Relay(bridge_gateway(), REGISTRY_PORT)
        try:
            yield f"localhost:{REGISTRY_PORT}"
        finally:
            relay.close()


def kind_config(gateway: str | None) -> dict:
    config = {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "name": CLUSTER,
              "networking": {"apiServerAddress": "127.0.0.1"},
              "nodes": [{"role": "control-plane", "extraPortMappings": [
                  {"containerPort": PORT_BASE + i, "hostPort": PORT_BASE + i, "listenAddress": "127.0.0.1"}
                  for i in range(6)]}, {"role": "worker"}]}
    if gateway:
        config["containerdConfigPatches"] = [
            f'[plugins."io.containerd.grpc.v1.cri".registry.mirrors."localhost:{REGISTRY_PORT}"]\n'
            f'  endpoint = ["http://{gateway}:{REGISTRY_PORT}"]\n']
    if host_cgroup_v1():
        # As a platform team's cluster on cgroup v1 would have to be for runwasi: the cgroupfs
        # driver (docs/bench.md, "Memory"). With systemd, runwasi's pods land outside their pod
        # cgroup, and once the host has a hugetlb hierarchy their sandboxes die and restart.
        patches = yaml.safe_load((Path(REPO) / "clusters" / "kind.yaml").read_text())["cgroupfsOnV1"]
        config["kubeadmConfigPatches"] = [patches["kubeadmConfigPatch"]]
        config.setdefault("containerdConfigPatches", []).extend(patches["containerdConfigPatches"])
    return config


def node_sha256(container: str) -> dict:
    """The node's containerd config and folder, its installed packages and /opt/wasm-lab."""
    out = output("docker", "exec", container, "sh", "-c", "sha256sum /etc/containerd/config.toml && ls /etc/containerd")
    packages = output("docker", "exec", container, "dpkg-query", "-W", "-f", "${Package}=${Version}\n")
    bundles = output("docker", "exec", container, "sh", "-c", "if [ -e /opt/wasm-lab ]; then ls /opt/wasm-lab; fi")
    return {"sha": out.split()[0], "listing": sorted(out.split()[2:]),
            "packages": hashlib.sha256(packages.encode()).hexdigest()[:16], "opt": bundles.split()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, node_image, registry):
    folder = tmp_path_factory.mktemp("existing")
    config = folder / "kind.yaml"
    config.write_text(yaml.safe_dump(kind_config(bridge_gateway() if registry else None)))
    kubeconfig = folder / "kubeconfig"
    subprocess.run(["kind", "delete", "cluster", "--name", CLUSTER], capture_output=True)
    started = time.monotonic()
    output("kind", "create", "cluster", "--name", CLUSTER, "--config", config, "--image", node_image,
           "--kubeconfig", kubeconfig, "--wait", "120s", timeout=900)
    try:
        yield kubeconfig, folder, time.monotonic() - started
    finally:
        subprocess.run(["kind", "delete", "cluster", "--name", CLUSTER, "--kubeconfig", str(kubeconfig)],
                       capture_output=True)


def test_existing_cluster_up_rerun_down_restores_every_node(cluster, registry, capsys):
    kubeconfig, folder, create_seconds = cluster
    nodes = output("kind", "get", "nodes", "--name", CLUSTER).split()
    before = {n: node_sha256(n) for n in nodes}
    images_before = {n: output("docker", "exec", n, "ctr", "-n", "k8s.io", "images", "ls", "-q") for n in nodes}
    lab_yaml = folder / "lab.yaml"
    settings = {"name": "existing-test", "provider": "existing", "context": CONTEXT, "host_port_base": PORT_BASE,
                "results_dir": str(folder / "results"), "runtimes": RUNTIMES, "offline": "true"}
    if registry:
        settings["registry"] = registry
    lab_yaml.write_text(yaml.safe_dump(settings))
    # the lab must not need kind here: a `kind` first on its PATH records any call and fails
    trap = folder / "no-kind"
    trap.mkdir(exist_ok=True)
    (trap / "kind").write_text(f'#!/bin/sh\necho "$@" >> {folder / "kind-called"}\nexit 99\n')
    (trap / "kind").chmod(0o755)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "WASM_LAB_STATE_DIR": str(folder / "state"),
           "COLUMNS": "160", "PATH": f"{trap}:{os.environ['PATH']}"}

    up, up_seconds = invoke("lab.up", "--config", str(lab_yaml), env=env)
    try:
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        results = json.loads((folder / "results" / "checks.json").read_text())
        assert results["failures"] == 0
        pods = output("kubectl", "--kubeconfig", kubeconfig, "get", "pods", "-A", "-l",
                      "app.kubernetes.io/name=wasm-lab-installer", "-o", "name")
        assert pods.strip() == "", f"installer pods outlived lab.up: {pods}"
        # the read-only tasks and the bench reach the nodes through the provider, not through kind
        for task in (["workloads.check"], ["runtimes.install"], ["workloads.deploy"], ["lab.status", "--json"],
                     ["lab.diagnose", "--output", str(folder / "diagnose")],
                     ["lab.bench", "--variant", "native", "--repeat", "1", "--concurrency", "1", "--requests", "50",
                      "--duration", "2", "--density", "2", "--quiet-wait", "0", "--output", str(folder / "bench")]):
            done, _ = invoke(*task, "--config", str(lab_yaml), env=env)
            assert done.returncode == 0, f"{task}: " + done.stdout[-3000:] + done.stderr[-3000:]
        cold = json.loads((folder / "bench" / "bench.json").read_text())["variants"]["native"]["cold_start"]
        assert [(run["kind"], run["error"]) for run in cold] == [("first", None), ("image-removed", None)]
        # native has no RuntimeClass, so it may land on a node the lab was not given (no installer
        # pod there): that run is timed without the node probe and says why
        assert all(run["probe"]["ran"] and run["seconds"]["pod_ip_200"]
                   or run["probe"] == {"ran": False, "why": "no node the lab reaches"} for run in cold), cold
        bundle = next((folder / "diagnose").glob("wasm-lab-diagnose-*.tar.gz"))
        with tarfile.open(bundle) as tar:
            assert any(m.endswith("/containerd-config-dump.toml") for m in tar.getnames())
        again, again_seconds = invoke("lab.up", "--config", str(lab_yaml), env=env)
        assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
        assert "containerd restarted" not in again.stderr
    finally:
        down, down_seconds = invoke("lab.down", "--config", str(lab_yaml), env=env)
    assert down.returncode == 0, down.stdout[-3000:] + down.stderr[-3000:]

    assert not (folder / "kind-called").exists(), (folder / "kind-called").read_text()
    after = {n: node_sha256(n) for n in nodes}
    assert after == before, f"containerd config or folder changed: {before} -> {after}"
    for node in nodes:
        leftovers = present_in(node, *SHIM_FILES)
        assert leftovers == [], f"{node}: {leftovers}"
        images = output("docker", "exec", node, "ctr", "-n", "k8s.io", "images", "ls", "-q")
        assert "loadgen" not in images, f"the bench's load generator image was left in {node}"
        # containerd's own refs of a pulled image (repo@digest, sha256:config) count too
        left = sorted(set(images.split()) - set(images_before[node].split()))
        assert left == [], f"the lab's images were left in {node}: {left}"
    kubectl = ["kubectl", "--kubeconfig", str(kubeconfig)]
    labels = output(*kubectl, "get", "nodes", "-o", "json")
    for item in json.loads(labels)["items"]:
        assert not [k for k in item["metadata"].get("labels", {}) if k.startswith("wasm-lab.dev/")]
    classes = output(*kubectl, "get", "runtimeclass", "-o", "name")
    assert classes.strip() == ""
    namespaces = output(*kubectl, "get", "ns", "-o", "name")
    assert "namespace/wasm-lab" not in namespaces.split()
    assert "namespace/wasm-lab-installer-existing-test" not in namespaces.split()
    with capsys.disabled():
        print(f"\nexisting e2e ({'registry ' + registry if registry else 'ctr import'}): kind create "
              f"{create_seconds:.0f}s (not the lab), lab.up {up_seconds:.0f}s, re-run {again_seconds:.0f}s, "
              f"lab.down {down_seconds:.0f}s; containerd config sha256 per node before == after: "
              + ", ".join(f"{n} {before[n]['sha'][:12]}" for n in nodes))
        print("lab.down, per undo: " + "; ".join(re.findall(r"↩ (\S+: \d+ undone \([\d.]+s\))", down.stdout + down.stderr)))


def test_installer_node_guard_on_a_real_node(cluster):
    """The installer's node side on a real kit node (systemd, containerd): the borrowed loader +
    nsenter prefix, file transfer, guarded restart, and a config containerd refuses, which the
    node must restore by itself. Exec goes through `docker exec` (the node's / linked at /host)
    instead of the API server, whose path the test above covers."""
    from lab import node_runtimes
    from lab.nodes import Result
    from lab.providers import installer_pod

    node_name = f"{CLUSTER}-worker"
    subprocess.run(["docker", "exec", node_name, "ln", "-sfn", "/", "/host"], check=True)

    def docker_exec(core, pod, namespace, command, stdin, timeout):
        done = subprocess.run(["docker", "exec", *(["-i"] if stdin is not None else []), node_name, *command],
                              input=stdin, capture_output=True, timeout=timeout)
        return Result(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))

    class NoPods:
        """FAKE API: the pod is not created; the node reports the pause image."""

        def read_node(self, name):
            from types import SimpleNamespace as NS
            return NS(status=NS(images=[NS(names=["registry.k8s.io/pause:3.10.1"])]))

        def create_namespace(self, body):
            pass

        def create_namespaced_pod(self, namespace, body):
            pass

        def read_namespaced_pod(self, name, namespace):
            from types import SimpleNamespace as NS
            return NS(status=NS(phase="Running", container_statuses=[NS(state=NS(waiting=None, running=True))]))

    try:
        before = node_sha256(node_name)
        node = installer_pod.InstallerPodNode(NoPods(), "existing-test", node_name, exec_fn=docker_exec)
        original = node.read_file(node_runtimes.MAIN_CONFIG)
        node.put_file(node_runtimes.MAIN_CONFIG, (original + "\n[not valid toml\n").encode())
        started = time.monotonic()
        refused = node.run(["systemctl", "restart", "containerd"], check=False)
        assert refused.returncode == 1 and "restored" in refused.stderr
        assert node.read_file(node_runtimes.MAIN_CONFIG) == original
        assert node.run(["systemctl", "is-active", "containerd"]).stdout.strip() == "active"
        assert node_sha256(node_name) == before
        print(f"\nguarded restart on a broken config: node restored itself in {time.monotonic() - started:.0f}s")
    finally:
        subprocess.run(["docker", "exec", node_name, "rm", "-f", "/host"], check=False)
