"""Cold starts: a variant scaled from zero, timed from the pod watch (created, scheduled, running,
ready) to the first HTTP 200 seen from the host."""
from __future__ import annotations

import http.client
import threading
import time

from kubernetes import watch

from lab.bench.results import ColdStartRun
from lab.bench.targets import Target, scale, scale_to_zero
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
    """Watches a variant's pods and notes, on the host's monotonic clock, when each phase is first seen."""

    def __init__(self, kube, target: Target, resource_version: str, timeout: float):
        super().__init__(daemon=True, name=f"bench-watch-{target.variant}")
        self.kube, self.target, self.resource_version, self.timeout = kube, target, resource_version, timeout
        self.seen: dict[str, float] = {}
        self.pod = None
        self.problem: str | None = None
        self.error: Exception | None = None
        self.ready = threading.Event()
        self._watch = watch.Watch()

    def _mark(self, phase: str, when: float) -> None:
        self.seen.setdefault(phase, when)

    def run(self):
        try:
            for event in self._watch.stream(
                    self.kube.core.list_namespaced_pod, self.target.namespace, label_selector=self.target.selector,
                    resource_version=self.resource_version, timeout_seconds=int(self.timeout),
                    _request_timeout=self.timeout + 10):
                now = time.monotonic()
                pod = event["object"]
                if event["type"] == "DELETED" or pod.metadata.deletion_timestamp is not None:
                    continue
                self.pod = pod
                self._mark("created", now)
                if pod.spec.node_name:
                    self._mark("scheduled", now)
                statuses = pod.status.container_statuses or []
                if statuses and all(s.state and s.state.running for s in statuses):
                    self._mark("running", now)
                for status in statuses:
                    waiting = status.state.waiting if status.state else None
                    if waiting and waiting.reason in HOPELESS:
                        self.problem = f"{waiting.reason}: {(waiting.message or '')[:200]}"
                if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
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


def cold_start(kube, target: Target, index: int, kind: str, timeout: float = 180, path: str = "/get",
               before_start=None) -> ColdStartRun:
    """Scale to 0, (optionally prepare), scale to 1; time each phase of the new pod and the first 200.

    Leaves the Deployment at 1 replica on success; `restore` handles every other ending."""
    scale_to_zero(kube, target)
    load_seconds = before_start() if before_start else None
    listing = kube.core.list_namespaced_pod(target.namespace, label_selector=target.selector)
    watcher = PodWatcher(kube, target, listing.metadata.resource_version, timeout)
    watcher.start()
    # Let the watch connect before the pod exists, so its events arrive as they happen rather
    # than replayed in a burst from the resource version.
    time.sleep(WATCH_SETTLE)
    requested = time.monotonic()
    scale(kube, target, 1)
    first_200 = None
    error = None
    try:
        def answered():
            if watcher.problem:
                raise LabError(f"pod of {target.deployment} cannot start: {watcher.problem}")
            return http_ok(target.port, path, target.host)

        wait_until(answered, timeout, f"{target.variant} never answered HTTP 200 on {target.host}:{target.port}",
                   interval=PROBE_INTERVAL)
        first_200 = time.monotonic()
        # The watch may lag the first answer by a few milliseconds; it ends at Ready or its timeout.
        watcher.ready.wait(timeout=30)
    except LabError as failure:
        error = str(failure)
    finally:
        watcher._watch.stop()
        watcher.join(timeout=5)
    if watcher.error and not error:
        error = f"watching pods of {target.deployment} failed: {watcher.error}"
    created = watcher.seen.get("created")
    seconds: dict[str, float | None] = {phase: None for phase in ("scheduled", "running", "ready", "http_200")}
    if created is not None:
        for phase in ("scheduled", "running", "ready"):
            if phase in watcher.seen:
                seconds[phase] = round(watcher.seen[phase] - created, 4)
        if first_200 is not None:
            seconds["http_200"] = round(first_200 - created, 4)
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
                        error=error)
