"""Kubernetes objects for the lab, built from the YAML files under workloads/httpbin/k8s."""
from __future__ import annotations

import requests
import yaml
from tenacity import RetryError, retry, retry_if_result, stop_after_delay, wait_fixed

from lab import REPO_ROOT, catalog
from lab.errors import LabError
from lab.kube import OWNER

MANIFESTS = REPO_ROOT / "workloads" / "httpbin" / "k8s"
RUNTIMES_AT = "wasm-lab.dev/runtimes-changed-at"
EXECUTION_LABEL = "wasm-lab.dev/execution"
ARTIFACT_ARGV0 = "httpbin.wasm"


def fill_manifest(filename: str, **values) -> list[dict]:
    """The objects of one manifest under workloads/httpbin/k8s, its placeholders replaced."""
    text = (MANIFESTS / filename).read_text()
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def runtime_class(handler: str) -> dict:
    return fill_manifest("runtimeclass.yaml", HANDLER=handler)[0]


def variant_objects(variant: str, image: str, namespace: str, node_port: int, runtimes_at: str = "",
                    lab: str = "") -> list[dict]:
    """A variant's Deployment and Service. `runtimes_at` (when the lab last changed a runtime on
    the nodes) goes into the pod template of the RuntimeClass variants, so a change rolls them onto
    fresh sandboxes instead of leaving a pod in the kubelet's back-off. The pods carry their lab's
    owner mark, so after a containerd restart the lab knows which pods it may recreate."""
    deployment, service = fill_manifest("variant.yaml", VARIANT=variant, IMAGE=image)
    for obj in (deployment, service):
        obj["metadata"]["namespace"] = namespace
    pod = deployment["spec"]["template"]
    if lab:
        pod["metadata"].setdefault("annotations", {})[OWNER] = lab
    entry = catalog.load().variants[variant]
    # how its code runs, for `kubectl get deployments -L wasm-lab.dev/execution` (not on the pods:
    # a change of label would roll them)
    deployment["metadata"]["labels"][EXECUTION_LABEL] = entry.execution
    if entry.runtime_class:
        pod["spec"]["runtimeClassName"] = entry.runtime_class
        if runtimes_at:
            pod["metadata"].setdefault("annotations", {})[RUNTIMES_AT] = runtimes_at
    if entry.pod_annotations:
        pod["metadata"].setdefault("annotations", {}).update(entry.pod_annotations)
    if entry.share_process_namespace:
        pod["spec"]["shareProcessNamespace"] = True
    if entry.delivery == "artifact":
        # an artifact has no entrypoint: the shim runs its wasm layer, argv[0] names the module
        pod["spec"]["containers"][0]["command"] = [ARTIFACT_ARGV0]
    pod["spec"]["containers"][0]["env"] += [{"name": k, "value": v} for k, v in entry.env.items()]
    service["spec"]["ports"][0]["nodePort"] = node_port
    return [deployment, service]


def namespace_object(namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": namespace, "labels": {"app.kubernetes.io/managed-by": "wasm-lab"}}}


def wait_answering(base_url: str, variant: str, timeout: float = 90) -> None:
    """Ready means answering: GET /version through the address the checks use names this variant
    in its `flavor` field (a Ready pod can precede the NodePort route by seconds)."""
    last = {"why": "no answer yet"}

    @retry(stop=stop_after_delay(timeout), wait=wait_fixed(0.5), retry=retry_if_result(lambda ok: not ok))
    def answered() -> bool:
        try:
            response = requests.get(f"{base_url}/version", timeout=3)
            answer = response.json() if response.status_code == 200 else {}
        except (requests.RequestException, ValueError) as error:
            last["why"] = f"{error.__class__.__name__}"
            return False
        last["why"] = f"HTTP {response.status_code}, variant {answer.get('flavor')!r}"
        return answer.get("flavor") == variant

    try:
        answered()
    except RetryError:
        raise LabError(f"{variant} never answered on {base_url}/version within {timeout:.0f}s (last: {last['why']})")
