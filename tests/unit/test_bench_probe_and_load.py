"""The bench's node probe, in-cluster load and density, on their pure parts: what probe.sh prints,
what wrk's report says, where the client goes, when a level is client-bound, why a pod failed.
(The real paths run in tests/e2e: the kind and existing-cluster benches.)"""
import json
import subprocess
from types import SimpleNamespace as NS

import pytest

import lab.bench as bench
from lab.bench import density, incluster, probe, settings
from lab.bench.results import LoadLevel
from lab.errors import LabError
from lab.kube import OWNER


def test_epoch_reads_bash_realtime_and_rfc3339_to_the_nanosecond():
    assert probe.epoch("1796026793.055904") == pytest.approx(1796026793.055904)
    assert probe.epoch("2026-11-30T08:19:51.891308964Z") == pytest.approx(1796026791.891308964, abs=1e-6)
    assert probe.epoch("2026-11-30T08:27:37Z") == 1796027257.0
    assert probe.epoch("2026-11-30T09:27:37+01:00") == 1796027257.0
    assert probe.epoch("") is None and probe.epoch("soon") is None


def test_probe_output_is_parsed_into_named_times():
    found = probe.parse("probe_started=100.5\nsandbox_found=101.0\nsandbox=abc\npod_ip=10.244.1.8\n"
                        "first_200=101.25\nattempts=7\nrefused=6\n"
                        "sandbox_created=1970-01-01T00:01:40.9Z\ncontainer_created=1970-01-01T00:01:41.05Z\n"
                        "container_started=1970-01-01T00:01:41.2Z\nnoise without equals\n")
    assert found["sandbox_ready"] == 101.0 and found["pod_ip_200"] == 101.25
    assert found["sandbox_created"] == pytest.approx(100.9) and found["container_started"] == pytest.approx(101.2)
    assert found["attempts"] == 7 and found["pod_ip"] == "10.244.1.8"


def test_probe_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", "-c", probe.SCRIPT]).returncode == 0


class FakeNode:
    """FAKE node: records the command; prints what probe.sh would."""
    name = "worker"

    def __init__(self, output="", code=0):
        self.output, self.code, self.argv = output, code, None

    def exec(self, argv, input=None):
        self.argv = argv
        return NS(returncode=self.code, stdout=self.output, stderr="")


def test_node_probe_passes_labels_and_reports_failures():
    node = FakeNode("probe_started=1.0\nerror=no new ready sandbox within 3s\n", code=3)
    run = probe.NodeProbe(node, {"b": "2", "a": "1"}, "wasm-lab", 3000, "/get", 3)
    run.run()
    assert node.argv[:3] == ["bash", "-c", probe.SCRIPT]
    assert node.argv[5:] == ["wasm-lab", "3000", "/get", "3", str(probe.INTERVAL), "a=1", "b=2"]
    assert run.result["error"] == "no new ready sandbox within 3s"


WRK_JSON = {"requests": 1000, "duration_us": 2_000_000, "bytes": 1, "latency_us": {"p50": 250, "p99": 2000},
            "errors": {"connect": 0, "read": 0, "write": 0, "status": 10, "timeout": 0}}


def test_wrk_report_becomes_a_load_level():
    level = incluster.parse_wrk("Running 2s test\n" + json.dumps(WRK_JSON) + "\n", 16, "pod-ip")
    assert (level.requests, level.ok, level.errors, level.throughput) == (1000, 990, 10, 495.0)
    assert level.latency_ms == {"p50": 0.25, "p99": 2.0} and level.target == "pod-ip" and level.client == "wrk"
    assert level.error_sample == "status 10"


def test_wrk_without_a_report_is_one_line_error():
    with pytest.raises(LabError, match="wrk printed no summary: unable to connect"):
        incluster.parse_wrk("unable to connect to 10.0.0.1:3000 Connection refused\n", 1, "pod-ip")


def test_wrk_argv_never_has_more_threads_than_connections():
    assert incluster.wrk_argv("http://x/", 1, 2.4)[:4] == ["wrk", "-t1", "-c1", "-d2s"]
    assert incluster.wrk_argv("http://x/", 16, 10)[:4] == ["wrk", "-t2", "-c16", "-d10s"]


def test_the_client_goes_to_another_node_or_shares_one_with_a_cpu_limit():
    assert incluster.place_client(["cp", "worker"], "worker") == incluster.Placement("cp", False, None)
    assert incluster.place_client(["only"], "only") == incluster.Placement("only", True, incluster.SHARED_NODE_CPU)


