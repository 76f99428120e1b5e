"""httpbin conformance: every case of lab/httpbin_cases.py against every build that is present
here, the same normalised answers from all of them, and hostile input over raw sockets.

Targets (each skips with the reason when its binary or image is absent):
  native            workloads/httpbin/target/**/release/httpbin  (or $HTTPBIN_NATIVE_BIN, else the
                    static binary out of wasm-lab/httpbin:native)
  wasmedge-cli      `wasmedge` (PATH or $WASMEDGE_BIN, else the kit's wasmedge-cli image) running
                    the wasip1 module
  wasmtime-serve    `wasmtime serve` (PATH, $WASMTIME_BIN or the kit's cache) with the component
  image-native, image-embed-wasmedge, image-embed-wasmtime, image-embed-wasmedge-aot
                    `docker run` of wasm-lab/httpbin:* (the last: the AOT-compiled module)
  url               an already running server at $HTTPBIN_URL (its flavor in $HTTPBIN_FLAVOR); without
                    it, the reference httpbin (the Flask original under gunicorn, reference.py), held
                    to the spec except for the reviewed differences (docs/conformance.md)
The .wasm files come from $HTTPBIN_WASMEDGE_WASM / $HTTPBIN_WASMTIME_WASM, the cargo target dir,
or the wasm-lab/httpbin:runtime-* images. Every server listens on 127.0.0.1 only.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from lab import httpbin_cases as hc
from tests.conformance import reference
from tests.conformance.reference import ReferenceServer
from tests.machine_limits import lacking, require

pytestmark = pytest.mark.conformance

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = ROOT / "workloads" / "httpbin"
REFERENCE_DIFFERENCES = reference.load()
TARGETS = ["url", "native", "wasmedge-cli", "wasmtime-serve", "image-native", "image-embed-wasmedge",
           "image-embed-wasmtime", "image-embed-wasmedge-aot"]
FLAVOR_OF = {"url": os.environ.get("HTTPBIN_FLAVOR"), "native": "native", "wasmedge-cli": "embed-wasmedge", "wasmtime-serve": "embed-wasmtime",
             "image-native": "native", "image-embed-wasmedge": "embed-wasmedge",
             "image-embed-wasmtime": "embed-wasmtime", "image-embed-wasmedge-aot": "embed-wasmedge-aot"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen | None = None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {out[-2000:]}")
        try:
            if requests.get(url + "/version", timeout=2).status_code == 200:
                return
        except requests.RequestException as error:
            last = error
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {seconds}s: {last}")


def first_existing(*paths) -> Path | None:
    for p in paths:
        if p and Path(p).is_file():
            return Path(p)
    return None


def docker_client_or_none():
    try:
        import docker
        client = docker.from_env()
        client.ping()
        return client
    except Exception:
        return None


def wasm_file(engine: str, tmp: Path) -> Path | None:
    """The engine's .wasm: env override, cargo output, else extracted from the runtime image."""
    env = os.environ.get(f"HTTPBIN_{engine.upper()}_WASM")
    local = {"wasmedge": WORKSPACE / "target/wasm32-wasip1/release/httpbin-wasmedge.wasm",
             "wasmtime": WORKSPACE / "target/wasm32-wasip2/release/httpbin_wasmtime.wasm"}[engine]
    found = first_existing(env, local)
    if found:
        return found
    client = docker_client_or_none()
    if client is None:
        return None
    from lab import images
    try:
        data = images.wasm_bytes(images.tag(f"runtime-{engine}"), client)
    except Exception:
        return None
    path = tmp / f"httpbin-{engine}.wasm"
    path.write_bytes(data)
    return path


def wasmtime_binary() -> str | None:
    """$WASMTIME_BIN, a wasmtime on PATH, or the kit's (built with the shims)."""
    from lab.kit import KitStore

    shims = (KitStore().entry("shims") or {}).get("path")
    found = first_existing(os.environ.get("WASMTIME_BIN"), shutil.which("wasmtime"),
                           Path(shims) / "bin" / "wasmtime" if shims else None,
                           Path.home() / ".cache/wasm-lab/wasmtime/bin/wasmtime")
    return str(found) if found else None


class Server:
    def __init__(self, name: str, url: str, stop, reference: ReferenceServer | None = None):
        self.name, self.url, self.stop = name, url, stop
        self.flavor = FLAVOR_OF[name]
        self._results: list[hc.Result] | None = None
        self.registry: dict | None = None
        self.reference = reference
        """The reference httpbin: judged with its listed differences, never compared with the builds."""

    def results(self) -> list[hc.Result]:
        if self.reference is not None:
            return self.reference.results()
        if self._results is None:
            self._results = hc.run_cases(self.url)
            if self.registry is not None:
                self.registry[self.name] = self._results
        return self._results


