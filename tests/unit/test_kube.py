"""lab.kube's one way of saying "absent is fine": a 404 is an answer, every other API error is raised."""
import pytest
from kubernetes.client.exceptions import ApiException

from lab.errors import LabError
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


def deployment(name, generation=2, **status):
    from types import SimpleNamespace as NS

    status = {"observed_generation": generation, "updated_replicas": 1, "ready_replicas": 1, "replicas": 1, **status}
    return NS(metadata=NS(name=name, generation=generation), spec=NS(replicas=1), status=NS(**status))


def pod(name, of, ending=False):
    from types import SimpleNamespace as NS

    return NS(metadata=NS(name=name, labels={"app.kubernetes.io/name": of}, deletion_timestamp="now" if ending else None),
              status=NS(phase="Running", container_statuses=[]))


def fake_kube(deployments_at, pods_at=lambda look: []):
    """FAKE API: the namespace's Deployments and pods as each look (1, 2, ...) finds them."""
    from types import SimpleNamespace as NS

    from lab.kube import Kube

    looks = []

    def list_deployments(namespace):
        looks.append(namespace)
        return NS(items=deployments_at(len(looks)))

    kube = Kube.__new__(Kube)
    kube.apps = NS(list_namespaced_deployment=list_deployments)
    kube.core = NS(list_namespaced_pod=lambda namespace, label_selector: NS(items=pods_at(len(looks))),
                   list_namespaced_event=lambda namespace, field_selector: NS(items=[]))
    return kube, looks


def test_a_deployment_is_ready_only_once_no_pod_of_its_is_still_ending():
    """FAKE API: the Deployment's status says ready at once, but the pod of its last rollout ends
    only at the third look; a check begun before then may be sent to it and hang (a 20 s timeout
    in the interrupted-run fault test)."""
    kube, looks = fake_kube(lambda look: [deployment("httpbin-native")],
                            lambda look: [pod("new", "httpbin-native")] + ([pod("old", "httpbin-native", ending=True)]
                                                                           if look < 3 else []))
    kube.wait_deployment_ready("httpbin-native", "wasm-lab", timeout=10)
    assert len(looks) == 3


def test_a_deployment_mid_rollout_is_not_ready_while_its_old_pod_still_serves():
    """FAKE API, the status the controller reports while a changed template rolls out (one replica,
    a surge of one): the new pod runs the latest spec (updated: 1) but is not Ready yet; the old pod
    is Ready (ready: 1) and still gets connections until it is killed, which failed a check in CI
    with a connection closed and then a 20 s timeout. Ready only once the old one is gone."""
    from lab.kube import rollout_complete

    rolling = deployment("httpbin-runtime-wasmedge", generation=3, replicas=2)
    done = deployment("httpbin-runtime-wasmedge", generation=3)
    assert not rollout_complete(rolling)
    assert not rollout_complete(deployment("x", generation=4, observed_generation=3))
    kube, looks = fake_kube(lambda look: [rolling if look < 3 else done])
    kube.wait_deployment_ready("httpbin-runtime-wasmedge", "wasm-lab", timeout=10)
    assert len(looks) == 3


def test_every_deployment_is_waited_for_at_once_and_the_one_never_ready_is_named():
    """FAKE API: three Deployments ready at the first, second and third look: three looks in all,
    one list per look. One that never is (its rollout stuck) is the one the line names."""
    names = ["httpbin-a", "httpbin-b", "httpbin-c"]
    kube, looks = fake_kube(lambda look: [deployment(name) if i < look else deployment(name, replicas=2)
                                          for i, name in enumerate(names)])
    kube.wait_deployments_ready(names, "wasm-lab", timeout=10)
    assert len(looks) == 3

    stuck, _ = fake_kube(lambda look: [deployment("httpbin-a"), deployment("httpbin-b", replicas=2)])
    with pytest.raises(LabError, match=r"^deployment wasm-lab/httpbin-b never became ready within 1s: no pod was created$"):
        stuck.wait_deployments_ready(["httpbin-a", "httpbin-b"], "wasm-lab", timeout=1)


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
