"""Memory: a pod's working set from the kubelet's stats summary, waited for until fresh."""
from __future__ import annotations

import json

from lab.bench.probe import epoch
from lab.bench.results import MemorySample
from lab.errors import LabError
from lab.waits import wait_until


def stats_summary(kube, node: str) -> dict:
    """The kubelet's stats summary of `node`, through the API server's node proxy."""
    response = kube.core.connect_get_node_proxy_with_path(node, "stats/summary", _preload_content=False,
                                                          _request_timeout=30)
    return json.loads(response.data)


def memory_of(summary: dict, namespace: str, pod_name: str) -> MemorySample | None:
    for pod in summary.get("pods", []):
        ref = pod.get("podRef", {})
        if ref.get("namespace") != namespace or ref.get("name") != pod_name:
            continue
        containers = {}
        times = []
        for container in pod.get("containers", []) or []:
            memory = container.get("memory") or {}
            containers[container["name"]] = {"working_set_bytes": memory.get("workingSetBytes"),
                                             "rss_bytes": memory.get("rssBytes"),
                                             "usage_bytes": memory.get("usageBytes")}
            if memory.get("time"):
                times.append(memory["time"])
        pod_memory = pod.get("memory") or {}
        if pod_memory.get("time"):
            times.append(pod_memory["time"])
        return MemorySample(pod_working_set_bytes=pod_memory.get("workingSetBytes"), containers=containers,
                            time=max(times) if times else None)
    return None


def wait_memory(kube, node: str, namespace: str, pod_name: str, not_before: float | None = None,
                timeout: float = 40, interval: float = 2) -> tuple[MemorySample | None, str | None]:
    """A memory sample of the pod taken at or after `not_before` (epoch seconds).

    The kubelet refreshes its numbers every 10-15 s, so this may wait that long. Returns the
    sample and, when it could not get a fresh one, a note saying what it returned instead."""
    latest = None

    def fresh():
        nonlocal latest
        sample = memory_of(stats_summary(kube, node), namespace, pod_name)
        # A running pod always has some memory: 0 means its containers are not in its cgroup.
        if sample is None or not sample.pod_working_set_bytes and not any(
                c["working_set_bytes"] for c in sample.containers.values()):
            return None
        latest = sample
        if not sample.pod_working_set_bytes:
            return None  # a new pod: the kubelet has container numbers before its pod total
        taken = epoch(sample.time) if sample.time else None
        return sample if not_before is None or (taken is not None and taken >= not_before) else None

    try:
        return wait_until(fresh, timeout, "", interval=interval), None
    except LabError:
        if latest is not None and not latest.pod_working_set_bytes:
            return latest, f"the kubelet had no pod total within {timeout:.0f}s; the containers' sum is shown"
        if latest is not None:
            return latest, f"no sample newer than the load's end within {timeout:.0f}s; kept the sample of {latest.time}"
        return None, (f"the kubelet's stats summary had no memory above 0 for pod {pod_name} within {timeout:.0f}s; "
                      "its container may run outside the pod's cgroup (docs/bench.md, 'Memory')")