def start_process(name: str, argv: list[str], env: dict, port: int) -> Server:
    proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def stop():
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    try:
        wait_ready(url, proc)
    except RuntimeError as error:
        stop()
        pytest.fail(f"{name}: {error}")
    return Server(name, url, stop)


def native_from_image(tmp: Path) -> Path | None:
    """The static native binary out of wasm-lab/httpbin:native, when that image is built."""
    client = docker_client_or_none()
    if client is None:
        return None
    from lab import images
    try:
        data = images.file_from_image(images.tag("native"), "/httpbin", client)
    except Exception:
        return None
    path = tmp / "httpbin-native"
    path.write_bytes(data)
    path.chmod(0o755)
    return path


def wasmedge_cli_of_the_kit(name: str, wasm: Path) -> Server:
    """The WasmEdge CLI of the kit (Debian trixie's, the one the nodes run) in its own container,
    running the same .wasm, when the host has no `wasmedge`."""
    from tests.conftest import kit_artifact_or_skip

    image = kit_artifact_or_skip("wasmedge-cli")["image"]["ref"]
    return start_container(name, image, 3000, command=[
        "wasmedge", "--env", "BIND=0.0.0.0", "--env", "PORT=3000", "--env", "FLAVOR=embed-wasmedge", "/httpbin.wasm"],
        volumes={str(wasm): {"bind": "/httpbin.wasm", "mode": "ro"}})


def start_container(name: str, image: str, container_port: int, command=None, volumes=None) -> Server:
    client = docker_client_or_none()
    if client is None:
        require("docker")
    try:
        client.images.get(image)
    except Exception:
        lacking("kit", f"{name}: image {image} is not built (the kit builds it: invoke images.build --offline)")
    port = free_port()
    container = client.containers.run(image, command, detach=True, volumes=volumes,
                                      ports={f"{container_port}/tcp": ("127.0.0.1", port)})
    url = f"http://127.0.0.1:{port}"

    def stop():
        container.remove(force=True)

    try:
        wait_ready(url)
    except RuntimeError as error:
        logs = container.logs().decode(errors="replace")[-2000:]
        stop()
        pytest.fail(f"{name}: {error}\n{logs}")
    return Server(name, url, stop)


def start(name: str, tmp: Path) -> Server:
    port = free_port()
    if name == "url":
        url = os.environ["HTTPBIN_URL"].rstrip("/")
        wait_ready(url, seconds=10)
        return Server(name, url, lambda: None)
    if name == "native":
        binary = first_existing(os.environ.get("HTTPBIN_NATIVE_BIN"), WORKSPACE / "target/release/httpbin",
                                *sorted(WORKSPACE.glob("target/*/release/httpbin"))) or native_from_image(tmp)
        if binary is None:
            lacking("kit", "native: no httpbin binary (cargo build --release -p httpbin-native in workloads/httpbin, "
                           "or invoke images.build --variant native)")
        return start_process(name, [str(binary)], {"BIND": "127.0.0.1", "PORT": str(port), "FLAVOR": "native"}, port)
    if name == "wasmedge-cli":
        binary = os.environ.get("WASMEDGE_BIN") or shutil.which("wasmedge")
        wasm = wasm_file("wasmedge", tmp)
        if wasm is None:
            lacking("kit", "wasmedge-cli: no httpbin-wasmedge.wasm (build it or invoke images.build)")
        if binary is None:
            return wasmedge_cli_of_the_kit(name, wasm)
        return start_process(name, [binary, "--env", "BIND=127.0.0.1", "--env", f"PORT={port}",
                                    "--env", "FLAVOR=embed-wasmedge", str(wasm)], {}, port)
    if name == "wasmtime-serve":
        binary = wasmtime_binary()
        if binary is None:
            lacking("kit", "wasmtime-serve: no `wasmtime` (PATH, $WASMTIME_BIN or invoke kit.build --only shims)")
        wasm = wasm_file("wasmtime", tmp)
        if wasm is None:
            lacking("kit", "wasmtime-serve: no httpbin component (build it or invoke images.build)")
        return start_process(name, [binary, "serve", "-S", "cli=y", "--env", "FLAVOR=embed-wasmtime",
                                    "--addr", f"127.0.0.1:{port}", str(wasm)], {}, port)
    if name.startswith("image-"):
        return start_container(name, f"wasm-lab/httpbin:{name.removeprefix('image-')}", 3000)
    raise ValueError(name)


