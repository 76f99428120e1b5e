"""End to end: a two-node kind cluster from the kit's node image, and cross-node DNS + Service.

Creates the kind cluster "wasmlab-kit-test" (always deleted afterwards), waits for every node to be
Ready and CoreDNS to run, then checks that a pod on the worker reaches, by DNS name, a Service
backed by a pod on the control plane. The test pods use the kit's Debian trixie image (perl-base
serves, bash's /dev/tcp fetches), loaded with `kind load`: nothing is pulled.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import docker_engine_or_skip, kit_artifact_or_skip
from tests.machine_limits import lacking

pytestmark = [pytest.mark.kit, pytest.mark.docker, pytest.mark.cluster]

REPO = Path(__file__).resolve().parents[2]
CLUSTER = "wasmlab-kit-test"
CONFIG = REPO / "clusters" / "kit-two-node.yaml"

SERVER = r"""
use IO::Socket::INET;
my $s = IO::Socket::INET->new(LocalPort => 8080, Listen => 16, ReuseAddr => 1) or die "listen: $!";
while (my $c = $s->accept) {
  while (my $line = <$c>) { last if $line =~ /^\r?\n$/ }
  print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from $ENV{NODE_NAME}\n";
  close $c;
}
"""

CLIENT = r"""
for i in $(seq 1 60); do
  if getent hosts echo.default.svc.cluster.local; then
    reply=$( (exec 3<>/dev/tcp/echo.default.svc.cluster.local/80 && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && cat <&3) 2>&1 )
    echo "$reply"
    case "$reply" in *"hello from"*control-plane*) exit 0 ;; esac
  fi
  sleep 2
done
exit 1
"""


def _manifest(image: str) -> str:
    docs = [
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "echo-server", "labels": {"app": "echo"}},
         "spec": {"nodeSelector": {"kubernetes.io/hostname": f"{CLUSTER}-control-plane"},
                  "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
                                   "effect": "NoSchedule"}],
                  "containers": [{"name": "server", "image": image, "imagePullPolicy": "Never",
                                  "command": ["perl", "-e", SERVER],
                                  "env": [{"name": "NODE_NAME",
                                           "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                                  "ports": [{"containerPort": 8080}],
                                  "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 2}}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo"},
         "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "echo-client"},
         "spec": {"nodeSelector": {"kubernetes.io/hostname": f"{CLUSTER}-worker"},
                  "restartPolicy": "Never",
                  "containers": [{"name": "client", "image": image, "imagePullPolicy": "Never",
                                  "command": ["bash", "-c", CLIENT]}]}},
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})


def _run(argv, timeout=600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, **kwargs)


def _check(argv, timeout=600, **kwargs) -> str:
    result = _run(argv, timeout=timeout, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, argv))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _node_image() -> str:
    override = os.environ.get("WASM_LAB_KIT_NODE_IMAGE")
    if override:
        return override
    return kit_artifact_or_skip("node")["image"]["ref"]


def _test_image() -> str:
    return kit_artifact_or_skip("debian-trixie")["image"]["ref"]


def test_two_node_cluster_from_the_kit_node_image(kind_cli, tmp_path):
    docker_engine_or_skip()
    node_image = _node_image()
    test_image = _test_image()
    import docker

    client = docker.from_env()
    for ref in (node_image, test_image):
        try:
            client.images.get(ref)
        except docker.errors.ImageNotFound:
            lacking("kit", f"image {ref} is not in the Docker engine (invoke kit.build --only node)")

    kubeconfig = tmp_path / "kubeconfig"
    kubectl = ["kubectl", f"--kubeconfig={kubeconfig}"]
    timings = {}
    _run([kind_cli, "delete", "cluster", "--name", CLUSTER], timeout=120)  # a leftover of an aborted run
    try:
        start = time.monotonic()
        _check([kind_cli, "create", "cluster", "--name", CLUSTER, "--image", node_image,
                "--config", CONFIG, "--kubeconfig", kubeconfig, "--retain"], timeout=900)
        timings["kind create"] = time.monotonic() - start
        _check(kubectl + ["wait", "--for=condition=Ready", "nodes", "--all", "--timeout=300s"], timeout=330)
        timings["nodes Ready"] = time.monotonic() - start
        _check(kubectl + ["-n", "kube-system", "wait", "--for=condition=Ready", "pod", "-l", "k8s-app=kube-dns",
                          "--timeout=300s"], timeout=330)
        timings["CoreDNS Ready"] = time.monotonic() - start

        _check([kind_cli, "load", "docker-image", "--name", CLUSTER, test_image], timeout=600)
        _check(kubectl + ["apply", "-f", "-"], input=_manifest(test_image))
        _check(kubectl + ["wait", "--for=condition=Ready", "pod/echo-server", "--timeout=180s"], timeout=200)
        result = _run(kubectl + ["wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/echo-client",
                                 "--timeout=180s"], timeout=200)
        logs = _run(kubectl + ["logs", "echo-client"]).stdout
        assert result.returncode == 0, f"the worker's pod did not reach the Service by name:\n{logs}\n{result.stderr}"
        assert f"hello from {CLUSTER}-control-plane" in logs
        placed = json.loads(_check(kubectl + ["get", "pods", "-o", "json"]))
        nodes = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in placed["items"]}
        assert nodes == {"echo-server": f"{CLUSTER}-control-plane", "echo-client": f"{CLUSTER}-worker"}
        timings["DNS + Service check done"] = time.monotonic() - start
    except Exception:
        # keep what explains a failure in the test output
        for node in (f"{CLUSTER}-control-plane", f"{CLUSTER}-worker"):
            print(f"--- {node}: journal (kubelet, containerd; last 60 lines)")
            print(_run(["docker", "exec", node, "journalctl", "--no-pager", "-n", "60", "-u", "kubelet",
                        "-u", "containerd"], timeout=60).stdout)
        if kubeconfig.exists():
            print(_run(kubectl + ["get", "pods", "-A", "-o", "wide"], timeout=60).stdout)
        raise
    finally:
        _run([kind_cli, "delete", "cluster", "--name", CLUSTER], timeout=300)
        for what, seconds in timings.items():
            print(f"{what}: {seconds:.1f}s")
