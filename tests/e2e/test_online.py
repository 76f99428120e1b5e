"""The connected path, for real, against local stand-ins of GitHub releases and Docker Hub.

A plain HTTP file server on 127.0.0.1 serves runwasi-layout tarballs (the kit's shims under
runwasi's member names) and a wasmtime-layout release tarball (the kit's wasmtime binary). Debian's
`docker-registry` on 127.0.0.1 holds the kit's containerd 2 node image as kindest/node, its rust builder as
library/rust and its Debian image as library/debian. The lab reaches them only through its
`mirrors:` setting, and a lab.lock with the stand-ins' own sha256s and digests pins them: the real
download, pull, verify and lock code runs; no socket, DNS or download is patched.

1. `lab.up --online` with all three runtimes: green checks, every artifact from its upstream
   origin, the lock unchanged.
2. A tampered tarball: refused before anything is created, in one line.
3. The mirror and registry stopped: `auto` falls back to the kit for each artifact, saying so,
   and the lab is green again.

The stand-in WasmEdge shim is the kit's, which links libwasmedge (the upstream musl one is
static); the crun-wasmedge runtime of the same lab installs that library on the node.
Runs only when the kit is complete."""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time

import docker
import pytest
import yaml

from lab import artifacts, images, kit
from tests.commands import kind_clusters, output
from tests.e2e import standins

pytestmark = [pytest.mark.cluster, pytest.mark.kit, pytest.mark.docker]

NAME = "wasmlab-online"
PORT_BASE = 30280
REGISTRY_PORT = 5002
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNTIMES = ("wasmedge", "wasmtime", "crun-wasmedge")


def invoke(*args, env, timeout=1800):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "invoke", "--search-root", REPO, *args], cwd=env["PWD"], env=env,
                          capture_output=True, text=True, timeout=timeout)
    return done, time.monotonic() - started


