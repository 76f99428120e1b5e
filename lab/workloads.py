"""Kubernetes objects for the lab, built from the YAML files under workloads/httpbin/k8s."""
from __future__ import annotations

import yaml

from lab import REPO_ROOT

MANIFESTS = REPO_ROOT / "workloads" / "httpbin" / "k8s"
# crun chooses its wasm handler from this annotation; compat-smart runs .wasm entrypoints as wasm.
CRUN_WASM_ANNOTATION = {"module.wasm.image/variant": "compat-smart"}
WASMTIME_LISTEN_ENV = "WASMTIME_HTTP_PROXY_SOCKET_ADDR"


def _fill(text: str, **values) -> list[dict]:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def runtime_class(handler: str) -> dict:
    return _fill((MANIFESTS / "runtimeclass.yaml").read_text(), HANDLER=handler)[0]


def variant_runtime_class(variant: str) -> str | None:
    """runtime-<handler> variants run through that RuntimeClass; the others on the default runc."""
    return variant.removeprefix("runtime-") if variant.startswith("runtime-") else None


def variant_objects(variant: str, image: str, namespace: str, node_port: int) -> list[dict]:
    deployment, service = _fill((MANIFESTS / "variant.yaml").read_text(), VARIANT=variant, IMAGE=image)
    for obj in (deployment, service):
        obj["metadata"]["namespace"] = namespace
    pod = deployment["spec"]["template"]
    handler = variant_runtime_class(variant)
    if handler:
        pod["spec"]["runtimeClassName"] = handler
    if handler == "crun-wasmedge":
        pod["metadata"]["annotations"] = dict(CRUN_WASM_ANNOTATION)
    if handler == "wasmtime":
        pod["spec"]["containers"][0]["env"].append({"name": WASMTIME_LISTEN_ENV, "value": "0.0.0.0:3000"})
    service["spec"]["ports"][0]["nodePort"] = node_port
    return [deployment, service]


def namespace_object(namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": namespace, "labels": {"app.kubernetes.io/managed-by": "wasm-lab"}}}
