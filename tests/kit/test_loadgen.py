"""The kit's loadgen image (images/kit/loadgen), run for real: its nginx responder in one container,
its wrk with report.lua in another, on a Docker network of the test's own, for about two seconds.
The benchmark reads the last stdout line of wrk as JSON; it must parse and count only successes.
Skips, naming the artifact, when the kit's loadgen is not built."""
from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.conftest import kit_artifact_or_skip
from tests.machine_limits import lacking

pytestmark = [pytest.mark.kit, pytest.mark.docker]

REPORT = "/usr/share/wasm-lab/report.lua"
RESPONDER = ["nginx", "-c", "/etc/wasm-lab/responder.conf"]
LATENCY_KEYS = {"min", "max", "mean", "stdev", "p50", "p75", "p90", "p99", "p999"}


@pytest.fixture
def loadgen_image(docker_engine) -> str:
    import docker

    ref = kit_artifact_or_skip("loadgen")["image"]["ref"]
    try:
        docker_engine.images.get(ref)
    except docker.errors.ImageNotFound:
        lacking("kit", f"kit artifact 'loadgen' is recorded but its image {ref} is gone "
                "(invoke kit.build --only loadgen)")
    return ref


@pytest.fixture
def network(docker_engine):
    net = docker_engine.networks.create(f"wasm-lab-test-loadgen-{uuid.uuid4().hex[:8]}", driver="bridge")
    containers: list = []
    yield net, containers
    for container in containers:
        container.remove(force=True)
    net.remove()


def wait_listening(container, seconds: float = 30.0) -> None:
    """nginx writes its pid file once its listening sockets are open."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            raise AssertionError(f"the responder exited: {container.logs().decode(errors='replace')}")
        if container.exec_run(["cat", "/tmp/wasm-lab-responder.pid"]).exit_code == 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"the responder did not listen within {seconds:.0f}s: {container.logs().decode()}")


def test_wrk_against_the_nginx_responder_ends_with_one_json_line(docker_engine, loadgen_image, network):
    net, containers = network
    suffix = net.name.rsplit("-", 1)[1]
    # as a pod with runAsNonRoot and a read-only root filesystem would run it
    responder = docker_engine.containers.run(loadgen_image, RESPONDER, name=f"wasm-lab-test-responder-{suffix}",
                                             network=net.name, user="65534:65534", read_only=True,
                                             tmpfs={"/tmp": ""}, detach=True)
    containers.append(responder)
    wait_listening(responder)
    client = docker_engine.containers.run(
        loadgen_image, ["wrk", "-t2", "-c16", "-d2s", "--latency", "-s", REPORT, f"http://{responder.name}:8080/"],
        name=f"wasm-lab-test-wrk-{suffix}", network=net.name, detach=True)
    containers.append(client)
    code = client.wait(timeout=120)["StatusCode"]
    stdout = client.logs(stdout=True, stderr=False).decode()
    stderr = client.logs(stdout=False, stderr=True).decode()
    assert code == 0, f"wrk exited {code}\nstdout:\n{stdout}\nstderr:\n{stderr}"

    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["requests"] > 0 and report["duration_us"] > 1_000_000 and report["bytes"] > 0, report
    assert report["errors"] == {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}, report
    latency = report["latency_us"]
    assert set(latency) == LATENCY_KEYS, latency
    assert 0 < latency["min"] <= latency["p50"] <= latency["p75"] <= latency["p90"] <= latency["p99"] \
        <= latency["p999"] <= latency["max"], latency
    assert f"{report['requests']} requests in" in stdout  # wrk's own summary came before it


def test_the_default_command_names_both_versions(docker_engine, loadgen_image):
    version = loadgen_image.rsplit(":", 1)[1]          # <wrk>-nginx<nginx>
    wrk, nginx = version.split("-nginx")
    out = docker_engine.containers.run(loadgen_image, remove=True, stdout=True, stderr=True).decode()
    assert f"wrk debian/{wrk}" in out and f"nginx/{nginx}" in out, out