def test_bench_pods_carry_the_labs_mark_and_are_pinned():
    pod = incluster.pod_manifest("lab1", "bench-client", "worker", "img:loadgen", "1")
    assert pod["metadata"]["annotations"][OWNER] == "lab1"
    assert pod["metadata"]["labels"]["app.kubernetes.io/part-of"] == "wasm-lab"
    assert pod["spec"]["nodeSelector"] == {"kubernetes.io/hostname": "worker"}
    assert pod["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "1"}
    responder = incluster.pod_manifest("lab1", "bench-responder", "worker", "img:loadgen", None)
    assert responder["spec"]["containers"][0]["command"][0] == "nginx" and "resources" not in responder["spec"]["containers"][0]
    assert responder["metadata"]["name"] != pod["metadata"]["name"]


def _level(throughput):
    return LoadLevel(concurrency=1, requests=1, ok=1, errors=0, seconds=1, throughput=throughput, latency_ms={},
                     stopped_by="duration")


@pytest.mark.parametrize("throughput, bound", [(100, False), (499, False), (500, True), (900, True)])
def test_a_level_at_half_the_ceiling_is_client_bound(throughput, bound):
    level = incluster.mark_client_bound(_level(throughput), _level(1000))
    assert level.client_bound is bound and level.ceiling == 1000


def test_leftover_bench_pods_of_other_labs_are_never_deleted():
    deleted = []
    pods = [NS(metadata=NS(name="mine", annotations={OWNER: "lab1"})),
            NS(metadata=NS(name="theirs", annotations={OWNER: "lab2"})),
            NS(metadata=NS(name="unmarked", annotations=None))]

    def read(name, namespace):
        from kubernetes.client.exceptions import ApiException
        raise ApiException(status=404)

    core = NS(list_namespaced_pod=lambda ns, label_selector: NS(items=pods),
              delete_namespaced_pod=lambda name, ns, grace_period_seconds: deleted.append(name),
              read_namespaced_pod=read)
    incluster.InClusterLoad(NS(core=core), "wasm-lab", "lab1", "img", ["cp"])   # FAKE API: lists and deletes
    assert deleted == ["mine"]


def _pod(conditions=(), statuses=(), phase="Pending"):
    return NS(status=NS(conditions=[NS(type=t, status=s, reason=r) for t, s, r in conditions],
                        container_statuses=list(statuses), phase=phase))


def test_density_names_why_a_pod_did_not_start():
    assert density.failure_reason(_pod([("PodScheduled", "False", "Unschedulable")])) == "Unschedulable"
    waiting = NS(state=NS(waiting=NS(reason="CrashLoopBackOff"), terminated=None))
    assert density.failure_reason(_pod(statuses=[waiting])) == "CrashLoopBackOff"
    creating = NS(state=NS(waiting=NS(reason="ContainerCreating"), terminated=None))
    assert density.failure_reason(_pod(statuses=[creating])) is None


DEPLOYMENT = {
    "metadata": {"name": "httpbin-runtime-wasmtime", "namespace": "wasm-lab"},
    "spec": {"template": {
        "metadata": {"labels": {"app.kubernetes.io/name": "httpbin-runtime-wasmtime", "wasm-lab.dev/variant": "x"},
                     "annotations": {"module.wasm.image/variant": "compat-smart"}},
        "spec": {"runtimeClassName": "wasmtime",
                 "containers": [{"name": "httpbin", "image": "img",
                                 "resources": {"requests": {"cpu": "50m", "memory": "32Mi"},
                                               "limits": {"memory": "256Mi"}}}]}}}}


def test_the_density_copy_keeps_the_pod_but_not_its_labels_or_cpu_request():
    body = density.copy_manifest(DEPLOYMENT, 50)
    template = body["spec"]["template"]
    assert body["metadata"]["name"] == "httpbin-runtime-wasmtime-density" and body["spec"]["replicas"] == 50
    assert template["metadata"]["labels"] == {"app.kubernetes.io/name": "httpbin-runtime-wasmtime-density",
                                              "app.kubernetes.io/part-of": "wasm-lab",
                                              "app.kubernetes.io/component": "bench-density"}
    assert body["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "httpbin-runtime-wasmtime-density"}
    assert template["metadata"]["annotations"] == {"module.wasm.image/variant": "compat-smart"}
    assert template["spec"]["runtimeClassName"] == "wasmtime"
    assert template["spec"]["containers"][0]["resources"] == {"requests": {"memory": "32Mi"},
                                                              "limits": {"memory": "256Mi"}}
    assert DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "50m"


def test_only_this_labs_density_copies_are_removed():
    deleted = []
    listed = NS(items=[NS(metadata=NS(name="mine-density")), NS(metadata=NS(name="theirs-density"))])
    kube = NS(apps=NS(list_namespaced_deployment=lambda ns, label_selector: listed),
              delete_owned=lambda api, kind, name, lab, ns: deleted.append(name) or name == "mine-density",
              core=NS(list_namespaced_pod=lambda ns, label_selector: NS(items=[])))   # FAKE API
    assert density.remove_copies(kube, "wasm-lab", "lab1") == ["mine-density"]
    assert deleted == ["mine-density", "theirs-density"]   # delete_owned itself refuses another lab's


def test_steal_share_from_two_proc_stat_readings():
    start = [100, 0, 100, 700, 0, 0, 0, 0]
    end = [150, 0, 150, 1580, 0, 0, 0, 20]
    assert bench.steal_percent(start, end) == 2.0
    assert bench.steal_percent(None, end) is None


@pytest.mark.parametrize("values, message", [(["x"], "not whole numbers"), ([0], "0 is outside 1..100"),
                                             ([101], "101 is outside 1..100")])
def test_density_levels_are_checked(values, message):
    from lab.errors import InputError
    with pytest.raises(InputError, match=f"density: .*{message}"):
        settings.check_density(values)
