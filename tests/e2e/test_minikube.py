"""provider minikube, for real and offline: the kit's minikube (built from its Go module) starts a
two-node profile from the kit's base image (images/kit/minikube-node) with the docker driver and
containerd; lab.up installs the shims over `minikube ssh`/`minikube cp`, loads the images with
`minikube image load`, deploys and checks every variant; a second lab.up restarts nothing;
lab.down leaves no profile, container, volume or network behind.

minikube keeps its profiles in a MINIKUBE_HOME of the test's own. Runs only when the kit is
complete (so it never starts a long kit build) and skips saying why."""
import json
import os

import docker
import pytest

from lab.catalog import load as runtime_catalog
from tests.commands import invoke

pytestmark = [pytest.mark.cluster, pytest.mark.kit, pytest.mark.docker]

NAME = "wasmlab-minikube"


def minikube_objects(client, name):
    label = f"name.minikube.sigs.k8s.io={name}"
    return (client.containers.list(all=True, filters={"label": label}),
            client.volumes.list(filters={"label": label}),
            client.networks.list(names=[name]))


@pytest.fixture(scope="module")
def lab_env(tmp_path_factory, kit_complete):
    folder = tmp_path_factory.mktemp("minikube")
    config = folder / "lab.yaml"
    config.write_text(f"name: {NAME}\nprovider: minikube\nhost_port_base: 31280\nresults_dir: {folder / 'results'}\n"
                      f"runtimes: [{', '.join(runtime_catalog().runtimes)}]\noffline: 'true'\n")
    env = {**os.environ, "WASM_LAB_STATE_DIR": str(folder / "state"), "MINIKUBE_HOME": str(folder / "minikube"),
           "COLUMNS": "160"}
    yield env, config, folder
    invoke("lab.down", "--config", str(config), env=env)


def test_minikube_up_check_rerun_down(lab_env, capsys):
    env, config, folder = lab_env
    first, first_seconds = invoke("lab.up", "--config", str(config), env=env)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    results = json.loads((folder / "results" / "checks.json").read_text())
    assert results["failures"] == 0
    assert set(results["results"]) == {"native", "embed-wasmedge", "runtime-wasmedge", "embed-wasmtime",
                                       "runtime-wasmtime", "runtime-crun-wasmedge", "embed-wasmedge-aot",
                                       "runtime-wasmedge-aot", "runtime-crun-wasmedge-aot"}

    again, again_seconds = invoke("lab.up", "--config", str(config), env=env)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
    assert "containerd restarted" not in again.stderr

    down, down_seconds = invoke("lab.down", "--config", str(config), env=env)
    assert down.returncode == 0, down.stderr
    assert minikube_objects(docker.from_env(), NAME) == ([], [], [])
    assert not (folder / "state" / NAME).exists()
    with capsys.disabled():
        print(f"\nminikube e2e: first lab.up {first_seconds:.0f}s, unchanged re-run {again_seconds:.0f}s, "
              f"lab.down {down_seconds:.0f}s")