def tarball(members: dict[str, bytes], mode: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def release_path(url: str) -> str:
    """The path a github.com release URL has on the stand-in file server (%2F decoded, as served)."""
    return url.removeprefix("https://github.com/").replace("%2F", "/")


@pytest.fixture(scope="module")
def standin(tmp_path_factory, kit_complete, kind_cli):
    """File server + registry with the kit's artifacts in upstream layout, and the lab.yaml/lab.lock
    pointing at them."""
    folder = tmp_path_factory.mktemp("online")
    table = artifacts.catalog()["artifacts"]
    shims_dir = kit.artifact("shims")["path"]
    lock = {}
    www = folder / "www"
    for name in ("shim-wasmedge", "shim-wasmtime"):
        origin = table[name][0]
        member = origin["member"]
        data = open(os.path.join(shims_dir, "bin", member), "rb").read()
        blob = tarball({f"./{member}": data, f"./{member}.sig": b"sig", f"./{member}.pem": b"pem"}, "w:gz")
        url = origin["url"].format(arch="x86_64")
        (www / release_path(url)).parent.mkdir(parents=True, exist_ok=True)
        (www / release_path(url)).write_bytes(blob)
        lock[f"{name}@x86_64"] = {"origin": "release", "source": url, "version": origin["version"],
                                  "sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob), "member": member,
                                  "member_sha256": hashlib.sha256(data).hexdigest()}
    wasmtime = table["wasmtime-release"][0]
    binary = images.file_from_image(kit.artifact("wasmtime-cli")["image"]["ref"], "/usr/local/bin/wasmtime")
    blob = tarball({wasmtime["member"].format(arch="x86_64"): binary}, "w:xz")
    url = wasmtime["url"].format(arch="x86_64")
    (www / release_path(url)).parent.mkdir(parents=True, exist_ok=True)
    (www / release_path(url)).write_bytes(blob)
    lock["wasmtime-release@x86_64"] = {"origin": "release", "source": url, "version": wasmtime["version"],
                                       "sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob),
                                       "member": wasmtime["member"].format(arch="x86_64"),
                                       "member_sha256": hashlib.sha256(binary).hexdigest()}

    files = standins.FileServer(www).start()
    registry = standins.Registry(folder / "registry", REGISTRY_PORT)
    client = docker.from_env()
    pushes = {"node-image": ("node-containerd2", "kindest/node", "v1.34.11"),
              "base-rust": ("rust-builder", "library/rust", "1-bookworm"),
              "base-debian": ("debian-trixie", "library/debian", "bookworm-slim")}
    env = {**os.environ, "PWD": str(folder), "COLUMNS": "200", "WASM_LAB_STATE_DIR": str(folder / "state"),
           "WASM_LAB_DOWNLOAD_DIR": str(folder / "downloads")}
    try:
        started = time.monotonic()
        for name, (artifact, repository, tag) in pushes.items():
            digest = standins.push(client, kit.artifact(artifact)["image"]["ref"], registry.host, repository, tag)
            lock[name] = {"origin": "registry", "source": f"docker.io/{repository}:{tag}", "digest": digest}
        push_seconds = time.monotonic() - started
        (folder / "lab.lock").write_text(yaml.safe_dump({"version": 1, "artifacts": lock}, sort_keys=False))
        (folder / "lab.yaml").write_text(yaml.safe_dump({
            "name": NAME, "host_port_base": PORT_BASE, "results_dir": str(folder / "results"),
            "runtimes": list(RUNTIMES), "mirrors": {"https://github.com": files.url, "docker.io": registry.host}}))
        yield {"folder": folder, "env": env, "files": files, "registry": registry, "lock": lock,
               "push_seconds": push_seconds}
    finally:
        files.stop()
        registry.stop()
        invoke("lab.down", "--purge", env=env)
        pulled = [f"{registry.host}/{repository}@{entry['digest']}" for name, (_, repository, _) in pushes.items()
                  if (entry := lock.get(name))]
        built = [tag for image in client.images.list(name="wasm-lab/wasmtime-cli") for tag in image.tags]
        subprocess.run(["docker", "rmi", *pulled, *built], capture_output=True)


def test_online_lab_from_mirrors_then_tampered_then_mirror_down(standin, capsys):
    folder, env = standin["folder"], standin["env"]

    up, up_seconds = invoke("lab.up", "--online", env=env)
    assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
    results = json.loads((folder / "results" / "checks.json").read_text())
    assert results["failures"] == 0
    assert set(results["results"]) == {"native", "embed-wasmedge", "runtime-wasmedge", "embed-wasmtime",
                                       "runtime-wasmtime", "runtime-crun-wasmedge", "embed-wasmedge-aot",
                                       "runtime-wasmedge-aot", "runtime-crun-wasmedge-aot", "artifact-wasmedge",
                                       "artifact-wasmtime"}
    origins = json.loads((folder / "state" / NAME / "state.json").read_text())["artifact_origins"]
    assert origins["shim-wasmedge"] == origins["shim-wasmtime"] == "release v0.6.1"
    assert origins["node-image"] == origins["base-rust"] == origins["base-debian"] == "registry image"
    wasmtime_release = artifacts.catalog()["artifacts"]["wasmtime-release"][0]
    assert origins["base-wasmtime"] == "local build"
    assert origins["wasmtime-release"] == f"release {wasmtime_release['version']}"
    # each variant says the engine its origin carries (the stand-ins serve the kit's bytes under
    # upstream's names, so these are the catalog's words for the upstream artifacts)
    ran_on = {v: (e["name"], e["version"], e["artifact"]) if e else None for v, e in results["engines"].items()}
    assert ran_on["embed-wasmtime"] == ("wasmtime", wasmtime_release["engine"]["version"], "base-wasmtime")
    assert ran_on["runtime-wasmtime"] == ("wasmtime", "36.0.10", "shim-wasmtime")
    assert ran_on["runtime-wasmedge"] == ("wasmedge", "0.14.1", "shim-wasmedge") and ran_on["native"] is None
    assert "kit recipe shims" not in origins.values()
    assert yaml.safe_load((folder / "lab.lock").read_text())["artifacts"] == standin["lock"]
    node = output("docker", "inspect", "-f", "{{.Config.Image}}", f"{NAME}-worker").strip()
    assert node == f"{standin['registry'].host}/kindest/node@{standin['lock']['node-image']['digest']}"

    # A tampered tarball on the mirror: a fresh download is refused in one line; nothing is created.
    wasmtime_shim = standin["files"].root / release_path(standin["lock"]["shim-wasmtime@x86_64"]["source"])
    original = wasmtime_shim.read_bytes()
    wasmtime_shim.write_bytes(original[:-64] + bytes(64))
    tampered_env = {**env, "WASM_LAB_DOWNLOAD_DIR": str(folder / "downloads-tampered")}
    tampered, _ = invoke("lab.up", "--online", "--name", "wasmlab-tampered", env=tampered_env)
    wasmtime_shim.write_bytes(original)
    assert tampered.returncode == 1
    error_lines = [line for line in tampered.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "shim-wasmtime: sha256 mismatch" in error_lines[0], tampered.stderr
    assert "wasmlab-tampered" not in kind_clusters()
    assert not (folder / "state" / "wasmlab-tampered" / "kubeconfig").exists()

    # The mirror and the registry down: auto takes each artifact it has not got yet from the kit,
    # saying so, and the lab is green again. (The node image pulled by digest stays usable.)
    standin["files"].stop()
    standin["registry"].stop()
    subprocess.run(["docker", "rmi", f"{standin['registry'].host}/library/rust@{standin['lock']['base-rust']['digest']}"],
                   capture_output=True, check=True)
    down_env = {**env, "WASM_LAB_DOWNLOAD_DIR": str(folder / "downloads-empty")}
    fallback, fallback_seconds = invoke("lab.up", env=down_env)
    assert fallback.returncode == 0, fallback.stdout[-4000:] + fallback.stderr[-4000:]
    said = " ".join(fallback.stderr.split())
    assert "shim-wasmtime: 127.0.0.1:" in said and "unreachable" in said and "using kit recipe shims instead" in said
    assert "base-rust:" in said and "using kit recipe rust-builder instead" in said
    origins = json.loads((folder / "state" / NAME / "state.json").read_text())["artifact_origins"]
    assert origins["shim-wasmtime"] == "kit recipe shims" and origins["base-rust"] == "kit recipe rust-builder"
    assert yaml.safe_load((folder / "lab.lock").read_text())["artifacts"] == standin["lock"]
    with capsys.disabled():
        print(f"\nonline e2e: pushes to the stand-in registry {standin['push_seconds']:.0f}s, lab.up --online "
              f"{up_seconds:.0f}s, auto with the mirrors down {fallback_seconds:.0f}s")
        print("refused: " + error_lines[0])
        print("fell back:\n" + "\n".join(line for line in fallback.stderr.splitlines() if "instead" in line))
