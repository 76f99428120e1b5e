"""Load from inside the cluster: wrk in a pod of the lab's load-generator image (images/kit/loadgen,
Debian's wrk and nginx), aimed at a pod IP or a ClusterIP, never through a host port mapping.

wrk because it is the load generator with the least client cost per request (one epoll loop per
thread, written in C, HdrHistogram-style percentiles), packaged by Debian, so the client stays
far from the servers' speed. Every run also measures the same wrk against a trivial responder
(nginx answering `200 ok`) on the node under test: its throughput is the client's ceiling on that
path, and a level that reaches half of it is marked client-bound.

The client pod runs on another node than the one under test when the cluster has one; otherwise it
shares the node with a CPU limit, and the result says so. Both pods carry the lab's marks and are
deleted when the bench ends (and any leftover of an interrupted bench when the next one starts)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import partial

from lab.bench.results import LoadLevel
from lab.bench.targets import is_ready
from lab.errors import LabError
from lab.kube import MANAGED_BY, OWNER, delete_if_present, read_if_present, websocket_exec
from lab.waits import wait_until

COMPONENT = "app.kubernetes.io/component"
ROLES = ("bench-client", "bench-responder")
RESPONDER_PORT = 8080
REPORT_SCRIPT = "/usr/share/wasm-lab/report.lua"
SHARED_NODE_CPU = "1"       # the client's CPU limit when it must share the node under test
CLIENT_BOUND = 0.5          # a level at or above this share of the ceiling is client-bound


@dataclass
class Placement:
    node: str               # where the client runs
    shares_node: bool       # on the node under test (then CPU-limited)
    cpu_limit: str | None


def place_client(nodes: list[str], under_test: str) -> Placement:
    """Another node than the one under test when there is one (pure)."""
    others = [n for n in nodes if n != under_test]
    if others:
        return Placement(node=others[0], shares_node=False, cpu_limit=None)
    return Placement(node=under_test, shares_node=True, cpu_limit=SHARED_NODE_CPU)


def pod_name(role: str, node: str) -> str:
    return f"wasm-lab-{role}-{hashlib.sha256(node.encode()).hexdigest()[:8]}"


def pod_manifest(lab: str, role: str, node: str, image: str, cpu_limit: str | None) -> dict:
    """The client (wrk, idle until exec'd) or the responder (nginx) pinned to `node` (pure)."""
    command = (["nginx", "-c", "/etc/wasm-lab/responder.conf"] if role == "bench-responder"
               else ["sleep", "infinity"])
    container: dict = {"name": role, "image": image, "imagePullPolicy": "IfNotPresent", "command": command}
    if cpu_limit:
        container["resources"] = {"limits": {"cpu": cpu_limit}, "requests": {"cpu": "100m"}}
    if role == "bench-responder":
        container["ports"] = [{"containerPort": RESPONDER_PORT}]
        container["readinessProbe"] = {"tcpSocket": {"port": RESPONDER_PORT}, "periodSeconds": 1}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name(role, node),
                         "labels": {**MANAGED_BY, "app.kubernetes.io/part-of": "wasm-lab", COMPONENT: role},
                         "annotations": {OWNER: lab}},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": node},
                     # the wasm pool is tainted; the bench's own pods go wherever it puts them
                     "tolerations": [{"operator": "Exists"}],
                     "terminationGracePeriodSeconds": 1, "enableServiceLinks": False,
                     "containers": [container]}}


def wrk_argv(url: str, concurrency: int, duration: float, threads: int = 2) -> list[str]:
    threads = max(1, min(threads, concurrency))
    return ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "--latency",
            "-s", REPORT_SCRIPT, url]


def parse_wrk(output: str, concurrency: int, target: str) -> LoadLevel:
    """wrk's last stdout line is report.lua's JSON summary (pure)."""
    lines = [line for line in output.strip().splitlines() if line.startswith("{")]
    if not lines:
        raise LabError(f"wrk printed no summary: {output.strip()[-200:]}")
    data = json.loads(lines[-1])
    errors = data.get("errors", {})
    failed = sum(int(errors.get(k) or 0) for k in ("connect", "read", "write", "status", "timeout"))
    seconds = data["duration_us"] / 1e6
    answered = int(data["requests"])
    ok = max(0, answered - int(errors.get("status") or 0))
    latency = {key: (value / 1000 if value is not None else None)
               for key, value in (data.get("latency_us") or {}).items()}
    return LoadLevel(concurrency=concurrency, requests=answered, ok=ok, errors=failed, seconds=round(seconds, 4),
                     throughput=round(ok / seconds, 2) if seconds > 0 else 0.0, latency_ms=latency,
                     stopped_by="duration", target=target, client="wrk",
                     error_sample=", ".join(f"{k} {v}" for k, v in errors.items() if v) or None)


