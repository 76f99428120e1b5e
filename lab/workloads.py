"""Kubernetes objects for the lab, built from the YAML files under workloads/httpbin/k8s."""
from __future__ import annotations

import requests
import yaml
from tenacity import RetryError, retry, retry_if_result, stop_after_delay, wait_fixed

from lab import REPO_ROOT
from lab.errors import LabError

MANIFESTS = REPO_ROOT / "workloads" / "httpbin" / "k8s"
# crun chooses its wasm handler from this annotation; compat-smart runs .wasm entrypoints as wasm.
CRUN_WASM_ANNOTATION = {"module.wasm.image/variant": "compat-smart"}
WASMTIME_LISTEN_ENV = "WASMTIME_HTTP_PROXY_SOCKET_ADDR"
RUNTIMES_AT = "wasm-lab.dev/runtimes-changed-at"


def _fill(text: str, **values) -> list[dict]:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def runtime_class(handler: str) -> dict:
    return _fill((MANIFESTS / "runtimeclass.yaml").read_text(), HANDLER=handler)[0]


def variant_runtime_class(variant: str) -> str | None:
    """runtime-<handler> variants run through that RuntimeClass; the others on the default runc."""
    return variant.removeprefix("runtime-") if variant.startswith("runtime-") else None


def variant_objects(variant: str, image: str, namespace: str, node_port: int, runtimes_at: str = "") -> list[dict]:
    """A variant's Deployment and Service. `runtimes_at` (when the lab last changed a runtime on
    the nodes) goes into the pod template of the RuntimeClass variants, so a change rolls them onto
    fresh sandboxes instead of leaving a pod in the kubelet's back-off."""
    deployment, service = _fill((MANIFESTS / "variant.yaml").read_text(), VARIANT=variant, IMAGE=image)
    for obj in (deployment, service):
        obj["metadata"]["namespace"] = namespace
    pod = deployment["spec"]["template"]
    handler = variant_runtime_class(variant)
    if handler:
        pod["spec"]["runtimeClassName"] = handler
        if runtimes_at:
            pod["metadata"].setdefault("annotations", {})[RUNTIMES_AT] = runtimes_at
    if handler == "crun-wasmedge":
        pod["metadata"].setdefault("annotations", {}).update(CRUN_WASM_ANNOTATION)
    if handler == "wasmtime":
        pod["spec"]["containers"][0]["env"].append({"name": WASMTIME_LISTEN_ENV, "value": "0.0.0.0:3000"})
    service["spec"]["ports"][0]["nodePort"] = node_port
    return [deployment, service]


def namespace_object(namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": namespace, "labels": {"app.kubernetes.io/managed-by": "wasm-lab"}}}


def wait_answering(base_url: str, flavor: str, timeout: float = 90) -> None:
    """Ready means answering: GET /version through the address the checks use returns this
    variant's flavor (a Ready pod can precede the NodePort route by seconds)."""
    last = {"why": "no answer yet"}

    @retry(stop=stop_after_delay(timeout), wait=wait_fixed(0.5), retry=retry_if_result(lambda ok: not ok))
    def answered() -> bool:
        try:
            response = requests.get(f"{base_url}/version", timeout=3)
            answer = response.json() if response.status_code == 200 else {}
        except (requests.RequestException, ValueError) as error:
            last["why"] = f"{error.__class__.__name__}"
            return False
        last["why"] = f"HTTP {response.status_code}, flavor {answer.get('flavor')!r}"
        return answer.get("flavor") == flavor

    try:
        answered()
    except RetryError:
        raise LabError(f"{flavor} never answered on {base_url}/version within {timeout:.0f}s (last: {last['why']})")
