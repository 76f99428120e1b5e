"""lab.bench for real, short: on a lab cluster that is already up (this test never creates one).

Runs when `kind get clusters` lists a lab cluster whose httpbin deployments are all Ready in
namespace wasm-lab (candidates: $WASM_LAB_BENCH_CLUSTERS, comma-separated, else wasm-lab and
wasmlab-e2e); skips with the reason otherwise. Checks the outputs and that every deployment is
back to its replicas afterwards. No timing is asserted: speed lives in the numbers, not in tests."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.commands import kind_clusters

pytestmark = [pytest.mark.cluster, pytest.mark.docker]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMESPACE = "wasm-lab"


def _ready_lab(tmp_path):
    if shutil.which("kind") is None:
        pytest.skip("kind is not installed")
    clusters = kind_clusters()
    wanted = os.environ.get("WASM_LAB_BENCH_CLUSTERS", "wasm-lab,wasmlab-e2e").split(",")
    reasons = []
    for name in [c for c in wanted if c in clusters]:
        kubeconfig = tmp_path / f"{name}.kubeconfig"
        config = subprocess.run(["kind", "get", "kubeconfig", "--name", name], capture_output=True, text=True,
                                timeout=60)
        if config.returncode != 0:
            reasons.append(f"{name}: no kubeconfig")
            continue
        kubeconfig.write_text(config.stdout)
        from lab.kube import Kube

        kube = Kube(kubeconfig)
        try:
            deployments = kube.apps.list_namespaced_deployment(
                NAMESPACE, label_selector="app.kubernetes.io/part-of=wasm-lab").items
        except Exception as error:
            reasons.append(f"{name}: {error.__class__.__name__}")
            continue
        not_ready = [d.metadata.name for d in deployments if (d.status.ready_replicas or 0) < (d.spec.replicas or 0)]
        if deployments and not not_ready:
            return name, kube, deployments
        reasons.append(f"{name}: " + (f"not ready: {', '.join(not_ready)}" if deployments else "no httpbin deployments"))
    pytest.skip("no lab cluster is up with its httpbin deployments Ready"
                + (f" ({'; '.join(reasons)})" if reasons else f" (kind lists: {', '.join(clusters) or 'none'})")
                + "; start one with `invoke lab.up`")


def test_short_bench_measures_and_restores(tmp_path):
    name, kube, deployments = _ready_lab(tmp_path)
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
