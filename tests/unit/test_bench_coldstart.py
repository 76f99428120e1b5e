"""A cold start run on a fake API and a fake watch: the phases, the first 200, a pod that cannot start."""
import dataclasses
import time
from datetime import datetime, timezone
from types import SimpleNamespace as NS

import pytest

from lab.bench import coldstart, targets
from lab.errors import LabError

CREATED = datetime(2026, 11, 21, 20, 0, 0, tzinfo=timezone.utc)


def pod(node=None, running=False, ready=False, waiting=None):
    state = NS(running=NS(started_at=CREATED) if running else None,
               waiting=NS(reason=waiting, message="no such image") if waiting else None)
    conditions = [NS(type="PodScheduled", status="True", last_transition_time=CREATED)] if node else []
    if ready:
        conditions += [NS(type="ContainersReady", status="True", last_transition_time=CREATED),
                       NS(type="Ready", status="True", last_transition_time=CREATED)]
    return NS(metadata=NS(name="httpbin-native-abc", deletion_timestamp=None, creation_timestamp=CREATED),
              spec=NS(node_name=node),
              status=NS(container_statuses=[NS(state=state)] if node else None, conditions=conditions))


class FakeWatch:
    events = []

    def __init__(self):
        self.stopped = False

    def stream(self, func, *args, **kwargs):
        assert kwargs["timeout_seconds"] > 0 and kwargs["resource_version"] == "7"
        for event_pod in self.events:
            if self.stopped:
                return
            time.sleep(0.03)
            yield {"type": "MODIFIED", "object": event_pod}

    def stop(self):
        self.stopped = True


class OnePodKube:
    """FAKE Kube for one cold start: scales recorded, no pods listed, the pod read back is `final`."""

    def __init__(self, final):
        self.scales = []
        self.deleted = []
        self.final = final
        self.apps = NS(patch_namespaced_deployment_scale=self._scale)
        self.core = NS(list_namespaced_pod=self._list, delete_namespaced_pod=self._delete,
                       read_namespaced_pod=lambda name, namespace: self.final)

    def _scale(self, name, namespace, body):
        self.scales.append(body["spec"]["replicas"])

    def _list(self, namespace, label_selector):
        return NS(items=[], metadata=NS(resource_version="7"))

    def _delete(self, name, namespace, grace_period_seconds):
        self.deleted.append(name)


TARGET = targets.Target(variant="native", deployment="httpbin-native", namespace="wasm-lab",
                        selector="app.kubernetes.io/name=httpbin-native", port=30080, image="img",
                        runtime_class=None, replicas=1)


@pytest.fixture(autouse=True)
def no_settle(monkeypatch):
    monkeypatch.setattr(coldstart, "WATCH_SETTLE", 0)


def test_cold_start_times_each_phase_after_creation(monkeypatch):
    FakeWatch.events = [pod(), pod(node="w"), pod(node="w", running=True), pod(node="w", running=True, ready=True)]
    monkeypatch.setattr(coldstart.watch, "Watch", FakeWatch)
    answered_after = time.monotonic() + 0.15
    monkeypatch.setattr(coldstart, "http_ok", lambda port, path="/get", host="127.0.0.1": time.monotonic() >= answered_after)
    kube = OnePodKube(pod(node="w", running=True, ready=True))
    loaded = []
    run = coldstart.cold_start(kube, TARGET, 1, "repeat", timeout=10, before_start=lambda: loaded.append(1) or 2.5)
    assert run.error is None, run.error
    assert kube.scales == [0, 1] and loaded == [1]
    s = run.seconds
    assert 0 < s["scheduled"] <= s["running"] <= s["ready"]
    assert s["http_200"] is not None and s["http_200"] > 0
    assert run.image_load_seconds == 2.5 and run.node == "w" and run.kind == "repeat"
    assert run.api["created"] == CREATED.isoformat() and run.api["ready"] == CREATED.isoformat()
    assert run.request_to_created is not None


def test_cold_start_stops_early_when_the_pod_cannot_start(monkeypatch):
    FakeWatch.events = [pod(), pod(node="w", waiting="ErrImagePull")]
    monkeypatch.setattr(coldstart.watch, "Watch", FakeWatch)
    monkeypatch.setattr(coldstart, "http_ok", lambda port, path="/get", host="127.0.0.1": False)
    kube = OnePodKube(pod(node="w", waiting="ErrImagePull"))
    started = time.monotonic()
    run = coldstart.cold_start(kube, TARGET, 0, "first", timeout=20)
    assert time.monotonic() - started < 10
    assert "ErrImagePull" in run.error
    assert run.seconds["http_200"] is None and run.seconds["scheduled"] is not None


def test_a_target_without_a_node_port_is_refused_before_it_is_scaled():
    kube = OnePodKube(pod())
    with pytest.raises(LabError, match="native: its Service has no NodePort"):
        coldstart.cold_start(kube, dataclasses.replace(TARGET, port=None), 0, "first")
    assert kube.scales == []


def test_cold_start_gives_up_after_its_timeout(monkeypatch):
    FakeWatch.events = [pod()]
    monkeypatch.setattr(coldstart.watch, "Watch", FakeWatch)
    monkeypatch.setattr(coldstart, "http_ok", lambda port, path="/get", host="127.0.0.1": False)
    run = coldstart.cold_start(OnePodKube(pod()), TARGET, 0, "first", timeout=0.3)
    assert "never answered HTTP 200 on 127.0.0.1:30080" in run.error
