"""lab.up, lab.down and lab.status over the pipeline, the state file and the provider."""
from __future__ import annotations

import shutil
from pathlib import Path

import docker

from lab import artifacts, providers, shims, workloads
from lab.actions import UP
from lab.kube import Kube
from lab.lock import LockFile
from lab.pipeline import Context, run_actions
from lab.proc import console
from lab.spec import LabSpec
from lab.state import State


def run(spec: LabSpec, actions) -> Context:
    LockFile.load(Path(spec.lock))  # a corrupt lab.lock is bad input: said before anything is created
    provider = providers.get(spec.provider)
    provider.preflight(spec)  # e.g. an unknown --context: said before any artifact is built
    state = State(spec.name)
    state.set("spec", {"provider": spec.provider, "namespace": spec.namespace})
    ctx = Context(spec=spec, state=state, provider=provider)
    run_actions(ctx, actions)
    return ctx


def up(spec: LabSpec) -> Context:
    return run(spec, UP)


def uninstall_runtimes(spec: LabSpec) -> list[str]:
    """Take the spec's runtimes off the wasm nodes: containerd config restored, files, labels, RuntimeClass."""
    state = State(spec.name)
    provider = providers.get(spec.provider)
    if not provider.exists(spec):
        return []
    cluster = provider.ensure(spec, None, state)
    kube = Kube(cluster.kubeconfig, cluster.context)
    catalog = artifacts.runtimes_catalog()
    removed = []
    for runtime in spec.runtimes:
        definition = catalog[runtime]
        for node in cluster.wasm_nodes:
            if shims.uninstall(node, definition):
                removed.append(f"{runtime} from {node.name}")
            label = shims.INSTALLED_LABEL.format(handler=definition["handler"])
            kube.core.patch_node(node.name, {"metadata": {"labels": {label: None}}})
        if kube.delete("node.k8s.io/v1", "RuntimeClass", definition["handler"]):
            removed.append(f"RuntimeClass {definition['handler']}")
        state.set("runtimes_installed", [r for r in state.get("runtimes_installed", []) if r != runtime])
    return removed


def down(spec: LabSpec) -> list[str]:
    """Remove what the state says the lab created: the cluster, its kubeconfig, its image tags."""
    state = State(spec.name)
    removed = []
    provider = providers.get(spec.provider)
    removed += provider.teardown(spec, state, artifacts.runtimes_catalog())
    if state.get("cluster_created") or state.get("cluster_creating"):
        removed += provider.delete(spec, state)
    client = docker.from_env()
    users = {ref: other for other in state.others() for ref in other.get("images_used", [])}
    for tag in state.get("images", []):
        if tag in users:
            users[tag].add("images", tag)  # the last lab using a tag removes it
            console.print(f"kept image tag {tag}: lab {users[tag].dir.name} uses it")
            continue
        try:
            client.images.remove(tag)
            removed.append(f"image tag {tag}")
        except docker.errors.ImageNotFound:
            pass
    if state.dir.exists():
        shutil.rmtree(state.dir)
        removed.append(f"state and kubeconfig in {state.dir}")
    return removed


def status(spec: LabSpec) -> dict:
    state = State(spec.name)
    provider = providers.get(spec.provider)
    info = {"name": spec.name, "cluster": "absent", "actions": state.get("actions", {}),
            "runtimes": state.get("runtimes_installed", []), "variants": {}}
    if not provider.exists(spec) or not state.get("kubeconfig"):
        return info
    info["cluster"] = "present"
    kube = Kube(state.get("kubeconfig"))
    namespace = state.get("namespace", spec.namespace)
    for deployment in kube.apps.list_namespaced_deployment(namespace, label_selector="app.kubernetes.io/part-of=wasm-lab").items:
        variant = deployment.metadata.labels.get("wasm-lab.dev/variant", deployment.metadata.name)
        info["variants"][variant] = f"{deployment.status.ready_replicas or 0}/{deployment.spec.replicas} ready"
    return info
