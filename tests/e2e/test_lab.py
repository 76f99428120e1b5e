"""lab.up → checks → a short lab.bench → idempotent re-run → lab.down, for real: kind, the kit's node image, the
kit's shims, the workload images. Runs only when every kit artifact is built and current, so it
never starts a long kit build; it says which artifact is missing otherwise."""
import json
import os
import tarfile
import time

import docker
import pytest
from kubernetes.client import CoordinationV1Api

from lab import registry
from lab.actions.runtimes import CHANGED_AT
from lab.catalog import load as runtime_catalog
from lab.kube import Kube
from lab.state import State
from lab.workloads import RUNTIMES_AT
from tests.commands import invoke, kind_clusters, output
from tests.e2e.bench_by_name import short_bench_measures_and_restores

pytestmark = [pytest.mark.cluster, pytest.mark.kit, pytest.mark.docker]

NAME = "wasmlab-e2e"


@pytest.fixture(scope="module")
def lab_env(tmp_path_factory, kit_complete, kind_cli):
    folder = tmp_path_factory.mktemp("e2e")
    config = folder / "lab.yaml"
    config.write_text(f"name: {NAME}\nhost_port_base: 31080\nresults_dir: {folder / 'results'}\n"
                      f"runtimes: [{', '.join(runtime_catalog().runtimes)}]\noffline: 'true'\n")
    env = {**os.environ, "WASM_LAB_STATE_DIR": str(folder / "state"), "COLUMNS": "160"}
    yield env, config, folder
    invoke("lab.down", "--config", str(config), "--purge", env=env)


GRACE_SECONDS = 120


def engines_end_on_sigterm(kube: Kube) -> None:
    """The pods of the variants whose engine would be PID 1 and ignore SIGTERM there, deleted with a
    120 s grace period: SIGTERM must end each engine (the kubelet sends it first), so every pod goes
    long before the grace period runs out and the kubelet would kill it. Their Deployments make
    new ones, which the full re-run below waits for."""
    sharing = [v for v, entry in runtime_catalog().variants.items() if entry.share_process_namespace]
    assert sharing, "no variant shares its pod's process namespace"
    asked = []
    for variant in sharing:
        for pod in kube.core.list_namespaced_pod("wasm-lab", label_selector=f"app.kubernetes.io/name=httpbin-{variant}").items:
            if pod.metadata.deletion_timestamp is not None:
                continue  # one the last rollout is ending
            kube.core.delete_namespaced_pod(pod.metadata.name, "wasm-lab", grace_period_seconds=GRACE_SECONDS)
            asked.append(pod.metadata.name)
    assert len(asked) == len(sharing), asked
    started = time.monotonic()
    names = set(asked)
    while names & {p.metadata.name for p in kube.core.list_namespaced_pod("wasm-lab").items}:
        assert time.monotonic() - started < GRACE_SECONDS * 0.75, (
            f"still there {time.monotonic() - started:.0f}s after SIGTERM: "
            f"{sorted(names & {p.metadata.name for p in kube.core.list_namespaced_pod('wasm-lab').items})}")
        time.sleep(1)


def rollouts_end_before_deploy_does(kube: Kube, config, folder, env) -> None:
    """A runtime changed on the nodes (recorded as lab.up records it before a containerd restart):
    workloads.deploy rolls every RuntimeClass variant onto a new pod and returns only once each
    rollout is complete. Mid-rollout the old pod is still Ready and counted ready, takes the checks'
    connections, and is killed under them."""
    State(NAME, root=folder / "state").set(CHANGED_AT, "1")
    rolled, _ = invoke("workloads.deploy", "--config", str(config), env=env)
    assert rolled.returncode == 0, rolled.stdout[-3000:] + rolled.stderr[-3000:]
    for variant, entry in runtime_catalog().variants.items():
        if not entry.runtime_class:
            continue
        pods = kube.core.list_namespaced_pod("wasm-lab", label_selector=f"app.kubernetes.io/name=httpbin-{variant}").items
        changed_at = {p.metadata.name: (p.metadata.annotations or {}).get(RUNTIMES_AT) for p in pods}
        assert list(changed_at.values()) == ["1"], f"{variant}: pods when workloads.deploy returned: {changed_at}"