class InClusterLoad:
    """The bench's client and responder pods, made on first need, deleted by `close`."""

    def __init__(self, kube, namespace: str, lab: str, image: str, nodes: list[str], load_image=None):
        self.kube, self.namespace, self.lab, self.image, self.nodes = kube, namespace, lab, image, nodes
        self.load_image = load_image     # (node name) -> None: puts the image into that node
        self.made: dict[str, dict] = {}  # pod name -> its status (IP, node)
        self.ceilings: dict[tuple[str, int], LoadLevel] = {}
        self.remove_leftovers()

    def _selector(self) -> str:
        return f"app.kubernetes.io/part-of=wasm-lab,{COMPONENT} in ({','.join(ROLES)})"

    def remove_leftovers(self) -> list[str]:
        """Delete the bench pods this lab left behind (an interrupted run); never anyone else's."""
        gone = []
        for pod in self.kube.core.list_namespaced_pod(self.namespace, label_selector=self._selector()).items:
            if (pod.metadata.annotations or {}).get(OWNER) != self.lab:
                continue
            if delete_if_present(partial(self.kube.core.delete_namespaced_pod, pod.metadata.name, self.namespace,
                                         grace_period_seconds=1)):
                gone.append(pod.metadata.name)
        for name in gone:
            wait_until(lambda name=name: self._absent(name), 60, f"bench pod {name} was still there after deletion")
        self.made.clear()
        return gone

    def _absent(self, name: str) -> bool:
        return read_if_present(lambda: self.kube.core.read_namespaced_pod(name, self.namespace)) is None

    def _ensure(self, role: str, node: str, cpu_limit: str | None) -> dict:
        name = pod_name(role, node)
        if name in self.made:
            return self.made[name]
        if self.load_image:
            self.load_image(node)
        self.kube.core.create_namespaced_pod(self.namespace, pod_manifest(self.lab, role, node, self.image, cpu_limit))

        def running():
            pod = self.kube.core.read_namespaced_pod(name, self.namespace)
            return pod if is_ready(pod) and pod.status.pod_ip else None

        pod = wait_until(running, 120, f"bench pod {name} on {node} never became Ready")
        self.made[name] = {"name": name, "ip": pod.status.pod_ip, "node": node}
        return self.made[name]

    def client(self, under_test: str) -> tuple[dict, Placement]:
        placement = place_client(self.nodes, under_test)
        return self._ensure("bench-client", placement.node, placement.cpu_limit), placement

    def run(self, under_test: str, url: str, concurrency: int, duration: float, target: str) -> LoadLevel:
        client, placement = self.client(under_test)
        done = websocket_exec(self.kube.core, client["name"], self.namespace, wrk_argv(url, concurrency, duration),
                              None, timeout=duration + 60)
        if done.returncode != 0:
            raise LabError(f"wrk against {url} exited {done.returncode}: {(done.stderr or done.stdout).strip()[-200:]}")
        level = parse_wrk(done.stdout, concurrency, target)
        level.client_node = placement.node
        level.client_cpu_limit = placement.cpu_limit
        return level

    def ceiling(self, under_test: str, concurrency: int, duration: float) -> LoadLevel:
        """wrk against the trivial responder on the node under test, once per node and level."""
        key = (under_test, concurrency)
        if key not in self.ceilings:
            responder = self._ensure("bench-responder", under_test, None)
            self.ceilings[key] = self.run(under_test, f"http://{responder['ip']}:{RESPONDER_PORT}/", concurrency,
                                          duration, "responder")
        return self.ceilings[key]

    def close(self) -> list[str]:
        return self.remove_leftovers()


def mark_client_bound(level: LoadLevel, ceiling: LoadLevel | None) -> LoadLevel:
    if ceiling is not None and ceiling.throughput > 0:
        level.ceiling = ceiling.throughput
        level.client_bound = level.throughput >= CLIENT_BOUND * ceiling.throughput
    return level
