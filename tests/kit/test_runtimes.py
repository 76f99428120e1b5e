"""The kit's wasm runtimes, each run for real in a node container (see docs/runtimes.md).

A stand-in node (Debian trixie + trixie's containerd 1.7 and runc, containerd started by hand) gets
the kit's shims and crun-wasmedge installed exactly as docs/runtimes.md tells the lab, and a
containerd config with the three runtime handlers. Through `ctr` every runtime then runs
  (a) a wasm module that prints to its log, and
  (b) an HTTP server that answers curl: a wasi:http component under the wasmtime shim, a wasip1
      server using WasmEdge's socket extension under the wasmedge shim and crun-wasmedge.
When crictl is at hand, the same runtimes are also reached through CRI runtime handlers.
The test wasm is built from tests/kit/fixtures/runtimes (build.sh, Debian sid's rustc).

Each test skips, naming the artifact, when the kit artifact it needs is not built; a built one
whose files no longer match their checksums is an error, never a skip.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import docker_engine_or_skip, kit_artifact_or_skip
from tests.machine_limits import lacking

pytestmark = [pytest.mark.kit, pytest.mark.docker]

REPO = Path(__file__).resolve().parents[2]
FIXTURE_SRC = REPO / "tests" / "kit" / "fixtures" / "runtimes"
FIXTURE_CACHE = Path(os.environ.get("WASM_LAB_FIXTURES_CACHE",
                                    Path.home() / ".cache" / "wasm-lab" / "kit" / "cache" / "runtime-fixtures"))
WASM_FILES = ("hello-p1.wasm", "hello-p2.wasm", "sock-server.wasm", "http-component.wasm")
NODE_IMAGE = "wasm-lab-test/runtime-node:1"
IMAGES = {name: f"wasm-lab-test/{name}:1" for name in ("hello-p1", "hello-p2", "sock-server", "http-component")}
CRUN_ANNOTATION = "module.wasm.image/variant=compat-smart"

# containerd 1.7, config version 2, as docs/runtimes.md describes (cgroupfs: no systemd here).
CONTAINERD_CONFIG = """\
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  # Sandboxed hosts drop CAP_SYS_RESOURCE (see FACTS): the pause container cannot lower its OOM score.
  restrict_oom_score_adj = true
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmtime]
  runtime_type = "io.containerd.wasmtime.v1"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmedge]
  runtime_type = "io.containerd.wasmedge.v1"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun-wasmedge]
  runtime_type = "io.containerd.runc.v2"
  pod_annotations = ["module.wasm.image/variant"]
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun-wasmedge.options]
    BinaryName = "/usr/bin/crun"
