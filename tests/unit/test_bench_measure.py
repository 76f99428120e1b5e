"""lab.bench's cluster-facing helpers on fakes, and its HTTP client on a local server: no cluster."""
import dataclasses
import http.server
import threading
import time
import zlib
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from lab.bench import coldstart, load, memory, node_images, report, targets
from lab.bench.settings import BenchSettings, check_settings
from lab.errors import InputError
from lab.nodes import Result
from tests.fakes import FakeKube


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1
    status = 200

    def do_GET(self):
        body = b'{"url": "/get"}'
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


# ----------------------------------------------------------------------------- load client

def test_load_stops_at_the_request_count(server):
    level = load.run_level(server.server_address[1], concurrency=4, requests=200, duration=30, warmup=5)
    assert (level.requests, level.ok, level.errors, level.stopped_by) == (200, 200, 0, "count")
    assert level.latency_ms["p50"] <= level.latency_ms["p95"] <= level.latency_ms["p99"] <= level.latency_ms["max"]
    assert level.throughput > 0


def test_load_stops_at_the_deadline(server):
    started = time.monotonic()
    level = load.run_level(server.server_address[1], concurrency=2, requests=10**9, duration=0.5, warmup=0)
    assert level.stopped_by == "duration"
    assert time.monotonic() - started < 0.5 + load.REQUEST_TIMEOUT + 1


def test_load_counts_non_200_as_errors(server, monkeypatch):
    monkeypatch.setattr(_Handler, "status", 503)
    level = load.run_level(server.server_address[1], concurrency=1, requests=10, duration=10, warmup=0)
    assert (level.ok, level.errors, level.error_sample) == (0, 10, "HTTP 503")
    assert level.latency_ms["p50"] is None


def test_load_counts_refused_connections():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    level = load.run_level(port, concurrency=1, requests=3, duration=5, warmup=0)
    assert level.errors == 3 and "ConnectionRefusedError" in level.error_sample


def test_load_stop_event_interrupts(server):
    stop = threading.Event()
    stop.set()
    level = load.run_level(server.server_address[1], concurrency=2, requests=100, duration=5, warmup=0, stop=stop)
    assert level.requests == 0 and level.stopped_by == "interrupted"


@pytest.mark.parametrize("kwargs", [{"concurrency": 0}, {"concurrency": 1000}, {"requests": 0}, {"duration": 0}])
def test_load_rejects_bad_settings(kwargs):
    args = {"port": 1, "concurrency": 1, "requests": 1, "duration": 1, **kwargs}
    with pytest.raises(InputError):
        load.run_level(**args)


def test_http_ok(server):
    assert coldstart.http_ok(server.server_address[1])
    assert not coldstart.http_ok(1)


@pytest.mark.parametrize("args, message", [
    ((0, [1], 10, 1), "repeat: 0"), ((1, [0], 10, 1), "concurrency: 0"), ((1, ["x"], 10, 1), "concurrency"),
    ((1, [1], 0, 1), "requests: 0"), ((1, [1], 10, 0), "duration: 0"),
])
def test_check_settings(args, message):
    with pytest.raises(InputError, match=message):
        check_settings(*args)
    assert check_settings(3, [], 10, 1) == (1, 4, 16)