def job_uids(kube: Kube) -> dict[str, str]:
    return {job.metadata.name: job.metadata.uid for job in kube.batch.list_namespaced_job(
        "wasm-lab", label_selector="app.kubernetes.io/name=wasi-job").items}


def test_up_check_rerun_down(lab_env, capsys):
    env, config, folder = lab_env
    first, first_seconds = invoke("lab.up", "--config", str(config), env=env)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    results = json.loads((folder / "results" / "checks.json").read_text())
    assert results["failures"] == 0
    assert set(results["results"]) == {"native", "embed-wasmedge", "runtime-wasmedge", "embed-wasmtime",
                                       "runtime-wasmtime", "runtime-crun-wasmedge", "embed-wasmedge-aot",
                                       "runtime-wasmedge-aot", "runtime-crun-wasmedge-aot", "artifact-wasmedge",
                                       "artifact-wasmtime"}
    assert results["execution"]["runtime-wasmedge-aot"] == "aot"
    # the artifact variants were pulled by the node's containerd from the lab registry
    pulled = output("docker", "exec", f"{NAME}-worker", "crictl", "images")
    for variant in ("artifact-wasmedge", "artifact-wasmtime"):
        assert f"{registry.container_name(NAME)}:5000/wasm-lab/httpbin   {variant}" in pulled, pulled
    # the WASI job: natively and under each runtime, exit 0 and exit 3, the same lines everywhere
    assert set(results["jobs"]["results"]) == {"native", "wasmedge", "wasmtime", "crun-wasmedge"}
    assert results["jobs"]["failures"] == 0, results["jobs"]

    # A short lab.bench on the fresh lab.
    bench, _ = invoke("lab.bench", "--config", str(config), "--variant", "native", "--variant", "runtime-wasmtime",
                      "--variant", "artifact-wasmedge",
                      "--repeat", "2", "--concurrency", "2", "--requests", "200", "--duration", "3",
                      "--density", "2", "--quiet-wait", "0", "--output", str(folder / "bench"), env=env)
    assert bench.returncode == 0, bench.stdout[-4000:] + bench.stderr[-4000:]
    measured = json.loads((folder / "bench" / "bench.json").read_text())
    assert measured["interrupted"] is False
    assert set(measured["variants"]) == {"native", "runtime-wasmtime", "artifact-wasmedge"}
    for variant in measured["variants"].values():
        assert [(run["kind"], run["error"]) for run in variant["cold_start"]] == [
            ("first", None), ("repeat", None), ("image-removed", None)]
        assert variant["memory"]["idle"] and variant["load"][0]["ok"] > 0
        # timed in the node at the pod IP, loaded by wrk from the other node, scaled to 2
        assert all(run["probe"]["ran"] and run["seconds"]["pod_ip_200"] for run in variant["cold_start"])
        assert variant["load"][0]["target"] == "pod-ip" and variant["load"][0]["client_node"] != variant["node"]
        assert variant["load_service"][0]["ok"] > 0 and variant["load_nodeport"][0]["ok"] > 0
        assert variant["density"][0]["ready"] == 2 and variant["density"][0]["per_pod_node_bytes"]
    assert measured["calibration"] and measured["version"] == 4
    assert measured["variants"]["artifact-wasmedge"]["packaging"] == "artifact"
    # every wasm row says the engine it ran on (schema 3 on); native runs none
    assert measured["variants"]["native"]["engine"] is None
    assert measured["variants"]["runtime-wasmtime"]["engine"]["name"] == "wasmtime"
    assert measured["variants"]["artifact-wasmedge"]["engine"]["name"] == "wasmedge"
    kube = Kube(folder / "state" / NAME / "kubeconfig")
    # one control plane, so no leader election (clusters/kind.yaml): neither component takes a lease
    leases = CoordinationV1Api(kube.api_client).list_namespaced_lease("kube-system").items
    assert {"kube-controller-manager", "kube-scheduler"}.isdisjoint(lease.metadata.name for lease in leases)
    leftovers = kube.core.list_namespaced_pod("wasm-lab", label_selector="app.kubernetes.io/component in "
                                              "(bench-client,bench-responder)").items
    assert not leftovers, [p.metadata.name for p in leftovers]
    # lab.bench --name on the same lab from a state folder that never saw it
    short_bench_measures_and_restores(NAME, folder / "bench-by-name")

    # The single steps and the read-only tasks, on the running lab.
    for task in (["workloads.check"], ["runtimes.install"], ["workloads.deploy"], ["lab.status", "--json"],
                 ["lab.doctor"], ["lab.diagnose", "--output", str(folder / "diagnose")]):
        done, _ = invoke(*task, "--config", str(config), env=env)
        assert done.returncode == 0, f"{task}: " + done.stdout[-3000:] + done.stderr[-3000:]
        if task[0] == "runtimes.install":
            assert "containerd restarted" not in done.stderr
        if task[0] == "lab.status":
            status = json.loads(done.stdout)
            assert status["cluster"] == "present" and set(status["variants"].values()) == {"1/1 ready"}
    rollouts_end_before_deploy_does(kube, config, folder, env)
    bundle = next((folder / "diagnose").glob("wasm-lab-diagnose-*.tar.gz"))
    with tarfile.open(bundle) as tar:
        dumps = [m for m in tar.getnames() if m.endswith(f"{NAME}-worker/containerd-config-dump.toml")]
        assert dumps and b"wasmtime" in tar.extractfile(dumps[0]).read()

    engines_end_on_sigterm(kube)

    again, again_seconds = invoke("lab.up", "--config", str(config), env=env)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
    assert "containerd restarted" not in again.stderr
    assert "reused kind cluster" in again.stderr
    # the collections above each took the record of a settled lab away; the full re-run wrote it
    # back, so this one proves nothing changed and runs only the checks
    jobs_before = job_uids(kube)
    settled, settled_seconds = invoke("lab.up", "--config", str(config), env=env)
    assert settled.returncode == 0, settled.stdout[-4000:] + settled.stderr[-4000:]
    said = " ".join((settled.stdout + settled.stderr).split())
    assert "unchanged since the last lab.up" in said
    assert "▶ runtimes" not in said and "▶ check" in said and "▶ jobs" not in said
    # the WASI Jobs the full re-run judged, reported as such: the same Jobs, none made again
    assert job_uids(kube) == jobs_before and len(jobs_before) == 8
    assert "the same Jobs since, not run again" in said
    results = json.loads((folder / "results" / "checks.json").read_text())
    assert results["jobs_judged_at"] and results["jobs"]["failures"] == 0 and len(results["jobs"]["results"]) == 4
    # a Job deleted (by hand, here) has no answer left to report: every action runs, the Jobs too
    kube.batch.delete_namespaced_job("wasi-job-wasmtime-exit-3", "wasm-lab", propagation_policy="Background")
    remade, _ = invoke("lab.up", "--config", str(config), env=env)
    assert remade.returncode == 0, remade.stdout[-4000:] + remade.stderr[-4000:]
    said = " ".join((remade.stdout + remade.stderr).split())
    assert "job wasi-job-wasmtime-exit-3 is gone" in said and "every action runs" in said and "▶ jobs" in said
    assert set(job_uids(kube).values()).isdisjoint(jobs_before.values())

    down, _ = invoke("lab.down", "--config", str(config), env=env)
    assert down.returncode == 0, down.stderr
    assert NAME not in kind_clusters()
    leftovers = docker.from_env().containers.list(all=True, filters={"label": f"io.x-k8s.kind.cluster={NAME}"})
    assert leftovers == []
    assert docker.from_env().containers.list(all=True, filters={"name": registry.container_name(NAME)}) == []
    assert not (folder / "state" / NAME).exists()
    # what lab.up pushed stays for the next one, said so; --purge takes it too
    assert f"kept the registry storage volume {registry.storage_name(NAME)}" in " ".join(down.stdout.split() + down.stderr.split())
    assert registry.storage_kept(NAME)
    purged, _ = invoke("lab.down", "--config", str(config), "--purge", env=env)
    assert purged.returncode == 0, purged.stderr
    assert f"removed registry storage volume {registry.storage_name(NAME)}" in purged.stdout
    assert docker.from_env().volumes.list(filters={"name": registry.storage_name(NAME)}) == []
    with capsys.disabled():
        print(f"\ne2e: first lab.up {first_seconds:.0f}s, full re-run {again_seconds:.0f}s, "
              f"proved unchanged {settled_seconds:.0f}s")
