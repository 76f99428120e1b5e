from xml.etree import ElementTree

import tomlkit
import yaml

from lab import catalog, report, spec, workloads
from lab.providers.kind import cluster_config, unmapped_variants


def lab_spec(**overrides):
    return spec.validate({**__import__("yaml").safe_load(spec.DEFAULTS_FILE.read_text()), **overrides})


def test_kind_config_maps_every_variant_port_on_loopback_and_taints_the_wasm_pool():
    config = cluster_config(lab_spec(workers=2))
    control_plane, *workers = config["nodes"]
    assert config["name"] == "wasm-lab"
    assert [m["hostPort"] for m in control_plane["extraPortMappings"]] == list(range(30080, 30091))
    assert {m["listenAddress"] for m in control_plane["extraPortMappings"]} == {"127.0.0.1"}
    assert len(workers) == 2
    assert all(w["labels"]["wasm-lab.dev/pool"] == "wasm" for w in workers)
    assert all("wasm-lab.dev/wasm" in w["kubeadmConfigPatches"][0] for w in workers)
    assert "wasmWorker" not in config and "cgroupV1Patch" not in config and "cgroupfsOnV1" not in config


def test_a_kind_cluster_made_before_the_aot_variants_is_found_to_lack_their_ports():
    lab = lab_spec(runtimes=["wasmedge", "crun-wasmedge"])
    made_before = {f"{p}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(p)}] for p in range(30080, 30086)}
    made_before["6443/tcp"] = [{"HostIp": "127.0.0.1", "HostPort": "41234"}]
    assert unmapped_variants(lab, made_before) == ["embed-wasmedge-aot", "runtime-wasmedge-aot",
                                                   "runtime-crun-wasmedge-aot", "artifact-wasmedge"]
    made_now = {f"{m['hostPort']}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(m["hostPort"])}]
                for m in cluster_config(lab)["nodes"][0]["extraPortMappings"]}
    assert unmapped_variants(lab, made_now) == []
    assert unmapped_variants(lab_spec(runtimes=["wasmtime"]), made_before) == ["artifact-wasmtime"]


def test_kubernetes_135_gets_the_cgroup_v1_kubelet_setting():
    assert not any("failCgroupV1" in p for p in cluster_config(lab_spec())["kubeadmConfigPatches"])
    config = cluster_config(lab_spec(kubernetes="v1.35.0"))
    assert any("failCgroupV1: false" in p for p in config["kubeadmConfigPatches"])


def test_the_one_control_plane_runs_without_leader_election_whichever_kubeadm_api_kind_writes():
    """kind applies a patch to the document of its apiVersion: each version's own extraArgs shape."""
    patches = {doc["apiVersion"]: doc for doc in map(yaml.safe_load, cluster_config(lab_spec())["kubeadmConfigPatches"])
               if doc.get("kind") == "ClusterConfiguration"}
    assert set(patches) == {"kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta4"}
    v1beta3, v1beta4 = patches["kubeadm.k8s.io/v1beta3"], patches["kubeadm.k8s.io/v1beta4"]
    for component in ("controllerManager", "scheduler"):
        assert v1beta3[component]["extraArgs"]["leader-elect"] == "false"
        assert {"name": "leader-elect", "value": "false"} in v1beta4[component]["extraArgs"]
    assert v1beta3["controllerManager"]["extraArgs"]["kube-api-qps"] == "100"
    assert {"name": "kube-api-qps", "value": "100"} in v1beta4["controllerManager"]["extraArgs"]


def test_the_variants_services_are_routed_as_soon_as_they_are_ready():
    docs = [yaml.safe_load(p) for p in cluster_config(lab_spec())["kubeadmConfigPatches"]]
    assert {"kind": "KubeProxyConfiguration", "iptables": {"minSyncPeriod": "0s"}} in docs


def containerd_patches(config: dict) -> dict[int, dict]:
    """The kind config's containerd patches by config version, each version's merged."""
    merged: dict[int, dict] = {}
    for text in config.get("containerdConfigPatches", []):
        patch = tomlkit.parse(text).unwrap()
        for plugin, table in patch["plugins"].items():
            merged.setdefault(patch["version"], {}).setdefault(plugin, {}).update(table)
    return merged


def test_kind_nodes_read_registry_hosts_files_from_certs_d_whatever_their_config_version():
    patches = containerd_patches(cluster_config(lab_spec()))
    assert patches[2] == {"io.containerd.grpc.v1.cri": {"registry": {"config_path": "/etc/containerd/certs.d"}}}
    assert patches[3] == {"io.containerd.cri.v1.images": {"registry": {"config_path": "/etc/containerd/certs.d"}}}


def test_cgroup_v1_hosts_get_the_cgroupfs_driver_in_kubelet_and_containerd_alike():
    assert "SystemdCgroup" not in str(containerd_patches(cluster_config(lab_spec(), host_cgroup_v1=False)))
    config = cluster_config(lab_spec(), host_cgroup_v1=True)
    assert any("cgroupDriver: cgroupfs" in p for p in config["kubeadmConfigPatches"])
    # one patch per config version, tagged, so kind applies only the one matching the node's file
    patches = containerd_patches(config)
    for version, cri_plugin in ((2, "io.containerd.grpc.v1.cri"), (3, "io.containerd.cri.v1.runtime")):
        runc = patches[version][cri_plugin]["containerd"]["runtimes"]["runc"]
        assert runc["options"]["SystemdCgroup"] is False


def test_variant_objects_pick_runtime_class_annotation_and_listen_address():
    native, _ = workloads.variant_objects("native", "img", "ns", 30080)
    assert "runtimeClassName" not in native["spec"]["template"]["spec"]
    crun, service = workloads.variant_objects("runtime-crun-wasmedge", "img", "ns", 30085)
    pod = crun["spec"]["template"]
    assert pod["spec"]["runtimeClassName"] == "crun-wasmedge"
    assert pod["metadata"]["annotations"] == {"module.wasm.image/variant": "compat-smart"}
    assert service["spec"]["ports"][0]["nodePort"] == 30085
    assert crun["metadata"]["labels"]["wasm-lab.dev/execution"] == "interpreter"
    assert "wasm-lab.dev/execution" not in pod["metadata"]["labels"]
    aot, _ = workloads.variant_objects("runtime-crun-wasmedge-aot", "img", "ns", 30088)
    assert aot["metadata"]["labels"]["wasm-lab.dev/execution"] == "aot"
    assert aot["spec"]["template"]["spec"]["runtimeClassName"] == "crun-wasmedge"
    wasmtime, _ = workloads.variant_objects("runtime-wasmtime", "img", "ns", 30084)
    env = {e["name"]: e["value"] for e in wasmtime["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env == {"FLAVOR": "runtime-wasmtime", "PORT": "3000", "WASMTIME_HTTP_PROXY_SOCKET_ADDR": "0.0.0.0:3000"}
    probe = wasmtime["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert "httpGet" in probe and "exec" not in probe


def test_engines_that_ignore_sigterm_as_pid_1_share_the_pods_process_namespace():
    def shares(variant):
        deployment, _ = workloads.variant_objects(variant, "img", "ns", 30080)
        return deployment["spec"]["template"]["spec"].get("shareProcessNamespace", False)
    assert [v for v in catalog.load().variants if shares(v)] == [
        "embed-wasmedge", "embed-wasmtime", "runtime-crun-wasmedge", "embed-wasmedge-aot", "runtime-crun-wasmedge-aot"]


def test_runtime_class_schedules_onto_provisioned_nodes():
    rc = workloads.runtime_class("wasmedge")
    assert rc["handler"] == "wasmedge"
    assert rc["scheduling"]["nodeSelector"] == {"wasm-lab.dev/runtime-wasmedge": "installed"}


def test_report_flags_differences_and_writes_junit(tmp_path):
    results = {
        "native": [{"case": "get", "passed": True, "comparable": [200, {"a": 1}]}],
        "runtime-wasmedge": [{"case": "get", "passed": False, "detail": "500", "comparable": [200, {"a": 2}]}],
    }
    assert report.consistency(results) == {"get": False}
    assert report.failures(results) == 2
    json_path, junit_path = report.write(results, tmp_path, {"lab": "x"})
    suites = ElementTree.parse(junit_path).getroot()
    assert [s.get("failures") for s in suites] == ["0", "1", "1"]
    assert '"failures": 2' in json_path.read_text()


def test_report_heads_each_variant_with_how_its_code_runs(monkeypatch):
    from rich.console import Console
    recorded = Console(record=True, width=200)
    monkeypatch.setattr(report, "stdout", recorded)
    results = {v: [{"case": "get", "passed": True, "comparable": [200]}] for v in ("native", "runtime-wasmedge-aot")}
    report.show(results, {"native": "native binary", "runtime-wasmedge-aot": "AOT (LLVM)"})
    text = recorded.export_text()
    assert "runs as" in text and "AOT (LLVM)" in text and "native binary" in text


def test_a_runtime_change_rolls_only_the_runtimeclass_variants():
    native, _ = workloads.variant_objects("native", "img", "ns", 30080, runtimes_at="1796000000")
    crun, _ = workloads.variant_objects("runtime-crun-wasmedge", "img", "ns", 30085, runtimes_at="1796000000")
    assert "annotations" not in native["spec"]["template"]["metadata"]
    assert crun["spec"]["template"]["metadata"]["annotations"] == {
        "wasm-lab.dev/runtimes-changed-at": "1796000000", "module.wasm.image/variant": "compat-smart"}