def test_bench_settings_are_checked_once_and_cannot_change_after():
    settings = BenchSettings.checked(["native"], repeat="3", concurrencies=[], requests="10", duration="1.5",
                                     output="out", density_levels=["2"], density_variants=[], quiet_wait="0")
    assert (settings.variants, settings.repeat, settings.levels, settings.requests, settings.duration) == (
        ("native",), 3, (1, 4, 16), 10, 1.5)
    assert (settings.density, settings.density_variants, settings.output, settings.quiet_wait) == (
        (2,), None, Path("out"), 0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.repeat = 50   # type: ignore[misc]
    for options, message in [({"density_levels": [0]}, "density: 0 is outside 1..100"),
                             ({"quiet_wait": "soon"}, "quiet-wait: 'soon' is not a number of seconds"),
                             ({"repeat": 0}, "repeat: 0 is outside 1..50")]:
        with pytest.raises(InputError, match=message):
            BenchSettings.checked(**options)


# ----------------------------------------------------------------------------- memory

SUMMARY = {"node": {"nodeName": "w"}, "pods": [
    {"podRef": {"name": "other", "namespace": "wasm-lab"}, "memory": {"workingSetBytes": 1}},
    {"podRef": {"name": "httpbin-native-1", "namespace": "wasm-lab"},
     "memory": {"time": "2026-11-21T20:00:05Z", "workingSetBytes": 3145728},
     "containers": [{"name": "httpbin", "memory": {"time": "2026-11-21T20:00:04Z", "workingSetBytes": 2097152,
                                                   "rssBytes": 1048576, "usageBytes": 4194304}}]},
]}


def test_memory_of_reads_pod_and_containers():
    sample = memory.memory_of(SUMMARY, "wasm-lab", "httpbin-native-1")
    assert sample.pod_working_set_bytes == 3145728
    assert sample.containers == {"httpbin": {"working_set_bytes": 2097152, "rss_bytes": 1048576,
                                             "usage_bytes": 4194304}}
    assert sample.time == "2026-11-21T20:00:05Z"
    assert memory.memory_of(SUMMARY, "wasm-lab", "absent") is None
    assert memory.memory_of({}, "wasm-lab", "x") is None


def test_wait_memory_keeps_a_stale_sample_with_a_note(monkeypatch):
    monkeypatch.setattr(memory, "stats_summary", lambda kube, node: SUMMARY)
    sample, note = memory.wait_memory(None, "w", "wasm-lab", "httpbin-native-1", timeout=0.1, interval=0.01)
    assert sample.pod_working_set_bytes == 3145728 and note is None
    sample, note = memory.wait_memory(None, "w", "wasm-lab", "httpbin-native-1", not_before=time.time(), timeout=0.1, interval=0.01)
    assert sample is not None and "no sample newer" in note
    sample, note = memory.wait_memory(None, "w", "wasm-lab", "absent", timeout=0.1, interval=0.01)
    assert sample is None and "no memory above 0" in note


# ----------------------------------------------------------------------------- sizes and images

def test_ref_candidates():
    assert node_images.ref_candidates("wasm-lab/httpbin:native") == {"wasm-lab/httpbin:native",
                                                                  "docker.io/wasm-lab/httpbin:native"}
    assert "docker.io/library/busybox:1" in node_images.ref_candidates("busybox:1")
    assert node_images.ref_candidates("localhost:5000/x:1") == {"localhost:5000/x:1"}


def test_gzip_size_matches_gzip():
    chunks = [b"a" * 100_000, bytes(range(256)) * 100]
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    expected = len(compressor.compress(b"".join(chunks)) + compressor.flush())
    assert node_images.gzip_size(iter(chunks)) == expected


def test_node_image_bytes_from_node_status():
    node = NS(status=NS(images=[NS(names=["docker.io/wasm-lab/httpbin:native", "sha256:abc"], size_bytes=4321)]))
    kube = NS(core=NS(read_node=lambda name: node))
    assert node_images.node_image_bytes(kube, "w", "wasm-lab/httpbin:native") == 4321
    assert node_images.node_image_bytes(kube, "w", "wasm-lab/httpbin:other") is None


CTR_LS = """REF                                  TYPE                                       DIGEST       SIZE    PLATFORMS   LABELS
docker.io/wasm-lab/httpbin:native    application/vnd.oci.image.manifest.v1+json sha256:aaa   8.7 MiB linux/amd64 io.cri-containerd.image=managed
docker.io/wasm-lab/httpbin:runtime   application/vnd.oci.image.manifest.v1+json sha256:bbb   1.1 MiB linux/amd64 io.cri-containerd.image=managed
sha256:1111                          application/vnd.oci.image.manifest.v1+json sha256:aaa   8.7 MiB linux/amd64 io.cri-containerd.image=managed
"""


class FakeNode:
    name = "wasm-lab-worker"

    def __init__(self):
        self.listing = CTR_LS
        self.calls = []

    def run(self, argv, check=True):
        self.calls.append(argv)
        if argv[4] == "rm":
            removed = set(argv[6:])
            self.listing = "\n".join(line for line in self.listing.splitlines() if line.split()[0] not in removed) + "\n"
        return Result(0, self.listing)


def test_remove_image_removes_every_name_of_that_digest():
    node = FakeNode()
    assert node_images.node_image_refs(node, "wasm-lab/httpbin:native") == ["docker.io/wasm-lab/httpbin:native",
                                                                        "sha256:1111"]
    assert node_images.remove_image(node, "wasm-lab/httpbin:native") == ["docker.io/wasm-lab/httpbin:native",
                                                                     "sha256:1111"]
    assert ["ctr", "-n", "k8s.io", "images", "rm", "--sync", "docker.io/wasm-lab/httpbin:native",
            "sha256:1111"] in node.calls
    assert "httpbin:runtime" in node.listing


# ----------------------------------------------------------------------------- restore

def target(name, replicas=1):
    return targets.Target(variant=name, deployment=f"httpbin-{name}", namespace="wasm-lab",
                          selector=f"app.kubernetes.io/name=httpbin-{name}", port=30080, image="img",
                          runtime_class=None, replicas=replicas)


def test_restore_scales_back_only_what_changed_and_reports_failures():
    kube = FakeKube({"httpbin-native": 0, "httpbin-embed": 1}, never_ready={"httpbin-embed"})
    problems = targets.restore(kube, [target("native"), target("embed")])
    assert kube.apps.patches == [("httpbin-native", 1)]
    assert problems == ["deployment wasm-lab/httpbin-embed never became ready"]


def test_a_working_set_of_zero_is_no_measurement(monkeypatch):
    # What a runwasi pod on a cgroup-v1 node with the systemd driver shows: an empty pod cgroup.
    zero = {"pods": [{"podRef": {"name": "p", "namespace": "wasm-lab"},
                      "memory": {"time": "2026-11-21T20:00:05Z", "workingSetBytes": 0},
                      "containers": [{"name": "httpbin", "memory": {"workingSetBytes": 0}}]}]}
    monkeypatch.setattr(memory, "stats_summary", lambda kube, node: zero)
    sample, note = memory.wait_memory(None, "w", "wasm-lab", "p", timeout=0.1, interval=0.01)
    assert sample is None and "outside the pod's cgroup" in note


def test_a_new_pod_without_a_pod_total_falls_back_to_its_containers(monkeypatch):
    # What the kubelet shows for a pod created seconds ago: container numbers, a pod total of 0.
    young = {"pods": [{"podRef": {"name": "p", "namespace": "wasm-lab"},
                       "memory": {"time": "2026-11-21T20:00:05Z", "workingSetBytes": 0},
                       "containers": [{"name": "httpbin", "memory": {"workingSetBytes": 499712}}]}]}
    monkeypatch.setattr(memory, "stats_summary", lambda kube, node: young)
    sample, note = memory.wait_memory(None, "w", "wasm-lab", "p", timeout=0.1, interval=0.01)
    assert sample.containers["httpbin"]["working_set_bytes"] == 499712 and "containers' sum" in note
    assert report.memory_bytes(NS(memory={"idle": sample}), "idle") == 499712
