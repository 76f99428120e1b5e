"""lab.recovery: after the lab restarted containerd on a node, the pods that were Ready there come
back, the lab's own that stay down are recreated, and the others' are named in one line and never
touched. A FAKE core API (FakePods: pods as the client's objects would show them, a controller that
makes a new pod when one is deleted) stands in for the API server; tests/faults/test_containerd_restart.py
runs the same on real kit clusters, where the kit's runwasi shims leave pods crash-looping."""
import itertools
from types import SimpleNamespace as NS

import pytest
from kubernetes.client.exceptions import ApiException

from lab import doctor, recovery, workloads
from lab.errors import LabError
from lab.kube import OWNER
from tests.fakes import FakeKube
from tests.unit import test_ownership

ctx = test_ownership.ctx  # the fixture: a lab context over FakeKube

FAST = {"settle": 1, "interval": 0.01}
NODE = "wasm-lab-worker"
uids = itertools.count(1)


def pod(name, namespace="wasm-lab", owner=None, runtime_class="wasmedge", ready=True, restarts=0, controller=True,
        node=NODE):
    return NS(metadata=NS(name=name, namespace=namespace, uid=f"uid-{next(uids)}", deletion_timestamp=None,
                          annotations={OWNER: owner} if owner else {},
                          owner_references=[NS(controller=True, uid=f"rs-{name}")] if controller else []),
              spec=NS(runtime_class_name=runtime_class, node_name=node),
              status=NS(phase="Running", conditions=[NS(type="Ready", status="True" if ready else "False")],
                        container_statuses=[NS(restart_count=restarts)]))


def crash(p):
    """What the kubelet shows once a pod's container exits with "Address in use" again and again."""
    p.status.conditions[0].status = "False"
    p.status.container_statuses[0].restart_count += 1


class FakePods:
    """FAKE core API over a list of pods. Deleting a pod (uid precondition honoured) has its
    controller make a new one, Ready unless `replacements_fail`."""

    def __init__(self, *pods, replacements_fail=False):
        self.pods = list(pods)
        self.deleted = []
        self.replacements_fail = replacements_fail

    def list_pod_for_all_namespaces(self, field_selector):
        node = field_selector.removeprefix("spec.nodeName=")
        return NS(items=[p for p in self.pods if p.spec.node_name == node])

    def list_namespaced_pod(self, namespace):
        return NS(items=[p for p in self.pods if p.metadata.namespace == namespace])

    def delete_namespaced_pod(self, name, namespace, body):
        gone = next(p for p in self.pods if p.metadata.name == name and p.metadata.namespace == namespace)
        assert body.preconditions.uid == gone.metadata.uid
        self.pods.remove(gone)
        self.deleted.append(f"{namespace}/{name}")
        if gone.metadata.owner_references:
            new = pod(name + "-new", namespace, (gone.metadata.annotations or {}).get(OWNER),
                      gone.spec.runtime_class_name, ready=not self.replacements_fail)
            new.metadata.owner_references = gone.metadata.owner_references
            self.pods.append(new)


def test_pods_that_come_back_by_themselves_are_left_alone():
    native, wasm = pod("native", owner="lab1", runtime_class=None), pod("wasm", owner="lab1")
    core = FakePods(native, wasm)
    before = recovery.ready_pods(core, NODE)
    outcome = recovery.bring_back(core, NODE, "lab1", "wasm-lab", before, come_back=1, **FAST)
    assert (outcome.recreated, outcome.others_down, core.deleted) == ([], [], [])


def test_the_labs_own_pods_that_stay_down_are_recreated_and_the_others_named_never_touched():
    ours, fine = pod("httpbin-runtime-wasmedge", owner="lab1"), pod("httpbin-native", owner="lab1", runtime_class=None)
    other_lab = pod("httpbin-runtime-wasmedge", namespace="dev", owner="lab2")
    users = pod("api", namespace="team", runtime_class="wasmtime")
    core = FakePods(ours, fine, other_lab, users)
    before = recovery.ready_pods(core, NODE)
    for p in (ours, other_lab, users):
        crash(p)

    outcome = recovery.bring_back(core, NODE, "lab1", "wasm-lab", before, come_back=0.1, replace_within=1, **FAST)

    assert core.deleted == ["wasm-lab/httpbin-runtime-wasmedge"]
    assert [p.ref for p in outcome.recreated] == ["wasm-lab/httpbin-runtime-wasmedge"]
    assert [p.ref for p in outcome.others_down] == ["dev/httpbin-runtime-wasmedge", "team/api"]
    line = outcome.line_for_others
    assert "\n" not in line
    assert "dev/httpbin-runtime-wasmedge (wasmedge) of lab lab2: run `invoke lab.up` for lab lab2" in line
    assert "team/api (wasmtime): `kubectl -n team delete pod api`" in line


def test_a_pod_with_the_labs_mark_outside_its_namespace_is_not_the_labs_to_delete():
    """A copy of the lab's manifest in another namespace carries the mark too; it is someone else's."""
    copy = pod("httpbin-runtime-wasmedge", namespace="other-team", owner="lab1")
    core = FakePods(copy)
    before = recovery.ready_pods(core, NODE)
    crash(copy)

    outcome = recovery.bring_back(core, NODE, "lab1", "wasm-lab", before, come_back=0.1, **FAST)

    assert core.deleted == [] and outcome.recreated == []
    assert [p.ref for p in outcome.others_down] == ["other-team/httpbin-runtime-wasmedge"]


