"""lab.bench by cluster name on a lab that is up, from a state folder that never saw it (the lab
did not create that cluster as far as this bench knows): a step of tests/e2e/test_lab.py, on the
lab that test brings up. Checks the outputs and that every deployment is back to its replicas
afterwards. No timing is asserted: speed lives in the numbers, not in tests."""
import json
import os
import subprocess
import sys

from lab.kube import Kube

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMESPACE = "wasm-lab"


def lab_deployments(name: str, folder):
    """The kube client of kind cluster `name` (its kubeconfig from kind) and its httpbin
    deployments, every one of them Ready."""
    done = subprocess.run(["kind", "get", "kubeconfig", "--name", name], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    kubeconfig = folder / f"{name}.kubeconfig"
    kubeconfig.write_text(done.stdout)
    kube = Kube(kubeconfig)
    deployments = kube.apps.list_namespaced_deployment(NAMESPACE, label_selector="app.kubernetes.io/part-of=wasm-lab").items
    not_ready = [d.metadata.name for d in deployments if (d.status.ready_replicas or 0) < (d.spec.replicas or 0)]
    assert deployments and not not_ready, f"{name}: not ready: {not_ready}"
    return kube, deployments


def short_bench_measures_and_restores(name: str, tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    kube, deployments = lab_deployments(name, tmp_path)
    before = {d.metadata.name: d.spec.replicas for d in deployments}
    variants = [d.metadata.labels["wasm-lab.dev/variant"] for d in deployments]
    chosen = [v for v in variants if v == "native"] + [v for v in variants if v.startswith("runtime-")][:1]
    output = tmp_path / "bench"
    argv = [sys.executable, "-m", "invoke", "--search-root", REPO, "lab.bench", "--name", name, "--repeat", "2",
            "--requests", "200",
            "--duration", "3", "--concurrency", "1", "--concurrency", "4", "--density", "2", "--quiet-wait", "0", "--output", str(output)]
    for variant in chosen:
        argv += ["--variant", variant]
    env = {**os.environ, "COLUMNS": "200", "WASM_LAB_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    data = json.loads((output / "bench.json").read_text())
    from lab.bench.results import from_dict

    result = from_dict(data)
    assert list(result.variants) == chosen
    for variant in result.variants.values():
        runs = [r for r in variant.cold_start if r.kind in ("first", "repeat")]
        assert len(runs) == 2 and not any(r.error for r in runs), variant.cold_start
        assert all(r.seconds["http_200"] is not None for r in runs)
        assert all(r.probe["ran"] and r.seconds["pod_ip_200"] is not None for r in runs), [r.probe for r in runs]
        assert [level.concurrency for level in variant.load] == [1, 4]
        assert [level.target for level in variant.load_service] == ["service"]
        assert [run.ready for run in variant.density] == [2]
        assert all(level.ok > 0 for level in variant.load), variant.load
        assert variant.image_size is not None and variant.image_size.node_bytes
    html = (output / "bench.html").read_text()
    assert html.count("<svg") >= 5
    assert "| variant |" in (output / "bench.md").read_text()

    after = {d.metadata.name: d for d in kube.apps.list_namespaced_deployment(
        NAMESPACE, label_selector="app.kubernetes.io/part-of=wasm-lab").items}
    for deployment, replicas in before.items():
        assert after[deployment].spec.replicas == replicas
        assert (after[deployment].status.ready_replicas or 0) == replicas, deployment
