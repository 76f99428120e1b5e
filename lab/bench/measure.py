"""What the bench measures on a running lab: cold starts, memory, image sizes (load: lab.bench.load).

Every wait is bounded (tenacity) and says what never happened. The only changes made to the
cluster are scaling the lab's own Deployments (restored by `restore`) and, for the
image-removed run, removing one image from one node and loading the same image back."""
from __future__ import annotations

import http.client
import json
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import datetime

from kubernetes import watch

from lab.bench.results import ColdStartRun, ImageSize, MemorySample
from lab.errors import LabError
from lab.waits import wait_until

PART_OF = "app.kubernetes.io/part-of=wasm-lab"
VARIANT_LABEL = "wasm-lab.dev/variant"
# Waiting reasons after which a pod will not start by itself within a bench run.
HOPELESS = {"ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff", "CreateContainerError",
            "CreateContainerConfigError", "RunContainerError", "InvalidImageName", "ErrImageNeverPull"}
PROBE_INTERVAL = 0.02   # host-side polling for the first HTTP 200
PROBE_TIMEOUT = 1.0
WATCH_SETTLE = 0.5


@dataclass
class Target:
    """One variant as deployed: its Deployment, pods, image and host port."""
    variant: str
    deployment: str
    namespace: str
    selector: str
    port: int
    image: str
    runtime_class: str | None
    replicas: int   # as applied; restored at the end
    host: str = "127.0.0.1"  # where the NodePort is reached (lab.up records it per provider)


# ----------------------------------------------------------------------------- discovery

def discover(kube, namespace: str) -> dict[str, Target]:
    """The lab's variants as found in the cluster (not as the spec would deploy them)."""
    targets = {}
    for deployment in kube.apps.list_namespaced_deployment(namespace, label_selector=PART_OF).items:
        labels = deployment.metadata.labels or {}
        variant = labels.get(VARIANT_LABEL)
        if not variant:
            continue
        name = deployment.metadata.name
        try:
            service = kube.core.read_namespaced_service(name, namespace)
            port = service.spec.ports[0].node_port
        except Exception:
            port = None
        pod_spec = deployment.spec.template.spec
        selector = ",".join(f"{k}={v}" for k, v in sorted(deployment.spec.selector.match_labels.items()))
        targets[variant] = Target(variant=variant, deployment=name, namespace=namespace, selector=selector,
                                  port=port, image=pod_spec.containers[0].image,
                                  runtime_class=pod_spec.runtime_class_name,
                                  replicas=deployment.spec.replicas if deployment.spec.replicas is not None else 1)
    return targets


def live_pods(kube, target: Target) -> list:
    pods = kube.core.list_namespaced_pod(target.namespace, label_selector=target.selector).items
    return [p for p in pods if p.metadata.deletion_timestamp is None]


def running_pod(kube, target: Target, timeout: float = 120):
    def ready_pod():
        for pod in live_pods(kube, target):
            if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
                return pod
        return None

    return wait_until(ready_pod, timeout, f"no Ready pod of {target.deployment}")


# ----------------------------------------------------------------------------- scaling

def scale(kube, target: Target, replicas: int) -> None:
    kube.apps.patch_namespaced_deployment_scale(target.deployment, target.namespace, {"spec": {"replicas": replicas}})


def scale_to_zero(kube, target: Target, timeout: float = 120) -> None:
    """Scale to 0 and wait until no pod of the variant is left (terminating ones included)."""
    scale(kube, target, 0)
    # The workloads do not need a 30 s grace period; a short one keeps runs apart and quick.
    for pod in kube.core.list_namespaced_pod(target.namespace, label_selector=target.selector).items:
        try:
            kube.core.delete_namespaced_pod(pod.metadata.name, target.namespace, grace_period_seconds=1)
        except Exception:
            pass
    wait_until(lambda: not kube.core.list_namespaced_pod(target.namespace, label_selector=target.selector).items,
               timeout, f"pods of {target.deployment} were still there after scaling it to 0")


def restore(kube, targets, timeout: float = 180) -> list[str]:
    """Put every Deployment back to its applied replicas and wait for it; return what failed."""
    problems = []
    for target in targets:
        try:
            current = kube.apps.read_namespaced_deployment_scale(target.deployment, target.namespace).spec.replicas
            if current != target.replicas:
                scale(kube, target, target.replicas)
        except Exception as error:
            problems.append(f"{target.deployment}: could not restore {target.replicas} replica(s): {error}")
    for target in targets:
        try:
            kube.wait_deployment_ready(target.deployment, target.namespace, timeout=timeout)
        except LabError as error:
            problems.append(str(error))
    return problems


# ----------------------------------------------------------------------------- cold start

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


# ----------------------------------------------------------------------------- memory

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


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
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
        taken = _epoch(sample.time)
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


# ----------------------------------------------------------------------------- image sizes

def ref_candidates(ref: str) -> set[str]:
    """The names containerd may list an image ref under (docker.io/ and library/ filled in)."""
    names = {ref}
    first = ref.split("/", 1)[0]
    if "/" not in ref:
        names.add(f"docker.io/library/{ref}")
    elif "." not in first and ":" not in first and first != "localhost":
        names.add(f"docker.io/{ref}")
    return names


def node_image_bytes(kube, node: str, ref: str) -> int | None:
    """containerd's size of the image in the node, from the node's CRI image list (node status)."""
    wanted = ref_candidates(ref)
    for image in kube.core.read_node(node).status.images or []:
        if wanted & set(image.names or []):
            return image.size_bytes
    return None


def gzip_size(chunks) -> int:
    """Bytes of the gzip (level 6) compression of a stream of chunks, without keeping it."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    total = 0
    for chunk in chunks:
        total += len(compressor.compress(chunk))
    return total + len(compressor.flush())


def image_size(kube, node: str | None, ref: str, docker_client=None, cache: dict | None = None) -> tuple[ImageSize, list[str]]:
    notes = []
    size = ImageSize(ref=ref)
    if node:
        try:
            size.node_bytes = node_image_bytes(kube, node, ref)
        except Exception as error:
            notes.append(f"image size in the node unavailable: {error.__class__.__name__}")
        if size.node_bytes is None:
            notes.append(f"{ref} is not in node {node}'s image list")
    try:
        import docker

        client = docker_client or docker.from_env()
        image = client.images.get(ref)
        size.image_id, size.host_bytes = image.id, image.attrs.get("Size")
        cache = cache if cache is not None else {}
        if image.id not in cache:
            cache[image.id] = gzip_size(image.save(chunk_size=1 << 20))
        size.gzip_bytes = cache[image.id]
    except Exception as error:
        notes.append(f"{ref} is not in the host's Docker ({error.__class__.__name__}): no compressed size")
    return size, notes


# ----------------------------------------------------------------------------- image removal

def node_image_refs(node, ref: str) -> list[str]:
    """Every name containerd (namespace k8s.io) lists for the image `ref` points to."""
    listing = node.run(["ctr", "-n", "k8s.io", "images", "ls"]).stdout.splitlines()
    rows = [line.split() for line in listing[1:] if line.strip()]
    wanted = ref_candidates(ref)
    digests = {row[2] for row in rows if len(row) > 2 and row[0] in wanted}
    return sorted(row[0] for row in rows if len(row) > 2 and row[2] in digests)


def remove_image(node, ref: str) -> list[str]:
    refs = node_image_refs(node, ref)
    if refs:
        node.run(["ctr", "-n", "k8s.io", "images", "rm", "--sync", *refs])
    if node_image_refs(node, ref):
        raise LabError(f"{ref} is still in node {node.name} after removing it")
    return refs