def test_pods_of_a_runtime_just_taken_off_are_not_waited_for():
    gone_runtime = pod("httpbin-runtime-wasmtime", owner="lab2", runtime_class="wasmtime")
    core = FakePods(gone_runtime)
    before = recovery.ready_pods(core, NODE)
    crash(gone_runtime)
    outcome = recovery.bring_back(core, NODE, "lab2", "wasm-lab", before, without=("wasmtime",), come_back=0.1, **FAST)
    assert (outcome.recreated, outcome.others_down, core.deleted) == ([], [], [])


def test_a_pod_down_before_the_restart_is_not_the_restarts_doing():
    already = pod("httpbin-runtime-wasmedge", owner="lab1", ready=False, restarts=4)
    core = FakePods(already)
    outcome = recovery.bring_back(core, NODE, "lab1", "wasm-lab", recovery.ready_pods(core, NODE), come_back=0.1, **FAST)
    assert (outcome.recreated, core.deleted) == ([], [])


def test_an_own_pod_without_a_controller_is_named_not_deleted():
    bare = pod("wasm-lab-installer", owner="lab1", runtime_class=None, controller=False)
    core = FakePods(bare)
    before = recovery.ready_pods(core, NODE)
    crash(bare)
    outcome = recovery.bring_back(core, NODE, "lab1", "wasm-lab", before, come_back=0.1, **FAST)
    assert core.deleted == [] and [p.ref for p in outcome.others_down] == ["wasm-lab/wasm-lab-installer"]


def test_recreating_a_pod_already_gone_or_already_replaced_is_fine_and_any_other_answer_raised():
    answers = iter([404, 409, 403])  # gone; the uid precondition failed (the name is a new pod's); forbidden

    def delete_namespaced_pod(name, namespace, body):
        raise ApiException(status=next(answers))

    core = NS(delete_namespaced_pod=delete_namespaced_pod)
    recovery.recreate(core, [recovery.seen(pod("a")), recovery.seen(pod("b"))])
    with pytest.raises(ApiException):
        recovery.recreate(core, [recovery.seen(pod("c"))])


def test_a_replacement_that_never_becomes_ready_is_named_in_one_line():
    ours = pod("httpbin-runtime-wasmedge", owner="lab1")
    core = FakePods(ours, replacements_fail=True)
    before = recovery.ready_pods(core, NODE)
    crash(ours)
    with pytest.raises(LabError, match=r"^pods recreated after a containerd restart never became Ready: "
                                       r"wasm-lab/httpbin-runtime-wasmedge \(wasmedge\) \(waited 0s\)"):
        recovery.bring_back(core, NODE, "lab1", "wasm-lab", before, come_back=0.1, replace_within=0.05, **FAST)


def test_only_the_labs_own_crash_looping_pods_are_picked_for_a_new_sandbox():
    looping = pod("httpbin-runtime-wasmedge", owner="lab1", ready=False, restarts=7)
    starting = pod("httpbin-runtime-wasmtime", owner="lab1", ready=False)
    theirs = pod("httpbin-runtime-wasmedge-aot", owner="lab2", ready=False, restarts=7)
    healthy = pod("httpbin-native", owner="lab1", restarts=1)
    core = FakePods(looping, starting, theirs, healthy)
    assert [p.ref for p in recovery.crash_looping_pods(core, "wasm-lab", "lab1")] == ["wasm-lab/httpbin-runtime-wasmedge"]


def test_the_variants_pods_carry_their_labs_mark():
    deployment, _ = workloads.variant_objects("runtime-wasmedge", "img", "ns", 30082, lab="lab1")
    assert deployment["spec"]["template"]["metadata"]["annotations"][OWNER] == "lab1"


def test_doctor_names_crash_looping_pods_in_one_line(monkeypatch):
    looping = pod("httpbin-runtime-wasmedge", owner="lab1", ready=False, restarts=7)
    closed = []
    cluster = NS(kubeconfig="k", context="c", close_nodes=lambda: closed.append(True))
    monkeypatch.setattr(doctor.providers, "get", lambda name: NS(attach=lambda spec, state: cluster))
    monkeypatch.setattr(doctor, "Kube", lambda kubeconfig, context: NS(core=FakePods(looping)))
    monkeypatch.setattr(doctor, "State", lambda name: NS(get=lambda key, default=None: "wasm-lab"))
    ok, detail = doctor._crash_looping_pods(NS(name="lab1", provider="kind", namespace="wasm-lab"), True)
    assert not ok and closed == [True]
    assert detail.startswith("1 pod(s) of the lab crash-loop: wasm-lab/httpbin-runtime-wasmedge (wasmedge), ")
    assert detail.endswith("`invoke lab.up` recreates them in new sandboxes")


def test_lab_up_gives_the_labs_crash_looping_pods_a_new_sandbox(ctx):
    from lab.actions.deploy import Deploy

    kube = FakeKube()
    kube.core = FakePods(pod("httpbin-runtime-wasmedge", owner="lab1", ready=False, restarts=7),
                         pod("httpbin-runtime-wasmedge", namespace="dev", owner="lab2", ready=False, restarts=7))
    outcome = Deploy().execute(ctx(kube=kube))
    assert kube.core.deleted == ["wasm-lab/httpbin-runtime-wasmedge"]
    assert outcome.endswith("; recreated wasm-lab/httpbin-runtime-wasmedge (crash-looping)")
