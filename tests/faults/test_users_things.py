"""Faults on real kit clusters: nothing of the user's is touched, interrupted runs finish when run
again, two runs of one lab do not trample each other.

1. A kind cluster the user made under the lab's name: `lab.up` and `cluster.delete` refuse it in
   one line; the cluster's container is the same one afterwards, and `lab.down` leaves it.
2. A lab (wasmedge) on kind; inside its cluster the user has a namespace `dev` holding a ConfigMap,
   a RuntimeClass `wasmtime` of their own and their own wasmtime shim binary on the worker. A
   second lab (provider existing, namespace dev, wasmtime + wasmedge) is refused without --adopt,
   goes green with it, and its lab.down restores every one of those (checksums before/after), the
   worker's containerd config byte for byte, and leaves the first lab green.
3. `lab.up` killed (SIGKILL) while installing a runtime and interrupted (SIGINT) while deploying,
   then run again: green, containerd config valid on every node.
4. Two `lab.up` of one lab at once: one waits for the other, both end green, one cluster.
The first lab runs on the kit's containerd 1.7 node (tests/e2e/test_lab.py covers containerd 2.x).
Runs only when the kit is complete."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from lab import kit
from tests.commands import kind_clusters, output

pytestmark = [pytest.mark.cluster, pytest.mark.kit, pytest.mark.docker]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = "wlfault"
USERS_CLUSTER = "wlfault-users"
WORKER = f"{LAB}-worker"
USER_SHIM = b"#!/bin/sh\n# the user's own wasmtime shim\nexit 0\n"


def invoke(*args, env, timeout=1800):
    return subprocess.run([sys.executable, "-m", "invoke", "--search-root", REPO, *args], cwd=env["PWD"], env=env,
                          capture_output=True, text=True, timeout=timeout)


def start(*args, env):
    # SIGINT as in a user's terminal, even when the suite runs as a background job (which ignores it)
    return subprocess.Popen([sys.executable, "-m", "invoke", "--search-root", REPO, *args], cwd=env["PWD"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_line(process, needle: str, timeout: float = 900) -> str:
    """Read the process's stderr until a line holds `needle`; return what was read."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return "".join(seen)
    raise AssertionError(f"never saw {needle!r}:\n{''.join(seen)[-3000:]}")


def one_error_line(done) -> str:
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, done.stderr[-3000:]
    return lines[0]


def on_worker(*argv) -> str:
    return output("docker", "exec", WORKER, *argv)


def worker_sha(path: str) -> str:
    return on_worker("sha256sum", path).split()[0]


def kubectl(kubeconfig, *args) -> str:
    return output("kubectl", "--kubeconfig", kubeconfig, *args)


@pytest.fixture(scope="module")
def first_lab(tmp_path_factory, kit_complete, kind_cli):
    folder = tmp_path_factory.mktemp("faults")
    (folder / "lab.yaml").write_text(yaml.safe_dump({
        "name": LAB, "host_port_base": 31480, "results_dir": str(folder / "results"),
        "runtimes": ["wasmedge"], "offline": "true", "node_containerd": "1.7"}))
    env = {**os.environ, "PWD": str(folder), "COLUMNS": "200", "WASM_LAB_STATE_DIR": str(folder / "state")}
    up = invoke("lab.up", env=env)
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        yield {"folder": folder, "env": env, "kubeconfig": folder / "state" / LAB / "kubeconfig"}
    finally:
        invoke("lab.down", "--purge", env=env)


def test_a_users_kind_cluster_of_the_labs_name_is_left_alone(first_lab):
    env = first_lab["env"]
    config = first_lab["folder"] / "users-kind.yaml"
    config.write_text(yaml.safe_dump({"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4",
                                      "networking": {"apiServerAddress": "127.0.0.1"},
                                      "nodes": [{"role": "control-plane"}]}))
    output("kind", "create", "cluster", "--name", USERS_CLUSTER, "--config", config, "--image",
           kit.artifact("node")["image"]["ref"], "--kubeconfig", first_lab["folder"] / "users-kubeconfig", timeout=900)
    try:
        before = output("docker", "inspect", "-f", "{{.Id}}", f"{USERS_CLUSTER}-control-plane")
        refused = invoke("lab.up", "--name", USERS_CLUSTER, env=env)
        assert refused.returncode == 1
        assert "exists and was not created by this lab" in one_error_line(refused)
        not_deleted = invoke("cluster.delete", "--name", USERS_CLUSTER, env=env)
        assert not_deleted.returncode == 1
        assert one_error_line(not_deleted) == (f"error: kind cluster {USERS_CLUSTER} exists and was not created by "
                                               "this lab; the lab leaves it alone")
        down = invoke("lab.down", "--name", USERS_CLUSTER, env=env)
        assert down.returncode == 0, down.stderr
        after = output("docker", "inspect", "-f", "{{.Id}}", f"{USERS_CLUSTER}-control-plane")
        assert after == before
    finally:
        subprocess.run(["kind", "delete", "cluster", "--name", USERS_CLUSTER], capture_output=True)


