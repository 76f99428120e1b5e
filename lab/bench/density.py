"""Density: N pods of a variant at once; how long until all are Ready, how many never were, and
how much the nodes' memory grew per pod.

The N pods belong to a copy of the variant's Deployment made for the measure (same pod template:
image, RuntimeClass, annotations, env, probes, memory request and limit), minus its CPU request,
which would otherwise cap N at the node's CPUs / 50m whatever the runtime. Its pods carry none of
the variant's labels, so its Service never sends them traffic; the copy carries the lab's mark and
is deleted after the measure (and, left by an interrupted bench, before the next one).

Memory is the node's working set from the kubelet's stats summary (the node's root cgroup), before
and after, summed over the nodes the pods landed on: it holds the pods and what runs for them
outside their cgroups (a runwasi shim process per pod, containerd's bookkeeping), which the pods'
own working sets leave out. Both are reported."""
from __future__ import annotations

import copy
import dataclasses
import time
from collections import Counter

from lab.bench.memory import stats_summary
from lab.bench.probe import epoch
from lab.bench.results import DensityRun
from lab.bench.targets import Target, is_ready, live_pods
from lab.errors import LabError
from lab.kube import MANAGED_BY
from lab.waits import wait_until

SETTLE = 5.0    # seconds after the last pod is Ready before memory counts (shims finish loading)
COMPONENT = "app.kubernetes.io/component"
ROLE = "bench-density"


def copy_manifest(deployment: dict, replicas: int) -> dict:
    """The variant's Deployment as the density copy (pure)."""
    name = f"{deployment['metadata']['name']}-density"
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "wasm-lab", COMPONENT: ROLE}
    template = copy.deepcopy(deployment["spec"]["template"])
    template["metadata"] = {"labels": labels, "annotations": dict(template.get("metadata", {}).get("annotations") or {})}
    template["spec"]["terminationGracePeriodSeconds"] = 1
    for container in template["spec"]["containers"]:
        (container.get("resources") or {}).get("requests", {}).pop("cpu", None)
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": deployment["metadata"]["namespace"], "labels": {**MANAGED_BY, **labels}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                     "template": template}}


def remove_copies(kube, namespace: str, lab: str, timeout: float = 180) -> list[str]:
    """Delete this lab's density copies and wait until their pods are gone; never another lab's."""
    gone = []
    for deployment in kube.apps.list_namespaced_deployment(namespace, label_selector=f"{COMPONENT}={ROLE}").items:
        name = deployment.metadata.name
        if kube.delete_owned("apps/v1", "Deployment", name, lab, namespace):
            gone.append(name)
    if gone:
        wait_until(lambda: not kube.core.list_namespaced_pod(namespace, label_selector=f"{COMPONENT}={ROLE}").items,
                   timeout, f"pods of {', '.join(gone)} were still there after deleting it")
    return gone


def failure_reason(pod) -> str | None:
    """Why a pod is not starting, when the API says (pure)."""
    for condition in pod.status.conditions or []:
        if condition.type == "PodScheduled" and condition.status == "False":
            return condition.reason or "Unschedulable"
    for status in pod.status.container_statuses or []:
        state = status.state
        if state and state.waiting and state.waiting.reason not in (None, "ContainerCreating"):
            return state.waiting.reason
        if state and state.terminated:
            return state.terminated.reason or "Terminated"
    return "Failed" if pod.status.phase == "Failed" else None


def node_memory(kube, nodes: list[str], not_before: float, timeout: float = 60) -> dict[str, int]:
    """Each node's working set from a kubelet sample taken at or after `not_before` (epoch s)."""
    found: dict[str, int] = {}

    def fresh():
        for node in nodes:
            if node in found:
                continue
            memory = (stats_summary(kube, node).get("node") or {}).get("memory") or {}
            taken = epoch(memory["time"]) if memory.get("time") else None
            if memory.get("workingSetBytes") is not None and taken is not None and taken >= not_before:
                found[node] = int(memory["workingSetBytes"])
        return len(found) == len(nodes)

    wait_until(fresh, timeout, f"no fresh memory sample of {', '.join(n for n in nodes if n not in found)}",
               interval=1)
    return found


def pods_memory(kube, nodes: list[str], target: Target) -> int:
    names = {p.metadata.name for p in live_pods(kube, target)}
    total = 0
    for node in nodes:
        for pod in stats_summary(kube, node).get("pods", []):
            ref = pod.get("podRef", {})
            if ref.get("namespace") == target.namespace and ref.get("name") in names:
                total += int((pod.get("memory") or {}).get("workingSetBytes") or 0)
    return total


def density(kube, target: Target, replicas: int, lab: str, timeout: float | None = None) -> DensityRun:
    """Sample the nodes, create the copy at `replicas`, wait until all are Ready, sample again,
    delete the copy."""
    timeout = timeout or 60 + 3 * replicas
    deployment = kube.read("apps/v1", "Deployment", target.deployment, target.namespace)
    if deployment is None:
        raise LabError(f"{target.deployment} is gone from {target.namespace}")
    body = copy_manifest(deployment, replicas)
    copy_target = dataclasses.replace(target, deployment=body["metadata"]["name"],
                                      selector=f"app.kubernetes.io/name={body['metadata']['name']}")
    all_nodes = [n.metadata.name for n in kube.core.list_node().items]
    before = node_memory(kube, all_nodes, not_before=time.time())
    requested = time.time()
    kube.apply_owned(body, lab)
    try:
        return _measure(kube, copy_target, replicas, timeout, before, requested)
    finally:
        remove_copies(kube, target.namespace, lab)


def _measure(kube, target: Target, replicas: int, timeout: float, before: dict[str, int],
             requested: float) -> DensityRun:
    done_at: float | None = None
    error = None

    def all_ready():
        pods = live_pods(kube, target)
        return len(pods) >= replicas and all(is_ready(p) for p in pods)

    try:
        wait_until(all_ready, timeout, f"{target.variant}: not all {replicas} pods Ready within {timeout:.0f}s",
                   interval=0.25)
        done_at = time.time()
    except LabError as failure:
        error = str(failure)
    pods = live_pods(kube, target)
    nodes = sorted({p.spec.node_name for p in pods if p.spec.node_name})
    failed = Counter(reason for reason in (failure_reason(p) for p in pods if not is_ready(p)) if reason)
    after: dict[str, int] = {}
    try:
        after = node_memory(kube, nodes, not_before=(done_at or time.time()) + SETTLE, timeout=60 + SETTLE)
    except LabError as failure:
        error = error or str(failure)
    return DensityRun(replicas=replicas, ready=sum(1 for p in pods if is_ready(p)), failed=dict(failed),
                      seconds_to_ready=round(done_at - requested, 3) if done_at else None, nodes=nodes,
                      node_working_set_before=sum(before[n] for n in nodes) if nodes and after else None,
                      node_working_set_after=sum(after[n] for n in nodes) if nodes and after else None,
                      pods_working_set=pods_memory(kube, nodes, target) if nodes else None, error=error)
