"""Pods a containerd restart left down, and bringing the lab's own back.

When containerd restarts, it reconnects to every shim and asks each task for its processes. runwasi's
shims (upstream's and the kit's, both on containerd-shim-wasm) do not answer that call, so
containerd takes every wasm container that is not a pod sandbox for a leaked shim: it asks the shim
to delete the running task (refused: a running task cannot be deleted) and forgets it. The shim
keeps the old instance running. On containerd 2.x the pod's sandbox is kept, so the kubelet starts
the container again in the same sandbox, inside the same shim and network namespace, where the
old instance still holds the port: the new one exits with "Address in use" and the pod crash-loops
for good. Only a new sandbox helps: deleting the pod, whose controller makes a new one.

Before the lab restarts containerd on a node it notes the pods Ready there (`ready_pods`); after,
`bring_back` waits for them to be Ready again, recreates the lab's own pods that are not (marked
with wasm-lab.dev/owner=<lab>, made by a controller) and says in one line which pods of others
did not come back and what brings them back, never touching those."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from kubernetes.client import V1DeleteOptions, V1Preconditions

from lab.errors import LabError
from lab.kube import OWNER, delete_if_present
from lab.waits import wait_until

COME_BACK_SECONDS = 45    # a pod a restart did not break is Ready again within seconds
REPLACED_SECONDS = 120    # a new sandbox, the image already on the node
SETTLE_POLLS = 5          # polls in a row with every pod Ready: the kubelet notices a lost task in ~2 s
POLL_SECONDS = 2


@dataclass(frozen=True)
class SeenPod:
    namespace: str
    name: str
    uid: str
    runtime_class: str | None
    owner: str | None            # the lab the pod belongs to (its wasm-lab.dev/owner annotation)
    controller_uid: str | None   # the ReplicaSet or Job that makes a new pod when this one goes

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    def describe(self) -> str:
        return f"{self.ref} ({self.runtime_class or 'runc'})"


def is_ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def seen(pod: Any) -> SeenPod:
    meta = pod.metadata
    controller = next((ref for ref in meta.owner_references or [] if ref.controller), None)
    return SeenPod(meta.namespace, meta.name, meta.uid, pod.spec.runtime_class_name,
                   (meta.annotations or {}).get(OWNER), controller.uid if controller else None)


def pods_on(core, node: str) -> list[Any]:
    """The pods on a node that are neither finished nor being deleted."""
    pods = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    return [p for p in pods if p.metadata.deletion_timestamp is None and p.status.phase not in ("Succeeded", "Failed")]


def ready_pods(core, node: str) -> list[SeenPod]:
    """What runs on the node now, Ready (taken before a restart: a pod that was already down is not
    the restart's doing)."""
    return [seen(p) for p in pods_on(core, node) if is_ready(p)]


def still_down(core, node: str, before: list[SeenPod]) -> list[SeenPod]:
    """The pods of `before` that are on the node and not Ready (one deleted meanwhile is its
    controller's business)."""
    now = {p.metadata.uid: p for p in pods_on(core, node)}
    return [pod for pod in before if pod.uid in now and not is_ready(now[pod.uid])]


def wait_back(core, node: str, before: list[SeenPod], timeout: float = COME_BACK_SECONDS,
              settle: int = SETTLE_POLLS, interval: float = POLL_SECONDS) -> list[SeenPod]:
    """Wait until every pod of `before` has been Ready `settle` polls in a row; return the ones
    still down when the wait ends (empty: all came back)."""
    if not before:
        return []
    down, calm = list(before), 0

    def all_back() -> bool:
        nonlocal down, calm
        down = still_down(core, node, before)
        calm = 0 if down else calm + 1
        return calm >= settle

    try:
        wait_until(all_back, timeout, f"pods on {node} not Ready again after containerd restarted", interval)
    except LabError:
        return down
    return []


def recreate(core, pods: list[SeenPod]) -> None:
    """Delete each pod (only that very pod: its uid is a precondition) so its controller makes a
    new one, in a new sandbox."""
    for pod in pods:
        body = V1DeleteOptions(preconditions=V1Preconditions(uid=pod.uid))
        # 409: the uid precondition failed, the name is already another pod's
        delete_if_present(partial(core.delete_namespaced_pod, pod.name, pod.namespace, body=body), also_fine=(409,))


def replaced(core, pods: list[SeenPod]) -> list[SeenPod]:
    """The recreated pods whose controller has no new pod Ready (or finished) yet."""
    waiting = []
    for pod in pods:
        siblings = core.list_namespaced_pod(pod.namespace).items
        fresh = [p for p in siblings if p.metadata.uid != pod.uid and p.metadata.deletion_timestamp is None
                 and any(ref.uid == pod.controller_uid for ref in p.metadata.owner_references or [])
                 and (is_ready(p) or p.status.phase == "Succeeded")]
        if not fresh:
            waiting.append(pod)
    return waiting


def wait_replaced(core, pods: list[SeenPod], timeout: float = REPLACED_SECONDS,
                  interval: float = POLL_SECONDS) -> None:
    waiting = list(pods)

    def all_replaced() -> bool:
        nonlocal waiting
        waiting = replaced(core, pods)
        return not waiting

    try:
        wait_until(all_replaced, timeout, "", interval)
    except LabError:
        raise LabError(f"pods recreated after a containerd restart never became Ready: "
                       f"{', '.join(p.describe() for p in waiting)} (waited {timeout:.0f}s); "
                       "see `invoke lab.diagnose`") from None


def others_line(node: str, pods: list[SeenPod]) -> str:
    """One line: which pods that are not this lab's did not come back, and what brings them back."""
    by_lab: dict[str, list[SeenPod]] = {}
    unmarked: list[SeenPod] = []
    for pod in pods:
        (by_lab.setdefault(pod.owner, []) if pod.owner else unmarked).append(pod)
    parts = [f"{', '.join(p.describe() for p in group)} of lab {lab}: run `invoke lab.up` for lab {lab}"
             for lab, group in sorted(by_lab.items())]
    if unmarked:
        parts.append(f"{', '.join(p.describe() for p in unmarked)}: "
                     + "; ".join(f"`kubectl -n {p.namespace} delete pod {p.name}`" for p in unmarked)
                     + " (its controller starts a new one in a new sandbox)")
    return (f"{len(pods)} pod(s) that are not this lab's did not come back after containerd restarted on {node}, "
            f"left as they are: " + "; ".join(parts))


@dataclass
class Recovery:
    recreated: list[SeenPod]
    others_down: list[SeenPod]
    line_for_others: str = ""


def bring_back(core, node: str, lab: str, namespace: str, before: list[SeenPod], without: tuple[str, ...] = (),
               come_back: float = COME_BACK_SECONDS, settle: int = SETTLE_POLLS,
               replace_within: float = REPLACED_SECONDS, interval: float = POLL_SECONDS) -> Recovery:
    """After containerd restarted on `node`: wait for the pods Ready `before` (but those of the
    RuntimeClasses in `without`: a runtime just taken off); recreate this lab's own that stay down
    (its mark, in its namespace: a copy of its manifest elsewhere is someone else's) and wait for
    their replacements; name the others' in one line."""
    expected = [p for p in before if p.runtime_class not in without]
    down = wait_back(core, node, expected, come_back, settle, interval)
    ours = [p for p in down if p.owner == lab and p.namespace == namespace and p.controller_uid]
    others = [p for p in down if p not in ours]
    if ours:
        recreate(core, ours)
        wait_replaced(core, ours, replace_within, interval)
    return Recovery(ours, others, others_line(node, others) if others else "")


def crash_looping(pod: Any) -> bool:
    """Not Ready, and a container of it has restarted: what a pod stuck on a taken port looks like."""
    return not is_ready(pod) and any((s.restart_count or 0) > 0 for s in pod.status.container_statuses or [])


def crash_looping_pods(core, namespace: str, lab: str) -> list[SeenPod]:
    """This lab's pods in its namespace that crash-loop (and have a controller to replace them)."""
    pods = core.list_namespaced_pod(namespace).items
    return [seen(p) for p in pods if p.metadata.deletion_timestamp is None
            and (p.metadata.annotations or {}).get(OWNER) == lab and crash_looping(p) and seen(p).controller_uid]
