"""lab.docker-check for real: the kit's Docker engine (Debian trixie's docker.io 26, containerd image
store) in a container, the kit's shims on its containerd's PATH, the runtime images run with
`--runtime io.containerd.<shim>.v1` and sent the 63 checks. Runs only when the kit is complete."""
import json
import os

import docker
import pytest

from lab import docker_check
from tests.commands import invoke

pytestmark = [pytest.mark.kit, pytest.mark.docker]

NAME = "wasmlab-docker-check"


def test_runtime_images_pass_the_checks_under_dockers_wasm_runtime(tmp_path, kit_complete, capsys):
    config = tmp_path / "lab.yaml"
    config.write_text(f"name: {NAME}\nresults_dir: {tmp_path / 'results'}\noffline: 'true'\n"
                      "runtimes: [wasmedge, wasmtime, crun-wasmedge]\n")
    env = {**os.environ, "WASM_LAB_STATE_DIR": str(tmp_path / "state"), "COLUMNS": "160"}
    done, seconds = invoke("lab.docker-check", "--config", str(config), env=env)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    results = json.loads((tmp_path / "results" / "docker-check.json").read_text())
    assert results["failures"] == 0
    # the shims' image variants; crun's go through runc and artifacts have no filesystem for Docker
    assert results["runtimes"] == {"runtime-wasmedge": "io.containerd.wasmedge.v1",
                                   "runtime-wasmedge-aot": "io.containerd.wasmedge.v1",
                                   "runtime-wasmtime": "io.containerd.wasmtime.v1"}
    assert all(sum(r["passed"] for r in rows) == 63 for rows in results["results"].values())
    assert results["engine"].startswith("Docker 26.")
    assert (tmp_path / "results" / "docker-check.junit.xml").exists()
    # the engine goes whatever happens; the user's own engine is judged in one line
    assert docker.from_env().containers.list(all=True, filters={"name": docker_check.engine_name(NAME)}) == []
    assert "your Docker engine" in done.stderr + done.stdout
    with capsys.disabled():
        print(f"\nlab.docker-check: {seconds:.0f}s")

