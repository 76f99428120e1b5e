"""Cold starts: a variant scaled from zero and followed three ways at once: the pod watch (created,
scheduled, running, Ready), a probe inside the node (the CRI's sandbox and container times and the
first HTTP 200 at the pod IP, lab/bench/probe.py) and the host asking the NodePort (the first 200
a user sees, which also waits for the Service). Every time is on the wall clock, in seconds after
the watch saw the pod created; kind and minikube nodes share the host's kernel clock."""
from __future__ import annotations

import http.client
import threading
import time

from kubernetes import watch

from lab.bench.probe import INTERVAL, NodeProbe
from lab.bench.results import NODE_PHASES, PHASES, ColdStartRun
from lab.bench.targets import Target, is_ready, scale, scale_to_zero
from lab.errors import LabError
from lab.waits import wait_until

# Waiting reasons after which a pod will not start by itself within a bench run.
HOPELESS = {"ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff", "CreateContainerError",
            "CreateContainerConfigError", "RunContainerError", "InvalidImageName", "ErrImageNeverPull"}
PROBE_INTERVAL = 0.02   # host-side polling for the first HTTP 200
PROBE_TIMEOUT = 1.0
WATCH_SETTLE = 0.5


def http_ok(port: int, path: str = "/get", host: str = "127.0.0.1") -> bool:
    """One GET on host:port on a fresh connection: True for HTTP 200."""
    connection = http.client.HTTPConnection(host, port, timeout=PROBE_TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


class PodWatcher(threading.Thread):
    """Watches a variant's pods and notes, on the wall clock, when each phase is first seen; calls
    `on_scheduled(pod name, node name)` once, as soon as the pod has a node."""

    def __init__(self, kube, target: Target, resource_version: str, timeout: float, on_scheduled=None):
        super().__init__(daemon=True, name=f"bench-watch-{target.variant}")
        self.kube, self.target, self.resource_version, self.timeout = kube, target, resource_version, timeout
        self.seen: dict[str, float] = {}
        self.pod = None
        self.problem: str | None = None
        self.error: Exception | None = None
        self.ready = threading.Event()
        self.on_scheduled = on_scheduled
        self._watch = watch.Watch()

    def _mark(self, phase: str, when: float) -> None:
        self.seen.setdefault(phase, when)

    def run(self):
        try:
            for event in self._watch.stream(
                    self.kube.core.list_namespaced_pod, self.target.namespace, label_selector=self.target.selector,
                    resource_version=self.resource_version, timeout_seconds=int(self.timeout),
                    _request_timeout=self.timeout + 10):
                now = time.time()
                pod = event["object"]
                if event["type"] == "DELETED" or pod.metadata.deletion_timestamp is not None:
                    continue
                self.pod = pod
                self._mark("created", now)
                if pod.spec.node_name and "scheduled" not in self.seen:
                    self._mark("scheduled", now)
                    if self.on_scheduled:
                        self.on_scheduled(pod.metadata.name, pod.spec.node_name)
                statuses = pod.status.container_statuses or []
                if statuses and all(s.state and s.state.running for s in statuses):
                    self._mark("running", now)
                for status in statuses:
                    waiting = status.state.waiting if status.state else None
                    if waiting and waiting.reason in HOPELESS:
                        self.problem = f"{waiting.reason}: {(waiting.message or '')[:200]}"
                if is_ready(pod):
                    self._mark("ready", now)
                    self.ready.set()
                    break
                if self.problem:
                    break
        except Exception as error:  # reported by the caller as the run's error
            self.error = error
        finally:
            self._watch.stop()
            self.ready.set()


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def api_timestamps(pod) -> dict[str, str | None]:
    """The pod's own timestamps (the API serialises them to the second)."""
    conditions = {c.type: c for c in pod.status.conditions or []}
    statuses = pod.status.container_statuses or []
    started = statuses[0].state.running.started_at if statuses and statuses[0].state.running else None
    return {"created": _iso(pod.metadata.creation_timestamp),
            "scheduled": _iso(conditions["PodScheduled"].last_transition_time) if "PodScheduled" in conditions else None,
            "started": _iso(started),
            "containers_ready": _iso(conditions["ContainersReady"].last_transition_time)
            if "ContainersReady" in conditions else None,
            "ready": _iso(conditions["Ready"].last_transition_time) if "Ready" in conditions else None}


def labels_of(selector: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in selector.split(",") if "=" in part)


def cold_start(kube, target: Target, index: int, kind: str, timeout: float = 180, path: str = "/get",
               before_start=None, node_of=None, expected_node: str | None = None) -> ColdStartRun:
    """Scale to 0, (optionally prepare), scale to 1; time each phase of the new pod and the first 200s.

    `node_of(name)` gives the lab's Node of that name (None: no node probe, the run has the watch's
    and the NodePort's times only); the probe starts on `expected_node` before the scale-up, and on
    the pod's node when it lands elsewhere. Leaves the Deployment at 1 replica on success;
    `restore` handles every other ending."""
    port = target.port
    if port is None:
        raise LabError(f"{target.variant}: its Service has no NodePort, so its first answer cannot be timed")
    scale_to_zero(kube, target)
    load_seconds = before_start() if before_start else None
    listing = kube.core.list_namespaced_pod(target.namespace, label_selector=target.selector)
    probes: dict[str, NodeProbe] = {}

    def probe_on(node_name: str | None) -> None:
        node = node_of(node_name) if node_of and node_name else None
        if node is not None and node_name is not None and node_name not in probes:
            probes[node_name] = NodeProbe(node, labels_of(target.selector), target.namespace, target.container_port,
                                          path, timeout)
            probes[node_name].start()

    probe_on(expected_node)
    watcher = PodWatcher(kube, target, listing.metadata.resource_version, timeout,
                         on_scheduled=lambda _pod, node_name: probe_on(node_name))
    watcher.start()
    # Let the watch connect (and the probe find its first sandbox list) before the pod exists, so
    # the watch's events arrive as they happen rather than replayed in a burst.
    time.sleep(WATCH_SETTLE)
    requested = time.time()
    scale(kube, target, 1)
    first_200 = None
    error = None
    try:
        def answered():
            if watcher.problem:
                raise LabError(f"pod of {target.deployment} cannot start: {watcher.problem}")
            return http_ok(port, path, target.host)

        wait_until(answered, timeout, f"{target.variant} never answered HTTP 200 on {target.host}:{target.port}",
                   interval=PROBE_INTERVAL)
        first_200 = time.time()
        # The watch may lag the first answer by a few milliseconds; it ends at Ready or its timeout.
        watcher.ready.wait(timeout=30)
    except LabError as failure:
        error = str(failure)
    finally:
        watcher._watch.stop()
        watcher.join(timeout=5)
        landed = watcher.pod.spec.node_name if watcher.pod is not None else None
        for name, probe in probes.items():
            if name != landed or error:
                probe.stop()
        for probe in probes.values():
            probe.join(timeout=30)
    if watcher.error and not error:
        error = f"watching pods of {target.deployment} failed: {watcher.error}"
    node_times: dict = probes[landed].result if landed is not None and landed in probes else {}
    created = watcher.seen.get("created")
    moments = {**{phase: watcher.seen.get(phase) for phase in ("scheduled", "running", "ready")},
               **{phase: node_times.get(phase) for phase in NODE_PHASES}, "http_200": first_200}
    seconds: dict[str, float | None] = {phase: None for phase in PHASES}
    if created is not None:
        for phase, moment in moments.items():
            if moment is not None:
                seconds[phase] = round(moment - created, 4)
    pod = watcher.pod
    try:
        if pod is not None:
            pod = kube.core.read_namespaced_pod(pod.metadata.name, target.namespace)
    except Exception:
        pass
    return ColdStartRun(index=index, kind=kind, seconds=seconds,
                        api=api_timestamps(pod) if pod is not None else {},
                        request_to_created=round(created - requested, 4) if created is not None else None,
                        image_load_seconds=load_seconds, node=pod.spec.node_name if pod is not None else None,
                        error=error, probe=_probe_summary(node_times, created, bool(node_of)))


def _probe_summary(found: dict, created: float | None, wanted: bool) -> dict:
    """How the node probe went: started when, attempts, and whether it could have missed the start."""
    if not found:
        return {"ran": False, "why": "no node the lab reaches" if wanted else "not asked for"}
    started = found.get("probe_started")
    summary = {"ran": True, "interval_ms": INTERVAL * 1000, "attempts": found.get("attempts"),
               "refused": found.get("refused"), "pod_ip": found.get("pod_ip"), "error": found.get("error"),
               "started": round(started - created, 4) if started is not None and created is not None else None}
    # Answered at the very first attempt: the server was up before the probe asked, so the pod IP
    # time is an upper bound, not a measurement.
    summary["late"] = found.get("attempts") == 1
    return summary
