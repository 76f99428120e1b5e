"""lab.kube's one way of saying "absent is fine": a 404 is an answer, every other API error is raised."""
import pytest
from kubernetes.client.exceptions import ApiException

from lab.kube import delete_if_present, read_if_present


def answering(status):
    def call():
        raise ApiException(status=status, reason="from the API")
    return call


def test_a_read_of_an_absent_object_is_none_and_any_other_error_is_raised():
    assert read_if_present(lambda: {"kind": "Pod"}) == {"kind": "Pod"}
    assert read_if_present(answering(404)) is None
    with pytest.raises(ApiException):
        read_if_present(answering(403))


def test_a_delete_says_whether_it_deleted_and_tolerates_only_absent_or_what_the_caller_names():
    assert delete_if_present(lambda: None) is True
    assert delete_if_present(answering(404)) is False
    assert delete_if_present(answering(409), also_fine=(409,)) is False
    for status in (409, 500):
        with pytest.raises(ApiException):
            delete_if_present(answering(status))


def test_a_deployment_is_ready_only_once_no_pod_of_its_is_still_ending():
    """FAKE API: the Deployment's status says ready at once, but the pod of its last rollout ends
    only at the third look; a check begun before then may be sent to it and hang (a 20 s timeout
    in the interrupted-run fault test)."""
    from types import SimpleNamespace as NS

    from lab.kube import Kube

    looks = []
    ready = NS(metadata=NS(generation=2), spec=NS(replicas=1),
               status=NS(observed_generation=2, updated_replicas=1, ready_replicas=1, replicas=1))

    def pods(namespace, label_selector):
        looks.append(label_selector)
        ending = NS(metadata=NS(name="old", deletion_timestamp="now"))
        current = NS(metadata=NS(name="new", deletion_timestamp=None))
        return NS(items=[ending, current] if len(looks) < 3 else [current])

    kube = Kube.__new__(Kube)
    kube.apps = NS(read_namespaced_deployment=lambda name, namespace: ready)
    kube.core = NS(list_namespaced_pod=pods)
    kube.wait_deployment_ready("httpbin-native", "wasm-lab", timeout=10)
    assert looks == ["app.kubernetes.io/name=httpbin-native"] * 3


def test_a_deployment_mid_rollout_is_not_ready_while_its_old_pod_still_serves():
    """FAKE API, the status the controller reports while a changed template rolls out (one replica,
    a surge of one): the new pod runs the latest spec (updated: 1) but is not Ready yet; the old pod
    is Ready (ready: 1) and still gets connections until it is killed, which failed a check in CI
    with a connection closed and then a 20 s timeout. Ready only once the old one is gone."""
    from types import SimpleNamespace as NS

    from lab.kube import Kube, rollout_complete

    rolling = NS(observed_generation=3, updated_replicas=1, ready_replicas=1, replicas=2)
    done = NS(observed_generation=3, updated_replicas=1, ready_replicas=1, replicas=1)
    statuses = [rolling, rolling, done]
    looked = []

    def read(name, namespace):
        looked.append(name)
        return NS(metadata=NS(generation=3), spec=NS(replicas=1), status=statuses[min(len(looked), 3) - 1])

    assert not rollout_complete(NS(metadata=NS(generation=3), spec=NS(replicas=1), status=rolling))
    assert not rollout_complete(NS(metadata=NS(generation=4), spec=NS(replicas=1), status=done))
    kube = Kube.__new__(Kube)
    kube.apps = NS(read_namespaced_deployment=read)
    kube.core = NS(list_namespaced_pod=lambda namespace, label_selector: NS(items=[]))
    kube.wait_deployment_ready("httpbin-runtime-wasmedge", "wasm-lab", timeout=10)
    assert len(looked) == 3


def test_an_api_group_is_made_only_once_the_imports_begun_beside_have_ended(monkeypatch):
    """The client's modules are imported in a thread while kind creates the cluster; the main
    thread must not import the same modules at the same time. The import here is a FAKE that
    waits for the test to let it end."""
    import threading

    from lab import kube as kube_module

    let_go, made = threading.Event(), threading.Event()
    monkeypatch.setattr(kube_module, "_importing", [])
    monkeypatch.setattr(kube_module.importlib, "import_module", lambda name: let_go.wait(10))
    kube_module.import_api_groups_beside()
    kube = object.__new__(kube_module.Kube)
    kube.api_client = None
    threading.Thread(target=lambda: (kube.node_api, made.set()), daemon=True).start()
    assert not made.wait(0.5), "NodeV1Api was made while its module was still being imported beside"
    let_go.set()
    assert made.wait(10)
