"""Kit bundles for real, as a workshop uses them: export the kit the lab uses, wipe the kit folder and
its images, import the bundle from the file, wipe again, then `lab.up --kit-from` a kit.serve on
127.0.0.1 with every runtime goes green without building a recipe. A bundle with one flipped byte
is refused before anything is loaded. Whatever happens, the machine's kit is put back from the
bundle (the images load with the ids its manifest records). lab.up pins the bundle with the
fingerprint kit.serve shows."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time

import docker
import pytest

from lab import images
from lab.artifacts import kit_sets
from lab.catalog import load as runtime_catalog
from lab.kit import trust
from lab.kit.store import KitStore
from tests.commands import REPO, invoke
from tests.machine_limits import require

pytestmark = [pytest.mark.cluster, pytest.mark.kit, pytest.mark.docker]

NAME = "wasmlab-bundle"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def kit_images(kit_complete, kind_cli):
    """The image refs of the default bundle, while no container uses one (it could not be wiped)."""
    require("kit-images-unused")
    store = KitStore()
    return {name: store.entry(name)["image"]["ref"] for name in kit_sets.kit_artifacts()
            if "image" in store.entry(name)}


def wipe(refs: dict, kit_dir) -> None:
    client = docker.from_env()
    for ref in refs.values():
        try:
            client.images.remove(ref)
        except docker.errors.ImageNotFound:
            pass
    shutil.rmtree(kit_dir, ignore_errors=True)


def test_export_wipe_import_then_up_builds_nothing(kit_images, tmp_path):
    base_env = {**os.environ, "COLUMNS": "200", "WASM_LAB_STATE_DIR": str(tmp_path / "state")}
    path = tmp_path / "kit.tar"
    exported, export_seconds = invoke("kit.export", str(path), env=base_env)
    assert exported.returncode == 0, exported.stdout[-3000:] + exported.stderr[-3000:]
    print(f"\nbundle {path.stat().st_size / 1e9:.2f} GB, exported in {export_seconds:.0f}s: {exported.stdout.strip()}")
    fresh = tmp_path / "fresh-kit"
    env = {**base_env, "WASM_LAB_KIT_DIR": str(fresh)}
    client = docker.from_env()
    server = None
    try:
        wipe(kit_images, fresh)
        with open(path, "r+b") as bundle_file:  # one flipped byte, halfway through
            bundle_file.seek(path.stat().st_size // 2)
            byte = bundle_file.read(1)
            bundle_file.seek(-1, os.SEEK_CUR)
            bundle_file.write(bytes([byte[0] ^ 0x01]))
        refused, _ = invoke("kit.import", str(path), env=env)
        assert refused.returncode == 1 and "refused, nothing was imported" in refused.stderr, refused.stderr[-2000:]
        assert not any(client.images.list(name=ref.split(":")[0]) for ref in kit_images.values())
        assert not (fresh / "manifest.json").exists()
        with open(path, "r+b") as bundle_file:
            bundle_file.seek(path.stat().st_size // 2)
            bundle_file.write(byte)

        imported, import_seconds = invoke("kit.import", str(path), env=env)
        assert imported.returncode == 0, imported.stdout[-3000:] + imported.stderr[-3000:]
        print(f"import from the file: {import_seconds:.0f}s")
        status = json.loads(invoke("kit.status", "--json", env=env)[0].stdout)
        assert {r["name"] for r in status if r["state"] == "built" and r["imported_from"]} == set(
            kit_sets.kit_artifacts())

        wipe(kit_images, fresh)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "invoke", "kit.serve", "--bundle-file", str(path),
                                   "--address", "127.0.0.1", "--port", str(port)], cwd=REPO, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        config = tmp_path / "lab.yaml"
        config.write_text(f"name: {NAME}\nhost_port_base: 30480\nresults_dir: {tmp_path / 'results'}\n"
                          f"runtimes: [{', '.join(runtime_catalog().runtimes)}]\n")
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        fingerprint = trust.fingerprint((tmp_path / "kit.tar.sha256").read_text().split()[0])  # kit.serve shows it
        up, up_seconds = invoke("lab.up", "--config", str(config), "--kit-from", f"http://127.0.0.1:{port}",
                                "--kit-sha256", fingerprint, env=env)
        log = up.stdout + up.stderr
        assert up.returncode == 0, log[-5000:]
        print(f"lab.up --kit-from (download, import, lab): {up_seconds:.0f}s")
        assert "kit: building" not in log and "kit bundle http://127.0.0.1" in log, log[-3000:]
        checks = json.loads((tmp_path / "results" / "checks.json").read_text())
        assert checks["failures"] == 0 and len(checks["results"]) == len(runtime_catalog().variants)
        down, _ = invoke("lab.down", "--config", str(config), "--purge", env=env)
        assert down.returncode == 0, down.stderr[-3000:]
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        invoke("lab.down", "--config", str(tmp_path / "lab.yaml"), "--purge", env=env)
        missing = [ref for ref in kit_images.values() if not client.images.list(name=ref)]
        if missing:
            invoke("kit.import", str(path), env=base_env)
        assert all(client.images.list(name=ref) for ref in kit_images.values())


def test_a_workshop_bundle_brings_the_workload_images_so_nothing_is_built(kit_complete, tmp_path):
    """kit.export --for workshop carries no builder but the workload images, with the label of
    their build inputs; a kit folder made from it alone (on this Docker engine, whose images stay)
    lets images.build --offline build nothing: no recipe (rust-builder is not in it), no docker
    build. Wiping this engine's images, as a laptop without them, is the manual check of docs/kit.md."""
    env = {**os.environ, "COLUMNS": "200", "WASM_LAB_STATE_DIR": str(tmp_path / "state")}
    path = tmp_path / "ws.tar"
    exported, export_seconds = invoke("kit.export", str(path), "--for", "workshop", env=env)
    assert exported.returncode == 0, exported.stdout[-3000:] + exported.stderr[-3000:]
    print(f"\nworkshop bundle {path.stat().st_size / 1e9:.2f} GB, exported in {export_seconds:.0f}s")
    index = json.loads(tarfile.open(path).extractfile("wasm-lab-kit.json").read())
    assert index["for"] == "workshop" and set(index["artifacts"]) == set(kit_sets.workshop_artifacts())
    assert set(index["workloads"]) == set(images.IMAGE_TARGETS + images.JOB_IMAGES)
    assert index["encoded"], "its large blobs travel gzipped"
    fresh = {**env, "WASM_LAB_KIT_DIR": str(tmp_path / "workshop-kit")}
    imported, import_seconds = invoke("kit.import", str(path), env=fresh)
    assert imported.returncode == 0, imported.stdout[-3000:] + imported.stderr[-3000:]
    print(f"import from the file: {import_seconds:.0f}s")
    built, _ = invoke("images.build", "--offline", env=fresh)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "kit: building" not in built.stdout + built.stderr and "Step 1/" not in built.stdout + built.stderr
    status = {row["name"]: row["state"] for row in json.loads(invoke("kit.status", "--json", env=fresh)[0].stdout)}
    assert status["rust-builder"] == "missing" and status["node-containerd2"] == "built"
    client = docker.from_env()
    for target, entry in index["workloads"].items():
        image = client.images.get(images.tag(target))
        assert image.labels[images.BUILD_INPUTS] == entry["key"], target