@pytest.fixture(scope="session", params=TARGETS)
def server(request, tmp_path_factory, httpbin_results):
    name = request.param
    if name == "url" and not os.environ.get("HTTPBIN_URL"):
        reference = request.getfixturevalue("reference_httpbin")
        yield Server(name, reference.url, lambda: None, reference=reference)
        return
    srv = start(name, tmp_path_factory.mktemp(name))
    srv.registry = httpbin_results
    yield srv
    srv.stop()


@pytest.mark.parametrize("case", hc.CASES, ids=[c.name for c in hc.CASES])
def test_case(server, case):
    index = hc.CASES.index(case)
    result = server.results()[index]
    problems = REFERENCE_DIFFERENCES.unexplained(result) if server.reference else result.problems
    assert not problems, f"{server.name} {case.method} {case.path[:80]}: " + "; ".join(problems)


def test_flavor_reported(server):
    if server.flavor is None and server.reference is None:
        require("httpbin-flavor")
    v = requests.get(server.url + "/version", timeout=10)
    assert v.status_code == 200, f"/version answered {v.status_code}"
    flavors = [server.flavor] if server.flavor else list(hc.VARIANT_NAMES)
    assert v.headers.get("X-Workload-Flavor") in flavors
    assert v.json()["flavor"] in flavors


# --- hostile input over raw sockets -----------------------------------------------------------

def raw(server: Server, data: bytes, read_timeout: float = 10, half_close: bool = False) -> bytes:
    """Send bytes on a fresh connection; read until the server closes it (or `read_timeout`)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=read_timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass  # the server may refuse before reading everything
        if half_close:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (socket.timeout, ConnectionResetError):
            pass
        return b"".join(chunks)


def alive(server: Server) -> None:
    r = requests.get(server.url + "/get", timeout=10)
    assert r.status_code == 200, f"{server.name} stopped answering"


def status_of(answer: bytes) -> int | None:
    try:
        return int(answer.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def test_invalid_utf8_header(server):
    answer = raw(server, b"GET /headers HTTP/1.1\r\nHost: x\r\nX-Bin: a\xff\xfeb\r\nConnection: close\r\n\r\n")
    # hyper-based hosts may refuse such a value (400); answering lossily (200) is the goal.
    assert status_of(answer) in (200, 400), answer[:200]
    if status_of(answer) == 200:
        assert "a\ufffd\ufffdb".encode() in answer
    alive(server)


def test_garbage_request(server):
    answer = raw(server, b"\x00\x01\x02 not http at all\r\n\r\n")
    assert answer == b"" or status_of(answer) in (400, 404, 405, 505), answer[:200]
    alive(server)


def test_huge_header_is_refused(server):
    answer = raw(server, b"GET /get HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
    assert answer == b"" or 400 <= (status_of(answer) or 0) < 500, answer[:200]
    alive(server)


def test_huge_query_is_refused_or_served(server):
    answer = raw(server, b"GET /get?" + b"a=b&" * 50_000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer == b"" or status_of(answer) in (200, 400, 414, 431), answer[:200]
    alive(server)


def test_oversized_content_length(server):
    answer = raw(server, b"POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\nabc")
    assert status_of(answer) == 413, answer[:200]
    alive(server)


def test_chunked_body(server):
    answer = raw(server, b"POST /post HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                         b"Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    assert status_of(answer) == 200, answer[:200]
    assert b'"data": "hello world"' in answer


def test_slow_and_idle_clients_do_not_block_others(server):
    host, port = server.url.removeprefix("http://").split(":")
    idle = []
    try:
        for i in range(50):
            s = socket.create_connection((host, int(port)), timeout=5)
            if i % 2:
                s.sendall(b"GET /get HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never finished
            idle.append(s)
        started = time.monotonic()
        alive(server)
        assert time.monotonic() - started < 3, "a request waited behind slow clients"
    finally:
        for s in idle:
            s.close()
    alive(server)


def test_delay_does_not_block_other_requests(server):
    done = {}

    def slow():
        done["status"] = requests.get(server.url + "/delay/2", timeout=20).status_code

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    alive(server)
    elapsed = time.monotonic() - started
    thread.join()
    assert done.get("status") == 200
    assert elapsed < 1.5, f"/get took {elapsed:.1f}s while a /delay/2 was pending"


def test_truncated_body_then_close(server):
    raw(server, b"POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-a-few", half_close=True)
    alive(server)
