"""lab.bench.run with the cluster faked: it restores what it scaled and writes what it has, even on Ctrl-C."""
import json
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

import lab.bench as bench
import lab.kube
import lab.state
from lab.bench import coldstart, density, incluster, load, memory, node_images, targets, variant
from lab.bench.results import ColdStartRun, DensityRun, ImageSize, LoadLevel
from lab.bench.settings import BenchSettings
from lab.errors import InputError, LabError


class FakeLab:
    """FAKE reach of the running lab: one node, whose image loads are recorded."""
    loads = []
    provider = NS(creates_clusters=True)

    def __init__(self, spec):
        self.spec = spec
        self.state = lab.state.State(spec.name)
        self.cluster = NS(kubeconfig="kubeconfig", context="", check_host="127.0.0.1",
                          nodes=[NS(name="control-plane"), NS(name="worker")])

    def node(self, name):
        return NS(name=name)

    def pod_image(self, ref):
        return ref

    def load_back(self, node_name, ref):
        self.loads.append((node_name, ref))
        return 0.5

    def close(self):
        pass


def level(concurrency, target="nodeport", throughput=1.0):
    return LoadLevel(concurrency=concurrency, requests=1, ok=1, errors=0, seconds=1, throughput=throughput,
                     latency_ms={"p50": 1, "p95": 1, "p99": 1, "min": 1, "max": 1, "mean": 1}, stopped_by="count",
                     target=target)


class FakeClients:
    """FAKE in-cluster load (no pods, no wrk): records what it was asked; the responder answers
    four times as fast as any variant, so nothing is client-bound unless a test says so."""
    made = []

    def __init__(self, kube, namespace, lab, image, nodes, load_image=None):
        self.image, self.nodes, self.runs, self.closed = image, nodes, [], False
        self.ceilings, self.load_image = {}, load_image
        FakeClients.made.append(self)

    def ceiling(self, under_test, concurrency, duration):
        if not self.ceilings and self.load_image:
            self.load_image(under_test)   # as the real one does before its first pod on a node
        self.ceilings[(under_test, concurrency)] = level(concurrency, "responder", throughput=4.0)
        return self.ceilings[(under_test, concurrency)]

    def run(self, under_test, url, concurrency, duration, target):
        self.runs.append((url, concurrency, target))
        return level(concurrency, target)

    def close(self):
        self.closed = True
        return []


def make_target(variant):
    return targets.Target(variant=variant, deployment=f"httpbin-{variant}", namespace="wasm-lab",
                          selector=f"app.kubernetes.io/name=httpbin-{variant}", port=30080, image=f"img:{variant}",
                          runtime_class=None, replicas=1, cluster_ip="10.96.0.20", service_port=80)


@pytest.fixture
def faked(monkeypatch, tmp_path, isolated_state):
    calls = {"restore": [], "cold": 0, "levels": []}
    monkeypatch.setattr(bench, "LabCluster", FakeLab)
    monkeypatch.setattr(lab.kube, "Kube", lambda path, context=None: NS())
    # listed as the API lists them (by name); measured in the catalog's order, native first
    monkeypatch.setattr(targets, "discover", lambda kube, ns: {v: make_target(v) for v in ("runtime-wasmedge", "native")})
    monkeypatch.setattr(targets, "running_pod", lambda kube, target, timeout: NS(
        spec=NS(node_name="worker"), metadata=NS(name=f"{target.deployment}-1"), status=NS(pod_ip="10.244.1.9")))
    monkeypatch.setattr(bench, "_loadgen_image", lambda spec: "img:loadgen")
    monkeypatch.setattr(bench, "_wait_for_quiet", lambda timeout: 0.0)
    FakeClients.made = []
    monkeypatch.setattr(incluster, "InClusterLoad", FakeClients)

    def scale_out(kube, target, replicas, lab):
        calls.setdefault("density", []).append((target.variant, replicas))
        return DensityRun(replicas=replicas, ready=replicas, failed={}, seconds_to_ready=1.0, nodes=["worker"],
                          node_working_set_before=0, node_working_set_after=replicas << 20, pods_working_set=0)

    monkeypatch.setattr(density, "density", scale_out)
    monkeypatch.setattr(density, "remove_copies", lambda kube, namespace, lab: calls.setdefault("cleaned", []).append(lab))
    monkeypatch.setattr(node_images, "image_size", lambda kube, node, ref, cache: (ImageSize(ref=ref, node_bytes=1), []))
    monkeypatch.setattr(memory, "wait_memory", lambda *a, **k: (None, "no numbers"))

    def run_level(port, concurrency, requests, duration, path, stop, host):
        calls["levels"].append(concurrency)
        calls.setdefault("hosts", set()).add(host)
        return level(concurrency)

    monkeypatch.setattr(load, "run_level", run_level)

    def restore(kube, targets, timeout=180):
        calls["restore"].append([t.variant for t in targets])
        return []

    monkeypatch.setattr(targets, "restore", restore)
    spec = NS(name="t", provider="kind", namespace="wasm-lab", results_dir=str(tmp_path / "out"))
    return spec, calls


