"""Density: a variant scaled from 0 to N replicas; how long until all are Ready, how many never
were, and how much the nodes' memory grew per pod.

Memory is the node's working set from the kubelet's stats summary (the node's root cgroup), before
and after, summed over the nodes the pods landed on: it holds the pods and what runs for them
outside their cgroups (a runwasi shim process per pod, containerd's bookkeeping), which the pods'
own working sets leave out. Both are reported."""
from __future__ import annotations

import time
from collections import Counter

from lab.bench.memory import stats_summary
from lab.bench.probe import epoch
from lab.bench.results import DensityRun
from lab.bench.targets import Target, live_pods, scale, scale_to_zero
from lab.errors import LabError
from lab.waits import wait_until

SETTLE = 5.0    # seconds after the last pod is Ready before memory counts (shims finish loading)


def _ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


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


def density(kube, target: Target, replicas: int, timeout: float | None = None) -> DensityRun:
    """Scale to 0, sample the nodes, scale to `replicas`, wait, sample again. Leaves `replicas`
    running; the caller restores the Deployment."""
    timeout = timeout or 60 + 3 * replicas
    all_nodes = [n.metadata.name for n in kube.core.list_node().items]
    scale_to_zero(kube, target)
    before = node_memory(kube, all_nodes, not_before=time.time())
    requested = time.time()
    scale(kube, target, replicas)
    done_at: float | None = None
    error = None

    def all_ready():
        pods = live_pods(kube, target)
        return len(pods) >= replicas and all(_ready(p) for p in pods)

    try:
        wait_until(all_ready, timeout, f"{target.variant}: not all {replicas} pods Ready within {timeout:.0f}s",
                   interval=0.25)
        done_at = time.time()
    except LabError as failure:
        error = str(failure)
    pods = live_pods(kube, target)
    nodes = sorted({p.spec.node_name for p in pods if p.spec.node_name})
    failed = Counter(reason for reason in (failure_reason(p) for p in pods if not _ready(p)) if reason)
    after: dict[str, int] = {}
    try:
        after = node_memory(kube, nodes, not_before=(done_at or time.time()) + SETTLE, timeout=60 + SETTLE)
    except LabError as failure:
        error = error or str(failure)
    return DensityRun(replicas=replicas, ready=sum(1 for p in pods if _ready(p)), failed=dict(failed),
                      seconds_to_ready=round(done_at - requested, 3) if done_at else None, nodes=nodes,
                      node_working_set_before=sum(before[n] for n in nodes) if nodes and after else None,
                      node_working_set_after=sum(after[n] for n in nodes) if nodes and after else None,
                      pods_working_set=pods_memory(kube, nodes, target) if nodes else None, error=error)
