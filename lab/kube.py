"""The Kubernetes API through the official client: server-side apply and bounded waits."""
from __future__ import annotations

import importlib
import threading
import time
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, TypeVar

from kubernetes import client, config, dynamic
from kubernetes.client.exceptions import ApiException
from tenacity import RetryError, retry, retry_if_result, stop_after_delay, wait_fixed

from lab.errors import LabError
from lab.nodes import Result

FIELD_MANAGER = "wasm-lab"
MANAGED_BY = {"app.kubernetes.io/managed-by": "wasm-lab"}
OWNER = "wasm-lab.dev/owner"          # annotation: the lab that created (or adopted) an object
# what the API server adds to an object; left out of a backup so it can be applied again
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")
NOT_FOUND = 404

T = TypeVar("T")


def read_if_present(call: Callable[[], T]) -> T | None:
    """call()'s answer, or None when the API answers 404: the object is not there, which the caller
    takes as an answer (any other error is raised)."""
    try:
        return call()
    except ApiException as error:
        if error.status == NOT_FOUND:
            return None
        raise


def delete_if_present(call: Callable[[], object], also_fine: tuple[int, ...] = ()) -> bool:
    """Run a delete call: True when it deleted, False when the object was already gone (404) or the
    API answered one of `also_fine` (say 409: a precondition no longer holds)."""
    try:
        call()
        return True
    except ApiException as error:
        if error.status == NOT_FOUND or error.status in also_fine:
            return False
        raise


def _meta(obj: Any) -> client.V1ObjectMeta:
    """An API object's metadata (the models type it optional; the API server always sends it)."""
    return obj.metadata or client.V1ObjectMeta()


def rollout_complete(deployment: Any) -> bool:
    """What `kubectl rollout status` waits for: the controller has seen the latest spec, every
    wanted replica runs it and is ready, and no replica of an older template is left. Until then
    the old pod is Ready and counted among the ready replicas, still gets connections, and is
    killed under them once its successor is Ready."""
    status = deployment.status or client.V1DeploymentStatus()
    wanted = deployment.spec.replicas if deployment.spec and deployment.spec.replicas is not None else 1
    return ((status.observed_generation or 0) >= (_meta(deployment).generation or 0)
            and (status.updated_replicas or 0) == wanted
            and (status.replicas or 0) == wanted
            and (status.ready_replicas or 0) == wanted)


def _ready(status: client.V1NodeStatus | client.V1PodStatus | None) -> bool:
    """A node's or a pod's status has the condition Ready=True."""
    return status is not None and any(c.type == "Ready" and c.status == "True" for c in status.conditions or [])


def owner_of(obj: dict | None) -> str | None:
    return ((obj or {}).get("metadata", {}).get("annotations") or {}).get(OWNER)


def legacy_lab_object(obj: dict | None) -> bool:
    """Made by a lab before objects carried the owner annotation: only the managed-by label."""
    labels = (obj or {}).get("metadata", {}).get("labels") or {}
    return owner_of(obj) is None and labels.get("app.kubernetes.io/managed-by") == MANAGED_BY[
        "app.kubernetes.io/managed-by"]


def as_backup(obj: dict) -> dict:
    """An object as it was, without status and server-set fields, ready to be applied again."""
    backup = {k: v for k, v in obj.items() if k != "status"}
    backup["metadata"] = {k: v for k, v in obj["metadata"].items() if k not in SERVER_FIELDS and v is not None}
    return backup


API_GROUPS = ("core_v1_api", "apps_v1_api", "batch_v1_api", "node_v1_api")  # the ones Kube makes


_importing: list[threading.Thread] = []


def import_api_groups_beside() -> None:
    """Import the API groups' modules in a thread of their own (about 0.7 s of the client's models,
    on 2 cores) while the caller waits on something else (kind create). Kube makes a group only
    once that thread is done: no two threads import the client's modules at once."""
    def import_all() -> None:
        for module in API_GROUPS:
            importlib.import_module(f"kubernetes.client.api.{module}")
    if not _importing:
        _importing.append(threading.Thread(target=import_all, daemon=True, name="kube-imports"))
        _importing[0].start()


def _imported() -> None:
    for thread in _importing:
        thread.join()