"""


def run(argv, timeout=600, check=True, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and result.returncode != 0:
        raise AssertionError(f"{shlex.join(map(str, argv))} exited {result.returncode}\n"
                             f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}")
    return result


def image_exists(ref: str) -> bool:
    return run(["docker", "image", "inspect", ref], check=False).returncode == 0


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def wasm_dir() -> Path:
    """The fixture wasm files, built (once, then cached) in Debian sid."""
    docker_engine_or_skip()
    out = FIXTURE_CACHE / "out"
    if not all((out / f).exists() for f in WASM_FILES):
        kit_artifact_or_skip("debian-sid")
        run(["sh", str(FIXTURE_SRC / "build.sh")], timeout=3600, env={**os.environ, "OUT": str(out)})
    return out


@pytest.fixture(scope="session")
def wasm_images(wasm_dir, tmp_path_factory) -> Path:
    """The fixtures as wasm OCI images (the module alone, FROM scratch), saved for `ctr import`."""
    context = tmp_path_factory.mktemp("wasm-images")
    shutil.copy(FIXTURE_SRC / "Dockerfile.wasm", context / "Dockerfile")
    for name, ref in IMAGES.items():
        shutil.copy(wasm_dir / f"{name}.wasm", context / f"{name}.wasm")
        run(["docker", "build", "-q", "--build-arg", f"WASM={name}.wasm", "-t", ref, str(context)])
    tar = context / "images.tar"
    run(["docker", "save", "-o", str(tar), *IMAGES.values()])
    return tar


def built_artifact(name: str) -> dict | None:
    """A kit artifact's verified manifest entry, None when it is not built; ChecksumMismatch (a
    built artifact whose files changed) goes up and fails the test."""
    from lab import kit

    try:
        return kit.artifact(name)
    except KeyError:
        return None


def crictl_path() -> Path | None:
    candidates = [FIXTURE_CACHE / "tools" / "bin" / "crictl"]
    kubernetes = built_artifact("kubernetes")
    if kubernetes:
        candidates.insert(0, Path(kubernetes["path"]) / "bin" / "crictl")
    return next((p for p in candidates if p.exists()), None)


class Node:
    def __init__(self, name: str):
        self.name = name

    def sh(self, script: str, timeout=300, check=True) -> subprocess.CompletedProcess:
        return run(["docker", "exec", self.name, "sh", "-c", script], timeout=timeout, check=check)

    def ctr(self, args: str, **kw) -> subprocess.CompletedProcess:
        return self.sh(f"ctr -n default {args}", **kw)


@pytest.fixture(scope="session")
def node(wasm_images, tmp_path_factory):
    """A trixie node container with containerd, the kit's runtimes installed as docs/runtimes.md says."""
    base = kit_artifact_or_skip("debian-trixie")["image"]["ref"]
    if not image_exists(NODE_IMAGE):
        run(["docker", "build", "-q", "--build-arg", f"BASE={base}", "-t", NODE_IMAGE,
             "-f", str(FIXTURE_SRC / "Dockerfile.node"), str(FIXTURE_SRC)], timeout=1800)
    name = f"wasm-lab-test-runtimes-{uuid.uuid4().hex[:8]}"
    mounts = ["-v", f"{wasm_images.parent}:/fixtures:ro"]
    installed = {}
    for artifact in ("shims", "crun-wasmedge"):
        # WASM_LAB_TEST_SHIMS_DIR / WASM_LAB_TEST_CRUN_WASMEDGE_DIR: try a build that is not in the kit yet.
        path = os.environ.get(f"WASM_LAB_TEST_{artifact.upper().replace('-', '_')}_DIR")
        if not path:
            entry = built_artifact(artifact)
            if entry is None:
                continue
            path = entry["path"]
        mounts += ["-v", f"{path}:/kit/{artifact}:ro"]
        installed[artifact] = path
    crictl = crictl_path()
    if crictl:
        mounts += ["-v", f"{crictl}:/usr/local/bin/crictl:ro"]
    config = tmp_path_factory.mktemp("containerd") / "config.toml"
    pause_entry = built_artifact("pause")
    pause = pause_entry["image"]["ref"] if pause_entry else None
    config.write_text(CONTAINERD_CONFIG.replace("{pause}", pause or "registry.k8s.io/pause:3.10.1"))
    mounts += ["-v", f"{config}:/etc/containerd/config.toml:ro"]
    run(["docker", "run", "-d", "--privileged", "--name", name, "--tmpfs", "/run",
         "--mount", "type=volume,dst=/var/lib/containerd", *mounts, NODE_IMAGE, "sleep", "infinity"])
    n = Node(name)
    try:
        if "shims" in installed:
            n.sh("for b in /kit/shims/bin/containerd-shim-*-v1; do install -m 0755 $b /usr/local/bin/; done")
        if "crun-wasmedge" in installed:  # copied to where the lab puts it: its install records what it added
            n.sh("mkdir -p /opt/wasm-lab && cp -r /kit/crun-wasmedge /opt/wasm-lab/ && "
                 "sh /opt/wasm-lab/crun-wasmedge/install.sh", timeout=600)
        n.sh(f"(containerd --log-level {os.environ.get('WASM_LAB_TEST_CONTAINERD_LOG_LEVEL', 'info')} >/var/log/containerd.log 2>&1 &); "
             "for i in $(seq 1 60); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.5; done; exit 1")
        n.ctr("images import /fixtures/images.tar", timeout=300)
        # CRI uses the k8s.io namespace and needs a pause image (the kit's) for pod sandboxes.
        n.sh("ctr -n k8s.io images import /fixtures/images.tar", timeout=300)
        if pause:
            run(["docker", "save", "-o", str(wasm_images.parent / "pause.tar"), pause])
            n.sh("ctr -n k8s.io images import /fixtures/pause.tar", timeout=300)
        n.pause = pause
        n.installed = installed
        n.has_crictl = crictl is not None
        yield n
    finally:
        logs = run(["docker", "exec", name, "tail", "-n", "60", "/var/log/containerd.log"], check=False).stdout
        if os.environ.get("WASM_LAB_KEEP_NODE"):
            print(f"node container kept: {name}")
        else:
            run(["docker", "rm", "-f", "-v", name], check=False)
        print("containerd log tail:\n" + logs)


