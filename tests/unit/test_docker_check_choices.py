"""lab.docker-check's choices; tests/e2e/test_docker_check.py runs it for real."""
from lab import docker_check


def test_docker_runs_the_shims_image_variants_only():
    chosen = docker_check.runnable_variants(["wasmedge", "wasmtime", "crun-wasmedge"])
    assert {v: r.runtime_type for v, r in chosen.items()} == {
        "runtime-wasmedge": "io.containerd.wasmedge.v1", "runtime-wasmedge-aot": "io.containerd.wasmedge.v1",
        "runtime-wasmtime": "io.containerd.wasmtime.v1"}
    assert docker_check.runnable_variants(["crun-wasmedge"]) == {}


class FakeEngine:
    """A fake Docker client answering version() and info() only (not a real engine: the verdict's input)."""

    def __init__(self, version: str, drivers: list):
        self._version, self._drivers = version, drivers

    def version(self):
        return {"Version": self._version}

    def info(self):
        return {"DriverStatus": self._drivers}


def test_the_users_engine_is_judged_in_one_line():
    assert "cannot run them itself: --runtime io.containerd.<shim>.v1 needs Docker 23.0+" in \
        docker_check.own_engine_verdict(FakeEngine("20.10.24+dfsg1", [["Backing Filesystem", "extfs"]]))
    assert "turn on the containerd image store" in \
        docker_check.own_engine_verdict(FakeEngine("27.3.1", [["Backing Filesystem", "extfs"]]))
    assert "can run them too" in docker_check.own_engine_verdict(
        FakeEngine("28.0.1", [["driver-type", "io.containerd.snapshotter.v1"]]))