class Kube:
    """The API groups are made on first use: the client imports each one's module then, and
    CoreV1Api's alone takes 0.5 s (an unchanged re-run's proof needs only apps and node)."""

    def __init__(self, kubeconfig: Path, context: str | None = None):
        self.api_client = config.new_client_from_config(config_file=str(kubeconfig), context=context)
        self._dynamic: dynamic.DynamicClient | None = None
        self._discovery = threading.Lock()

    @cached_property
    def core(self) -> client.CoreV1Api:
        _imported()
        return client.CoreV1Api(self.api_client)

    @cached_property
    def apps(self) -> client.AppsV1Api:
        _imported()
        return client.AppsV1Api(self.api_client)

    @cached_property
    def batch(self) -> client.BatchV1Api:
        _imported()
        return client.BatchV1Api(self.api_client)

    @cached_property
    def node_api(self) -> client.NodeV1Api:
        _imported()
        return client.NodeV1Api(self.api_client)

    def _resource(self, api_version: str, kind: str) -> Any:
        """The dynamic client's resource for a kind. Its discovery (and the cache file it writes)
        is not safe for threads that look kinds up at once (lab.up applies objects a few at once)."""
        with self._discovery:
            if self._dynamic is None:
                self._dynamic = dynamic.DynamicClient(self.api_client)
            return self._dynamic.resources.get(api_version=api_version, kind=kind)

    def apply(self, body: dict) -> dict:
        """Server-side apply of one object, owned by the lab's field manager."""
        resource = self._resource(body["apiVersion"], body["kind"])
        namespace = body["metadata"].get("namespace")
        result = resource.server_side_apply(body=body, name=body["metadata"]["name"], namespace=namespace,
                                            field_manager=FIELD_MANAGER, force_conflicts=True)
        return result.to_dict()

    def read(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        resource = self._resource(api_version, kind)
        return read_if_present(lambda: resource.get(name=name, namespace=namespace).to_dict())

    def apply_owned(self, body: dict, lab: str, adopt: bool = False, shared: bool = False) -> tuple[str, dict | None]:
        """Apply an object the lab owns, marked with its name. Returns what happened ("created",
        "updated", "adopted" with the backup of what was there, or "shared": another lab's object,
        left untouched when `shared` allows it). An object that carries no lab's mark is refused in
        one line unless `adopt`; another lab's is refused unless `shared`."""
        meta = body["metadata"]
        what = f"{body['kind']} {meta.get('namespace') + '/' if meta.get('namespace') else ''}{meta['name']}"
        current = self.read(body["apiVersion"], body["kind"], meta["name"], meta.get("namespace"))
        owner = lab if legacy_lab_object(current) else owner_of(current)
        backup = None
        if current is not None and owner != lab:
            if owner:
                if shared:
                    return "shared", None
                raise LabError(f"{what} belongs to lab {owner}; give this lab another namespace or name")
            if not adopt:
                raise LabError(f"{what} exists and was not made by wasm-lab, so the lab leaves it alone; rename or "
                               "remove it, or pass --adopt to let the lab take it over (lab.down restores it)")
            backup = as_backup(current)
        marked = {**body, "metadata": {**meta, "annotations": {**(meta.get("annotations") or {}), OWNER: lab}}}
        self.apply(marked)
        return ("adopted" if backup else "updated" if current is not None else "created"), backup

    def delete_owned(self, api_version: str, kind: str, name: str, lab: str, namespace: str | None = None) -> bool:
        """Delete an object only while it carries this lab's mark."""
        if owner_of(self.read(api_version, kind, name, namespace)) != lab:
            return False
        return self.delete(api_version, kind, name, namespace)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        resource = self._resource(api_version, kind)
        # Background, as kubectl does: a Job deleted through the API would otherwise orphan its pods
        return delete_if_present(lambda: resource.delete(name=name, namespace=namespace,
                                                         body={"propagationPolicy": "Background"}))

    def wait_gone(self, api_version: str, kind: str, name: str, namespace: str | None = None,
                  timeout: float = 180, every: float = 2) -> None:
        """Wait until a deleted object is gone (a namespace terminates asynchronously)."""
        self.wait_for(lambda: [name] if self.read(api_version, kind, name, namespace) is not None else [],
                      timeout, f"{kind} still terminating; run lab.down again", every)

    def wait_pods_gone(self, namespace: str, lab: str, timeout: float = 120) -> None:
        """Wait until no pod carrying this lab's mark is left in a namespace."""
        def left() -> list[str]:
            return [str(_meta(pod).name) for pod in self.core.list_namespaced_pod(namespace).items
                    if (_meta(pod).annotations or {}).get(OWNER) == lab]

        self.wait_for(left, timeout, "the lab's pods still ending; run lab.down again", every=0.5)

    def wait_nodes_ready(self, timeout: float = 300) -> list[str]:
        def not_ready():
            try:
                nodes = self.core.list_node().items
            except Exception:
                return ["(API server not answering)"]
            waiting = [_meta(n).name for n in nodes if not _ready(n.status)]
            return waiting if nodes else ["(no nodes registered)"]

        return self.wait_for(not_ready, timeout, "nodes never became Ready")

    def wait_deployment_ready(self, name: str, namespace: str, timeout: float = 300) -> None:
        self.wait_deployments_ready([name], namespace, timeout)

    def wait_deployments_ready(self, names: list[str], namespace: str, timeout: float = 300) -> None:
        """Ready: each one's rollout complete, and no pod of its still ending (kube-proxy may still
        send a new connection to one, which then hangs). All asked at once, every 0.25 s: one list of
        the namespace's Deployments and one of their pods per look."""
        selector = f"app.kubernetes.io/name in ({','.join(names)})"

        def not_ready():
            deployments = {_meta(d).name: d for d in self.apps.list_namespaced_deployment(namespace).items}
            pods = self.core.list_namespaced_pod(namespace, label_selector=selector).items
            ending = {(_meta(pod).labels or {}).get("app.kubernetes.io/name") for pod in pods if _meta(pod).deletion_timestamp}
            return [name for name in names
                    if name not in deployments or not rollout_complete(deployments[name]) or name in ending]

        try:
            self.wait_for(not_ready, timeout, "", every=0.25)
        except LabError:
            pending = not_ready()
            raise LabError("; ".join(f"deployment {namespace}/{name} never became ready within {timeout:.0f}s: "
                                     + self.describe_pods(namespace, f"app.kubernetes.io/name={name}")
                                     for name in pending or names))

    def describe_pods(self, namespace: str, selector: str) -> str:
        pods: list[Any] = self.core.list_namespaced_pod(namespace, label_selector=selector).items
        if not pods:
            return "no pod was created"
        parts = []
        for pod in pods:
            reason = ""
            for status in pod.status.container_statuses or []:
                state = status.state.waiting or status.state.terminated
                if state is not None:
                    reason = f" ({state.reason}: {(state.message or '')[:200]})"
            events = self.core.list_namespaced_event(
                namespace, field_selector=f"involvedObject.name={pod.metadata.name}").items
            events.sort(key=lambda e: str(e.last_timestamp or e.event_time or e.metadata.creation_timestamp))
            last = f"; last event: {events[-1].reason}: {events[-1].message}" if events else ""
            parts.append(f"pod {pod.metadata.name} is {pod.status.phase}{reason}{last}")
        return "; ".join(parts)

    @staticmethod
    def wait_for(pending_fn, timeout: float, message: str, every: float = 2):
        """Poll `pending_fn` (what is still pending) every `every` s until it is empty; else one line with what
        never became ready."""
        @retry(stop=stop_after_delay(timeout), wait=wait_fixed(every), retry=retry_if_result(bool))
        def poll():
            return pending_fn()

        try:
            return poll()
        except RetryError as error:
            pending = error.last_attempt.result()
            raise LabError(f"{message}: {', '.join(pending)} (waited {timeout:.0f}s)")


def websocket_exec(core, pod: str, namespace: str, command: list[str], stdin: bytes | None,
                   timeout: float) -> Result:
    """Run command in the pod through the API server's exec endpoint (websocket, v4/v5 channels)."""
    from kubernetes.stream import stream

    # stream() swaps the request method of the API client it is given while it connects: on a
    # client shared with other threads (nodes undone side by side), their calls would go over the
    # websocket too. Each exec connects through a client of its own.
    own = client.CoreV1Api(client.ApiClient(core.api_client.configuration))
    try:
        ws = stream(own.connect_get_namespaced_pod_exec, pod, namespace, command=command,
                    stdin=stdin is not None, stdout=True, stderr=True, tty=False, _preload_content=False)
    except Exception as error:  # the API server or kubelet refused the exec (containerd restarting, …)
        return Result(255, "", f"exec failed: {error}")
    out: list[str] = []
    err: list[str] = []
    try:
        if stdin is not None:
            for start in range(0, len(stdin), 1 << 20):
                ws.write_stdin(stdin[start:start + (1 << 20)])
            if hasattr(ws, "close_channel"):
                ws.close_channel(0)  # end of input on the v5 protocol; `head -c` does not need it
        deadline = time.monotonic() + timeout
        while ws.is_open():
            if time.monotonic() > deadline:
                return Result(124, "".join(out), "".join(err) + f"\ntimed out after {timeout:.0f}s")
            ws.update(timeout=1)
            if ws.peek_stdout():
                out.append(ws.read_stdout())
            if ws.peek_stderr():
                err.append(ws.read_stderr())
        out.append(ws.read_stdout(timeout=0) if ws.peek_stdout() else "")
        err.append(ws.read_stderr(timeout=0) if ws.peek_stderr() else "")
        return Result(exit_code(ws.read_channel(3)), "".join(out), "".join(err))
    except Exception as error:  # the stream broke (containerd restarted under it, network)
        return Result(255, "".join(out), "".join(err) + f"\nexec stream broke: {error}")
    finally:
        ws.close()


def exit_code(status_text: str) -> int:
    """The exit code in the exec error channel's Status (empty or Success means 0)."""
    import yaml

    if not status_text:
        return 0
    status = yaml.safe_load(status_text) or {}
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode" and str(cause.get("message", "")).isdigit():
            return int(cause["message"])
    return 126  # the command could not be started at all