def need(node: Node, artifact: str, runtime: str | None = None):
    if artifact not in node.installed:
        lacking("kit", f"kit artifact {artifact!r} is not built (invoke kit.build --only {artifact})")
    if artifact == "shims" and runtime:
        shim = Path(node.installed["shims"]) / "bin" / f"containerd-shim-{runtime}-v1"
        if not shim.exists():
            pytest.fail(f"{shim} is missing from the built kit artifact 'shims'", pytrace=False)


RUNTIMES = {
    # name: (artifact, ctr flags)
    "wasmtime": ("shims", "--runtime io.containerd.wasmtime.v1"),
    "wasmedge": ("shims", "--runtime io.containerd.wasmedge.v1"),
    "crun-wasmedge": ("crun-wasmedge",
                      f"--runtime io.containerd.runc.v2 --runc-binary /usr/bin/crun --annotation {CRUN_ANNOTATION}"),
}
_ports = iter(range(18100, 18200))


# ---------------------------------------------------------------- (a) a module that prints

@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_module_prints_to_its_log(node, runtime):
    artifact, flags = RUNTIMES[runtime]
    need(node, artifact, runtime)
    cid = f"hello-{runtime}-{uuid.uuid4().hex[:6]}"
    result = node.ctr(f"run --rm {flags} --env GREETING=hi-{runtime} docker.io/{IMAGES['hello-p1']} {cid} "
                      f"/app.wasm one two", timeout=120)
    assert f'hi-{runtime} from wasm (args: ["one", "two"])' in result.stdout, result.stdout + result.stderr
    assert "stderr works too" in result.stdout + result.stderr


def test_wasmtime_shim_runs_a_wasip2_command(node):
    need(node, "shims", "wasmtime")
    cid = f"hello-p2-{uuid.uuid4().hex[:6]}"
    result = node.ctr(f"run --rm --runtime io.containerd.wasmtime.v1 --env GREETING=p2 "
                      f"docker.io/{IMAGES['hello-p2']} {cid} /app.wasm x", timeout=120)
    assert 'p2 from wasm (args: ["x"])' in result.stdout, result.stdout + result.stderr