def test_a_second_lab_takes_back_exactly_what_it_changed(first_lab):
    kubeconfig, folder = first_lab["kubeconfig"], first_lab["folder"]
    kubectl(kubeconfig, "create", "namespace", "dev")
    kubectl(kubeconfig, "-n", "dev", "create", "configmap", "precious", "--from-literal=k=v")
    user_class = folder / "user-runtimeclass.yaml"
    user_class.write_text(yaml.safe_dump({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                                          "metadata": {"name": "wasmtime", "labels": {"team": "dev"}},
                                          "handler": "wasmtime"}))
    kubectl(kubeconfig, "apply", "-f", str(user_class))
    output("docker", "exec", "-i", WORKER, "sh", "-c", "cat > /usr/local/bin/containerd-shim-wasmtime-v1 && "
           "chmod 755 /usr/local/bin/containerd-shim-wasmtime-v1", input=USER_SHIM)

    def snapshot():
        return {"config": worker_sha("/etc/containerd/config.toml"),
                "shim": worker_sha("/usr/local/bin/containerd-shim-wasmtime-v1"),
                "wasmedge shim": worker_sha("/usr/local/bin/containerd-shim-wasmedge-v1"),
                "precious": kubectl(kubeconfig, "-n", "dev", "get", "configmap", "precious", "-o", "jsonpath={.data}"),
                "dev labels": kubectl(kubeconfig, "get", "ns", "dev", "-o", "jsonpath={.metadata.labels}"),
                "dev annotations": kubectl(kubeconfig, "get", "ns", "dev", "-o", "jsonpath={.metadata.annotations}"),
                "runtimeclass wasmtime": kubectl(kubeconfig, "get", "runtimeclass", "wasmtime", "-o",
                                                 "jsonpath={.handler} {.metadata.labels} {.scheduling}"),
                "runtimeclass wasmedge": kubectl(kubeconfig, "get", "runtimeclass", "wasmedge", "-o",
                                                 "jsonpath={.metadata.annotations}"),
                "first lab's images": sorted(line for line in on_worker("ctr", "-n", "k8s.io", "images", "ls", "-q")
                                             .split() if "wasm-lab/httpbin" in line)}

    before = snapshot()
    second = folder / "second"
    second.mkdir()
    (second / "lab.yaml").write_text(yaml.safe_dump({
        "name": "wlfault2", "provider": "existing", "context": f"kind-{LAB}", "namespace": "dev",
        "host_port_base": 31580, "results_dir": str(second / "results"), "runtimes": ["wasmtime", "wasmedge"],
        "offline": "true", "selector": "wasm-lab.dev/pool=wasm"}))
    env = {**first_lab["env"], "PWD": str(second), "KUBECONFIG": str(kubeconfig),
           "WASM_LAB_STATE_DIR": str(second / "state")}

    refused = invoke("lab.up", env=env)
    assert refused.returncode == 1
    assert "containerd-shim-wasmtime-v1 exists and is not the lab's" in one_error_line(refused)
    assert snapshot() == before

    adopted = invoke("lab.up", "--adopt", env=env)
    assert adopted.returncode == 0, adopted.stdout[-3000:] + adopted.stderr[-3000:]
    assert json.loads((second / "results" / "checks.json").read_text())["failures"] == 0
    assert worker_sha("/usr/local/bin/containerd-shim-wasmtime-v1") != before["shim"]

    down = invoke("lab.down", "--purge", env=env)
    assert down.returncode == 0, down.stdout[-3000:] + down.stderr[-3000:]
    assert snapshot() == before
    assert hashlib.sha256(USER_SHIM).hexdigest() == before["shim"]
    check = invoke("workloads.check", env=first_lab["env"])
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]


def test_interrupted_runs_finish_when_run_again(first_lab):
    env = first_lab["env"]
    uninstalled = invoke("runtimes.uninstall", "--runtime", "wasmedge", env=env)
    assert uninstalled.returncode == 0, uninstalled.stderr

    killed = start("lab.up", env=env)
    wait_for_line(killed, "▶ runtimes")
    time.sleep(2)  # inside the install: files copied, containerd being restarted
    killed.send_signal(signal.SIGKILL)
    assert killed.wait(60) == -signal.SIGKILL, "lab.up ended before the kill landed"
    interrupted = start("lab.up", env=env)
    wait_for_line(interrupted, "▶ deploy")
    interrupted.send_signal(signal.SIGINT)
    _, err = interrupted.communicate(timeout=300)
    assert interrupted.returncode == 130, err[-2000:]

    again = invoke("lab.up", env=env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    for node in (f"{LAB}-control-plane", WORKER):
        output("docker", "exec", node, "containerd", "config", "dump")
    assert "wasmedge" in on_worker("containerd", "config", "dump")


def test_two_runs_of_one_lab_wait_for_each_other(first_lab):
    env = first_lab["env"]
    first, second = start("lab.up", env=env), start("lab.up", env=env)
    out = [p.communicate(timeout=1200) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, [o[1][-2000:] for o in out]
    assert any(f"lab {LAB} is busy" in err for _, err in out)
    assert kind_clusters().count(LAB) == 1