def cold_run(index, kind):
    return ColdStartRun(index=index, kind=kind, seconds={"scheduled": 0.1, "running": 0.5, "ready": 1, "http_200": 1.1})


def test_run_measures_each_variant_and_restores_it(faked, monkeypatch):
    spec, calls = faked
    monkeypatch.setattr(coldstart, "cold_start", lambda kube, target, index, kind, **_: cold_run(index, kind))
    result, paths = bench.run(spec, BenchSettings.checked(repeat=3, concurrencies=[1, 2], requests=10, duration=1,
                                                          image_removed=False, density_levels=[3],
                                                          density_variants=["runtime-wasmedge"]))
    assert list(result.variants) == ["native", "runtime-wasmedge"]
    assert [r.kind for r in result.variants["native"].cold_start] == ["first", "repeat", "repeat"]
    # wrk at the pod IP at each level, then the ClusterIP and the host's client at the highest
    clients = FakeClients.made[0]
    assert clients.image == "img:loadgen" and clients.nodes == ["control-plane", "worker"] and clients.closed
    assert [(c, t) for _, c, t in clients.runs] == [(1, "pod-ip"), (2, "pod-ip"), (2, "service")] * 2
    assert clients.runs[0][0] == "http://10.244.1.9:3000/get"
    assert calls["levels"] == [2, 2] and calls["hosts"] == {"127.0.0.1"}  # kind's, from attach
    assert calls["density"] == [("runtime-wasmedge", 3)]
    assert calls["cleaned"] == ["t", "t"]   # leftovers before, its own copies after
    native = result.variants["native"]
    assert [lv.ceiling for lv in native.load] == [4.0, 4.0] and not any(lv.client_bound for lv in native.load)
    assert set(result.calibration) == {"worker"}
    assert calls["restore"] == [["native"], ["runtime-wasmedge"], ["native", "runtime-wasmedge"]]
    data = json.loads(paths["json"].read_text())
    assert data["interrupted"] is False and data["finished"]
    assert "idle memory: no numbers" in data["variants"]["native"]["notes"]


def test_each_row_says_the_engine_the_lab_recorded_for_its_variant(faked, monkeypatch):
    spec, _ = faked
    monkeypatch.setattr(coldstart, "cold_start", lambda kube, target, index, kind, **_: cold_run(index, kind))
    state = lab.state.State(spec.name)
    state.set("artifact_engines", {"shim-wasmedge": {"name": "wasmedge", "version": "0.14.1"}})
    state.set("artifact_origins", {"shim-wasmedge": "release v0.6.1"})
    result, paths = bench.run(spec, BenchSettings.checked(repeat=1, concurrencies=[1], requests=1, duration=1,
                                                          image_removed=False, density_levels=[1], density_variants=[]))
    data = json.loads(paths["json"].read_text())
    assert data["variants"]["runtime-wasmedge"]["engine"] == {"name": "wasmedge", "version": "0.14.1",
                                                              "artifact": "shim-wasmedge", "origin": "release v0.6.1"}
    assert data["variants"]["native"]["engine"] is None