def test_wasmedge_shim_refuses_a_component_clearly(node):
    need(node, "shims", "wasmedge")
    cid = f"p2-on-wasmedge-{uuid.uuid4().hex[:6]}"
    result = node.ctr(f"run --rm --runtime io.containerd.wasmedge.v1 docker.io/{IMAGES['hello-p2']} {cid} /app.wasm",
                      timeout=120, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"the wasmedge shim ran a wasip2 component (exit 0):\n{output[-2000:]}"
    assert "from wasm" not in output, f"the component's guest code ran:\n{output[-2000:]}"
    # ctr says nothing of why a task ended; the shim says it in containerd's log, for this instance
    log = node.sh(f"grep -F 'instance=\"{cid}\"' /var/log/containerd.log", check=False).stdout
    assert "WasmEdge runs wasip1 modules, not components" in log, f"the shim did not say why:\n{log[-2000:]}"


# ---------------------------------------------------------------- (b) an HTTP server answers curl

def _serve_and_curl(node: Node, runtime: str, image: str, env: str, port: int, expect: str):
    artifact, flags = RUNTIMES[runtime]
    need(node, artifact, runtime)
    cid = f"srv-{runtime}-{uuid.uuid4().hex[:6]}"
    node.ctr(f"run -d --net-host {flags} {env} docker.io/{image} {cid} /app.wasm", timeout=120)
    try:
        reply = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            result = node.sh(f"curl -sS -m 5 http://127.0.0.1:{port}/wasm-lab?x=1", check=False, timeout=30)
            if result.returncode == 0 and result.stdout:
                reply = result.stdout
                break
            time.sleep(1)
        assert reply is not None, f"{runtime}: nothing answered on port {port}"
        assert expect in reply and "/wasm-lab?x=1" in reply, reply
        # A second request: the wasmtime shim makes a fresh instance per request.
        again = node.sh(f"curl -sS -m 5 http://127.0.0.1:{port}/again", timeout=30)
        assert "/again" in again.stdout
    finally:
        stop = node.ctr(f"task kill -s SIGTERM {cid}", check=False)
        if runtime != "crun-wasmedge":
            # The shims end the guest on SIGTERM (crun leaves PID 1 to ignore it, as documented).
            waited = node.sh(f"for i in $(seq 1 20); do ctr -n default task ls | grep -q '^{cid} .*RUNNING' || exit 0; "
                             "sleep 0.5; done; exit 1", check=False)
            assert stop.returncode == 0, f"{runtime}: SIGTERM could not be sent: {stop.stderr[-1000:]}"
            assert waited.returncode == 0, f"{runtime}: SIGTERM did not stop the guest"
        node.ctr(f"task kill -s SIGKILL {cid}", check=False)
        node.sh(f"sleep 1; ctr -n default task delete -f {cid}; ctr -n default container delete {cid}", check=False)


def test_wasmtime_shim_serves_a_wasi_http_component(node):
    port = next(_ports)
    _serve_and_curl(node, "wasmtime", IMAGES["http-component"],
                    f"--env WASMTIME_HTTP_PROXY_SOCKET_ADDR=127.0.0.1:{port}", port,
                    "hello from wasmtime http component: Method::Get")


@pytest.mark.parametrize("runtime", ["wasmedge", "crun-wasmedge"])
def test_wasmedge_socket_server_answers(node, runtime):
    port = next(_ports)
    _serve_and_curl(node, runtime, IMAGES["sock-server"], f"--env PORT={port}", port,
                    "hello from wasmedge socket server")


# ---------------------------------------------------------------- CRI: runtime handlers

def test_containerd_config_shows_the_three_handlers(node):
    dump = node.sh("containerd config dump").stdout
    for handler, runtime_type in (("wasmtime", "io.containerd.wasmtime.v1"), ("wasmedge", "io.containerd.wasmedge.v1"),
                                  ("crun-wasmedge", "io.containerd.runc.v2")):
        section = f'[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{handler}]'
        assert section in dump, f"{handler} missing from containerd config dump"
        assert f'runtime_type = "{runtime_type}"' in dump.split(section, 1)[1].split("[plugins", 1)[0]
    assert 'pod_annotations = ["module.wasm.image/variant"]' in dump
    # ... and the CRI plugin took the config (a bad one only shows as a warning in the log).
    plugins = node.sh("ctr plugins ls").stdout
    assert any(line.split()[:2] == ["io.containerd.grpc.v1", "cri"] and line.split()[-1] == "ok"
               for line in plugins.splitlines()), plugins


# The shims' CRI path fails in this stand-in node (no systemd, cgroupfs): libcontainer answers
# "failed to prepare rootfs" although `ctr` runs the same image. In the kit's kind node they run
# through CRI RuntimeClasses: tests/e2e/test_lab.py checks runtime-wasmedge and runtime-wasmtime.
@pytest.mark.parametrize("handler", ["crun-wasmedge"])
def test_cri_runtime_handler_runs_a_module(node, handler, tmp_path):
    if not node.pause:
        kit_artifact_or_skip("pause")
    if not node.has_crictl:
        lacking("kit", "no crictl (kit artifact 'kubernetes' carries one; or "
                       "GOSUMDB=off go install sigs.k8s.io/cri-tools/cmd/crictl@v1.34.0 into the fixtures cache)")
    need(node, RUNTIMES[handler][0], handler)
    uid = uuid.uuid4().hex[:6]
    annotations = {"module.wasm.image/variant": "compat-smart"} if handler == "crun-wasmedge" else {}
    pod = {"metadata": {"name": f"p-{handler}-{uid}", "namespace": "default", "uid": uid},
           "annotations": annotations, "log_directory": "/tmp/cri-logs",
           "linux": {"security_context": {"namespace_options": {"network": 2}}}}  # NODE network: no CNI needed
    ctr = {"metadata": {"name": "hello"}, "image": {"image": f"docker.io/{IMAGES['hello-p1']}"},
           "args": ["cri"], "envs": [{"key": "GREETING", "value": f"cri-{handler}"}], "log_path": f"hello-{uid}.log"}
    node.sh(f"mkdir -p /tmp/cri-logs && printf %s {shlex.quote(json.dumps(pod))} > /tmp/pod-{uid}.json && "
            f"printf %s {shlex.quote(json.dumps(ctr))} > /tmp/ctr-{uid}.json")
    crictl = "crictl --timeout 120s --runtime-endpoint unix:///run/containerd/containerd.sock"
    out = node.sh(f"{crictl} run --no-pull --runtime {handler} /tmp/ctr-{uid}.json /tmp/pod-{uid}.json", timeout=180, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    log = ""
    for _ in range(60):
        log = node.sh(f"cat /tmp/cri-logs/hello-{uid}.log 2>/dev/null", check=False).stdout
        if "from wasm" in log:
            break
        time.sleep(1)
    assert f'cri-{handler} from wasm (args: ["cri"])' in log, log


# ---------------------------------------------------------------- images for embed variants

@pytest.mark.parametrize("artifact,binary", [("wasmedge-cli", "wasmedge"), ("wasmtime-cli", "wasmtime")])
def test_cli_image_prints_its_version_and_runs_a_module(artifact, binary, wasm_dir):
    entry = kit_artifact_or_skip(artifact)
    ref = entry["image"]["ref"]
    version = ref.rsplit(":", 1)[1]
    default = run(["docker", "run", "--rm", ref], timeout=120)
    assert f"{binary} {version}" in default.stdout or f"{binary} version {version}" in default.stdout, default.stdout
    explicit = run(["docker", "run", "--rm", ref, binary, "--version"], timeout=120)
    assert version in explicit.stdout
    argv = [binary, "run"] if binary == "wasmtime" else [binary]
    result = run(["docker", "run", "--rm", "-v", f"{wasm_dir}:/w:ro", ref, *argv, "/w/hello-p1.wasm", "embed"],
                 timeout=120)
    assert 'from wasm (args: ["embed"])' in result.stdout, result.stdout + result.stderr
    # Small: only the binary and the libraries it loads (wasmedge's libLLVM is the bulk).
    size = int(run(["docker", "image", "inspect", "-f", "{{.Size}}", ref]).stdout)
    assert size < (200 << 20), f"{ref} is {size >> 20} MiB"


def test_shims_link_only_what_the_node_has():
    entry = kit_artifact_or_skip("shims")
    info = (Path(entry["path"]) / "BUILDINFO").read_text()
    wasmtime = info.split("== containerd-shim-wasmtime-v1", 1)[1].split("==", 1)[0]
    wasmedge = info.split("== containerd-shim-wasmedge-v1", 1)[1].split("==", 1)[0]
    assert "not found" not in info, info
    assert "libwasmedge.so.0" in wasmedge
    assert "libwasmedge" not in wasmtime and "libseccomp" not in wasmtime and "libdbus" not in wasmtime, wasmtime
    for block in (wasmtime, wasmedge):
        glibc = block.split("glibc needed: GLIBC_", 1)[1].split()[0]
        assert tuple(map(int, glibc.split("."))) <= (2, 41), f"needs glibc {glibc}, newer than trixie's 2.41"


def test_the_crun_bundle_takes_back_exactly_the_packages_it_added(docker_engine):
    """install.sh on a bare trixie rootfs, then uninstall.sh: the package list is as before, byte
    for byte, and a package the node already had at the bundle's version is left installed."""
    bundle = kit_artifact_or_skip("crun-wasmedge")["path"]
    base = kit_artifact_or_skip("debian-trixie")["image"]["ref"]
    name = f"wasm-lab-test-bundle-{uuid.uuid4().hex[:8]}"
    run(["docker", "run", "-d", "--name", name, "-v", f"{bundle}:/kit/crun-wasmedge:ro", base, "sleep", "infinity"])
    try:
        def sh(script, check=True):
            return run(["docker", "exec", name, "sh", "-c", script], check=check, timeout=600)

        listing = "dpkg-query -W -f '${Package}=${Version} ${db:Status-Abbrev}\\n' | sort"
        before = sh(listing).stdout
        sh("mkdir -p /opt/wasm-lab && cp -r /kit/crun-wasmedge /opt/wasm-lab/")
        sh("sh /opt/wasm-lab/crun-wasmedge/install.sh")
        added = sh("cat /opt/wasm-lab/crun-wasmedge/added-packages").stdout.split()
        assert "crun" in added and "libwasmedge0" in added
        kept = [line.split("=")[0] for line in before.splitlines()
                if line.split("=")[0] in sh("sed 's/=.*//' /opt/wasm-lab/crun-wasmedge/packages.txt").stdout.split()]
        assert not set(kept) & set(added)  # the node's own packages are not the bundle's to remove
        sh("sh /opt/wasm-lab/crun-wasmedge/install.sh")  # again: nothing more added
        assert sh("cat /opt/wasm-lab/crun-wasmedge/added-packages").stdout.split() == added
        sh("sh /opt/wasm-lab/crun-wasmedge/uninstall.sh")
        assert sh(listing).stdout == before
        assert sh("command -v crun", check=False).returncode != 0
    finally:
        run(["docker", "rm", "-f", name], check=False)