def test_on_a_cluster_the_lab_did_not_create_the_load_image_is_taken_back(faked, monkeypatch):
    spec, calls = faked
    untagged = []
    monkeypatch.setattr(FakeLab, "provider", NS(creates_clusters=False,
                                                forget_pushed=lambda spec, refs: untagged.extend(refs)))
    monkeypatch.setattr(coldstart, "cold_start", lambda kube, target, index, kind, **_: cold_run(index, kind))
    removed = []
    monkeypatch.setattr(node_images, "remove_image", lambda node, ref: removed.append((node.name, ref)))
    bench.run(spec, BenchSettings.checked(variants=["native"], repeat=1, concurrencies=[1], requests=10, duration=1,
                                          image_removed=False, density_levels=[2]))
    assert removed == [("worker", "img:loadgen")]
    assert untagged == ["img:loadgen"]   # and the host keeps no tag made to push it to the user's registry


@pytest.mark.parametrize("delivery, loaded_back", [("registry", []), ("load", [("worker", "img:native")])])
def test_the_image_removed_start_pulls_from_the_lab_registry_or_loads_back(faked, monkeypatch, delivery, loaded_back):
    spec, calls = faked
    spec = NS(**vars(spec), pulls_images=delivery == "registry")
    monkeypatch.setattr(coldstart, "cold_start", lambda kube, target, index, kind, before_start=None, **_: (
        before_start() if before_start else None, cold_run(index, kind))[1])
    removed = []
    monkeypatch.setattr(node_images, "remove_image", lambda node, ref: removed.append((node.name, ref)))
    monkeypatch.setattr(variant, "_cannot_remove", lambda *args: None)
    FakeLab.loads.clear()
    result, _ = bench.run(spec, BenchSettings.checked(variants=["native"], repeat=1, concurrencies=[1], requests=10,
                                                      duration=1, image_removed=True, density_levels=[]))
    assert [r.kind for r in result.variants["native"].cold_start] == ["first", "image-removed"]
    assert removed == [("worker", "img:native")]
    assert [load for load in FakeLab.loads if load[1] == "img:native"] == loaded_back


def test_ctrl_c_restores_and_writes_what_was_measured(faked, monkeypatch):
    spec, calls = faked

    def cold_start(kube, target, index, kind, **_):
        if index == 1:
            raise KeyboardInterrupt
        return cold_run(index, kind)

    monkeypatch.setattr(coldstart, "cold_start", cold_start)
    with pytest.raises(KeyboardInterrupt):
        bench.run(spec, BenchSettings.checked(variants=["native"], repeat=3, concurrencies=[1], requests=10, duration=1,
                                              image_removed=False))
    assert calls["restore"] == [["native"]]
    data = json.loads((Path(spec.results_dir) / "bench.json").read_text())
    assert data["interrupted"] is True
    assert len(data["variants"]["native"]["cold_start"]) == 1


def test_a_failing_variant_is_a_note_and_the_next_is_measured(faked, monkeypatch):
    spec, calls = faked

    def cold_start(kube, target, index, kind, **_):
        if target.variant == "native":
            raise LabError("pods of httpbin-native were still there after scaling it to 0 (waited 120s)")
        return cold_run(index, kind)

    monkeypatch.setattr(coldstart, "cold_start", cold_start)
    result, _ = bench.run(spec, BenchSettings.checked(repeat=2, concurrencies=[1], requests=10, duration=1,
                                                      image_removed=False))
    assert result.variants["native"].notes[-1].startswith("stopped: pods of httpbin-native were still there")
    assert len(result.variants["runtime-wasmedge"].cold_start) == 2
    assert ["native"] in calls["restore"]


def test_unknown_variant_is_input_error(faked):
    spec, _ = faked
    with pytest.raises(InputError, match="variant: 'spin' is not deployed; choose from: native, runtime-wasmedge"):
        bench.run(spec, BenchSettings.checked(variants=["spin"]))
