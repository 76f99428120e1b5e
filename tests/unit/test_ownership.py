"""The user's things are sacred: what the lab refuses to take over, what it records, what its
undo takes back. A FAKE Kubernetes API (FakeKube keeps objects in a dict; only the API calls are
replaced, the ownership logic of lab.kube runs as is) and a FAKE node, both from tests/fakes.py;
tests/faults runs the same scenarios on real kit clusters."""
import hashlib
from types import SimpleNamespace as NS

import pytest

from lab import ownership, workloads
from lab.actions.deploy import Deploy
from lab.actions.images import LOADED, LoadImages
from lab.actions.runtimeclasses import CreateRuntimeClasses
from lab.actions.runtimes import InstallRuntimes
from lab.artifacts import Artifacts
from lab.artifacts.local import LocalBundle, LocalFile
from lab.errors import LabError
from lab.kube import OWNER
from lab.nodes import Node, Result
from lab.pipeline import Context, finish_waits_beside
from lab.state import State
from tests.fakes import FakeKube, FakeNode
from tests.unit.test_cluster_and_workloads import lab_spec


@pytest.fixture
def ctx(isolated_state, monkeypatch):
    monkeypatch.setattr(workloads, "wait_answering", lambda url, variant, timeout=90: None)

    def make(adopt=False, namespace="wasm-lab", runtimes=("wasmedge",), kube=None, node=None):
        spec = lab_spec(name="lab1", runtimes=list(runtimes), namespace=namespace, adopt=adopt)
        context = Context(spec=spec, state=State("lab1"), provider=None)
        context.kube = kube or FakeKube()
        context.cluster = NS(check_host="127.0.0.1", wasm_nodes=[node or FakeNode()], created_by_lab=False)
        context.images = {v: f"wasm-lab/httpbin:{v}" for v in spec.variants}
        return context
    return make


def user_object(kind, name, namespace=None, api_version="v1", **extra):
    meta = {"name": name, "labels": {"team": "dev"}}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **extra}


def test_a_users_namespace_is_refused_then_adopted_and_restored_never_deleted(ctx):
    kube = FakeKube()
    kube.apply(user_object("Namespace", "dev"))
    kube.apply(user_object("ConfigMap", "precious", "dev", data={"k": "v"}))
    with pytest.raises(LabError, match="^Namespace dev exists and was not made by wasm-lab.*--adopt"):
        Deploy().execute(ctx(namespace="dev", kube=kube))
    assert kube.read("v1", "Namespace", "dev")["metadata"].get("annotations") is None

    adopted = ctx(adopt=True, namespace="dev", kube=kube)
    Deploy().execute(adopted)
    assert kube.read("v1", "Namespace", "dev")["metadata"]["annotations"][OWNER] == "lab1"
    assert kube.read("apps/v1", "Deployment", "httpbin-native", "dev") is not None
    removed = Deploy().undo(adopted)
    assert "Namespace dev (restored as it was before the lab adopted it)" in removed
    assert kube.read("v1", "Namespace", "dev")["metadata"] == {"name": "dev", "labels": {"team": "dev"}, "uid": "uid-1"}
    assert kube.read("v1", "ConfigMap", "precious", "dev")["data"] == {"k": "v"}
    assert kube.read("apps/v1", "Deployment", "httpbin-native", "dev") is None


def test_the_labs_own_namespace_goes_with_its_variants(ctx):
    c = ctx()
    Deploy().execute(c)
    assert {k[0] for k in c.kube.objects} == {"Namespace", "Deployment", "Service"}
    Deploy().undo(c)
    assert c.kube.objects == {}
    assert c.state.get(ownership.OWNED) == []


def test_once_a_claim_fails_no_further_object_is_applied(ctx, monkeypatch):
    """FAKE API that refuses one object, the third. The variants' objects are applied a few at once;
    once one fails (or lab.up is interrupted) those not begun never are: a run that stops starts
    no rollout no run waits for. Every object applied was recorded first, for lab.down."""
    from lab.actions import deploy

    monkeypatch.setattr(deploy, "CLAIMS_AT_ONCE", 1)
    kube, tried = FakeKube(), []
    applying = kube.apply

    def apply(body):
        tried.append(body["metadata"]["name"])
        if len(tried) == 4:  # the namespace, the first variant's two objects, then this one
            raise LabError(f"{body['kind']} {body['metadata']['name']} refused")
        return applying(body)
    kube.apply = apply
    c = ctx(kube=kube)
    with pytest.raises(LabError, match="refused"):
        Deploy().execute(c)
    # one more may have been under way when the failure was seen; of the other 19, none
    assert len(tried) <= 5, tried
    recorded = {key.split("|")[3] for key in c.state.get(ownership.OWNED)}
    assert set(tried) <= recorded


def test_the_labs_namespace_is_deleted_only_once_the_variants_pods_are_gone(ctx):
    """The namespace controller, finding pods in a namespace it deletes, looks again only after
    their grace period: the lab waits for its own pods first (another's are not waited for)."""
    kube = FakeKube()
    c = ctx(kube=kube)
    Deploy().execute(c)
    events, polls = [], iter(range(3))

    def pods(namespace):
        left = [NS(metadata=NS(name="yours", annotations=None))]
        if next(polls, None) is not None:
            left.append(NS(metadata=NS(name="httpbin-embed-wasmtime-1", annotations={OWNER: "lab1"})))
        events.append(("pods", len(left)))
        return NS(items=left)
    kube.core.list_namespaced_pod = pods
    deleting = kube.delete
    kube.delete = lambda api_version, kind, name, namespace=None: (events.append((kind, name)),
                                                                   deleting(api_version, kind, name, namespace))[1]
    Deploy().undo(c)
    assert events.index(("Namespace", "wasm-lab")) > events.index(("pods", 1)) > max(
        i for i, e in enumerate(events) if e[0] == "Deployment")
    assert events.count(("pods", 2)) == 3


def test_another_labs_runtimeclass_is_shared_and_left_a_users_is_refused(ctx):
    kube = FakeKube()
    theirs = workloads.runtime_class("wasmedge")
    theirs["metadata"]["annotations"] = {OWNER: "lab0"}
    kube.apply(theirs)
    kube.apply(user_object("RuntimeClass", "wasmtime", api_version="node.k8s.io/v1", handler="wasmtime"))
    c = ctx(kube=kube)
    assert CreateRuntimeClasses().execute(c) == "wasmedge shared"
    assert CreateRuntimeClasses().undo(c) == [] and kube.read("node.k8s.io/v1", "RuntimeClass", "wasmedge")
    with pytest.raises(LabError, match="^RuntimeClass wasmtime exists and was not made by wasm-lab"):
        CreateRuntimeClasses().execute(ctx(kube=kube, runtimes=("wasmtime",)))
    adopted = ctx(kube=kube, runtimes=("wasmtime",), adopt=True)
    assert CreateRuntimeClasses().execute(adopted) == "wasmtime adopted"
    assert kube.read("node.k8s.io/v1", "RuntimeClass", "wasmtime")["scheduling"]
    CreateRuntimeClasses().undo(adopted)
    restored = kube.read("node.k8s.io/v1", "RuntimeClass", "wasmtime")
    assert "scheduling" not in restored and restored["metadata"]["labels"] == {"team": "dev"}


@pytest.fixture
def shim(tmp_path):
    path = tmp_path / "containerd-shim-wasmedge-v1"
    path.write_bytes(b"\x7fELF lab shim")
    return {"shim-wasmedge": LocalFile(path, hashlib.sha256(path.read_bytes()).hexdigest())}


def with_artifacts(context, files):
    context.artifacts = Artifacts("offline", files=files)
    return context


def test_a_users_shim_file_is_refused_then_kept_aside_and_put_back(ctx, shim, monkeypatch):
    from lab import recovery

    brought_back = []
    monkeypatch.setattr(recovery, "bring_back", lambda core, node, lab, namespace, before, without=(): brought_back.append(node)
                        or recovery.Recovery([], []))
    node = FakeNode()
    node.files["/usr/local/bin/containerd-shim-wasmedge-v1"] = b"the user's own shim"
    with pytest.raises(LabError, match="containerd-shim-wasmedge-v1 exists and is not the lab's.*--adopt"):
        InstallRuntimes().execute(with_artifacts(ctx(node=node), shim))
    assert node.restarts == 0 and node.files["/usr/local/bin/containerd-shim-wasmedge-v1"] == b"the user's own shim"

    adopted = with_artifacts(ctx(node=node, adopt=True), shim)
    InstallRuntimes().execute(adopted)
    assert node.files["/usr/local/bin/containerd-shim-wasmedge-v1"] == b"\x7fELF lab shim"
    assert adopted.kube.core.labels["fake-worker"] == {"wasm-lab.dev/runtime-wasmedge": "installed"}
    InstallRuntimes().undo(adopted)
    assert brought_back == ["fake-worker", "fake-worker"]  # after the restart of install and of undo
    assert node.files["/usr/local/bin/containerd-shim-wasmedge-v1"] == b"the user's own shim"
    assert adopted.kube.core.labels["fake-worker"] == {}
    assert b"wasmedge" not in node.files["/etc/containerd/config.toml"]


def test_a_runtime_another_lab_installed_is_verified_and_left_to_it(ctx, shim):
    node = FakeNode()
    first = with_artifacts(ctx(node=node), shim)
    InstallRuntimes().execute(first)
    config = node.files["/etc/containerd/config.toml"]
    second = with_artifacts(ctx(node=node), shim)
    second.state = State("lab2")
    second.kube.core.labels = first.kube.core.labels
    assert "there already (not the lab's to remove)" in InstallRuntimes().execute(second)
    assert InstallRuntimes().undo(second) == []
    assert node.files["/etc/containerd/config.toml"] == config
    assert node.files["/usr/local/bin/containerd-shim-wasmedge-v1"] == b"\x7fELF lab shim"


class FakeProvider:
    """FAKE provider: a cluster that exists, with an identity the test sets."""
    name, creates_clusters = "kind", True

    def __init__(self, identity):
        self.current = identity

    def exists(self, spec):
        return True

    def identity(self, spec):
        return self.current


def test_a_same_named_cluster_the_lab_did_not_make_is_refused_unless_adopted(ctx):
    from lab.actions.cluster import EnsureCluster

    c = ctx()
    with pytest.raises(LabError, match="^kind cluster lab1 exists and was not created by this lab.*--adopt"):
        EnsureCluster.refuse_foreign(FakeProvider("abc"), c.spec, c.state)
    EnsureCluster.refuse_foreign(FakeProvider("abc"), ctx(adopt=True).spec, c.state)
    assert c.state.get("cluster_adopted") is True


def test_a_cluster_made_again_by_hand_is_not_the_labs(ctx):
    from lab.actions.cluster import EnsureCluster

    c = ctx()
    c.state.set("cluster_created", True)
    c.state.set("cluster_id", "first")
    EnsureCluster.refuse_foreign(FakeProvider("first"), c.spec, c.state)
    with pytest.raises(LabError, match="was made again outside the lab"):
        EnsureCluster.refuse_foreign(FakeProvider("second"), c.spec, c.state)
    c.provider = FakeProvider("second")
    assert EnsureCluster().undo(c) == []  # lab.down leaves it


def test_one_lab_name_runs_one_command_at_a_time(isolated_state, monkeypatch, capsys):
    import threading

    from lab import state as state_module

    monkeypatch.setattr(state_module, "LOCK_WAIT_SECONDS", 1)
    holding, release = threading.Event(), threading.Event()

    def hold():
        with State("lab1").lock("lab.up"):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(10)
    try:
        with pytest.raises(LabError, match=r"^lab lab1 was still busy \(lab.up, pid \d+\) after 1s"):
            with State("lab1").lock("lab.down"):
                pass
        assert "lab lab1 is busy (lab.up, pid" in capsys.readouterr().err
    finally:
        release.set()
        thread.join()
    with State("lab1").lock("lab.down"):
        pass


def test_state_writes_merge_instead_of_overwriting(isolated_state):
    a, b = State("lab1"), State("lab1")
    a.set("kubeconfig", "k")
    b.add("images", "x")
    assert State("lab1").data == {"kubeconfig": "k", "images": ["x"]}
    assert oct(State("lab1").path.stat().st_mode & 0o777) == "0o600"
    assert oct(State("lab1").dir.stat().st_mode & 0o777) == "0o700"


def test_objects_of_a_lab_from_before_the_owner_mark_are_still_its_own(ctx):
    kube = FakeKube()
    legacy = workloads.namespace_object("wasm-lab")  # labelled managed-by wasm-lab, no owner annotation
    kube.apply(legacy)
    c = ctx(kube=kube)
    Deploy().execute(c)
    assert kube.read("v1", "Namespace", "wasm-lab")["metadata"]["annotations"][OWNER] == "lab1"
    assert c.state.get(ownership.ADOPTED, {}) == {}



def test_a_bundle_goes_with_the_last_runtime_of_the_lab_that_needs_it(ctx, tmp_path):
    """The kit's WasmEdge shim and crun-wasmedge share the wasmedge-libs bundle (trixie .debs):
    it stays while either is installed, then its uninstall script and folder go."""
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "install.sh").write_text("dpkg -i ...\n")
    shim_path = tmp_path / "shim"
    shim_path.write_bytes(b"\x7fELF kit shim")
    files = {"shim-wasmedge": LocalFile(shim_path, hashlib.sha256(shim_path.read_bytes()).hexdigest(),
                                        needs=("wasmedge-libs",)),
             "wasmedge-libs": LocalBundle(tmp_path / "bundle", {"install.sh": hashlib.sha256(b"dpkg -i ...\n").hexdigest()})}
    node = FakeNode()
    both = with_artifacts(ctx(node=node, runtimes=("wasmedge", "crun-wasmedge")), files)
    said = InstallRuntimes().execute(both)
    assert node.installs == ["/opt/wasm-lab/crun-wasmedge/install.sh"]
    # both runtimes in one config change: one containerd restart on the node, said once
    assert node.restarts == 1 and said.count("containerd restarted") == 1
    assert both.state.get("bundles_on_nodes") == {"/opt/wasm-lab/crun-wasmedge@fake-worker": {
        "uninstall": "uninstall.sh", "runtimes": ["crun-wasmedge", "wasmedge"]}}

    assert not [line for line in InstallRuntimes().undo(both, ("crun-wasmedge",)) if "packages" in line]
    assert node.uninstalls == [] and "/opt/wasm-lab/crun-wasmedge/install.sh" in node.files
    assert node.restarts == 2
    InstallRuntimes().execute(both)  # crun-wasmedge back, so lab.down takes two runtimes off the node
    removed = InstallRuntimes().undo(both)
    assert node.restarts == 4  # one restart to put it back, ONE for both runtimes coming off
    assert "/opt/wasm-lab/crun-wasmedge and the packages it added from fake-worker" in removed
    assert node.uninstalls == ["/opt/wasm-lab/crun-wasmedge/uninstall.sh"]
    assert not [p for p in node.files if p.startswith("/opt/wasm-lab/")]
    assert both.state.get("bundles_on_nodes") == {}


def test_each_action_writes_only_the_state_keys_it_declares(ctx, shim, monkeypatch):
    """Run and undo the actions that reach the cluster, each inside its declaration (as lab.up and
    lab.down run them): a key an action writes without declaring it is refused."""
    from lab import recovery

    monkeypatch.setattr(recovery, "bring_back", lambda *args, **kwargs: recovery.Recovery([], []))
    c = with_artifacts(ctx(), shim)
    steps = [InstallRuntimes(), CreateRuntimeClasses(), Deploy()]
    for action in steps:
        with c.state.declared(action):
            action.execute(c)
    written = set(c.state.data)
    for action in reversed(steps):
        with c.state.declared(action):
            action.undo(c)
    declared = {key for action in steps for key in (*action.records, *action.notes)}
    assert written <= declared and {ownership.OWNED, "runtimes_on_nodes", "labels_on_nodes"} <= written


def test_on_a_cluster_this_run_made_a_restart_waits_for_no_pod(ctx, shim, monkeypatch):
    """Only the cluster's own pods run on a node kind made moments ago: nobody's pods to bring back
    or name, so the restart is not followed by the wait for pods to settle (the FAKE API says
    which pods it was asked for)."""
    from lab import recovery

    asked = []
    monkeypatch.setattr(recovery, "ready_pods", lambda core, node: asked.append(node) or [])
    fresh = with_artifacts(ctx(), shim)
    fresh.cluster.created_by_lab = True
    assert "containerd restarted" in InstallRuntimes().execute(fresh)
    assert asked == []
    reused = with_artifacts(ctx(runtimes=("wasmtime",)), shim)
    InstallRuntimes().undo(reused)
    finish_waits_beside(reused)
    assert asked == ["fake-worker"]


def test_lab_down_takes_the_runtimes_off_several_nodes_side_by_side(ctx, shim, monkeypatch):
    """Two FAKE nodes whose containerd restarts meet at a barrier: one node after the other would
    break it (each restart waits for the other node's)."""
    import threading

    from lab import recovery

    monkeypatch.setattr(recovery, "bring_back", lambda *a, **k: recovery.Recovery([], []))
    first, second = FakeNode(), FakeNode()
    first.name, second.name = "worker-1", "worker-2"
    context = with_artifacts(ctx(node=first), shim)
    context.cluster.wasm_nodes.append(second)
    InstallRuntimes().execute(context)
    assert first.restarts == second.restarts == 1
    both = threading.Barrier(2, timeout=5)
    for node in (first, second):
        plain = node.exec

        def meeting(argv, input=None, plain=plain):
            if argv == ["systemctl", "restart", "containerd"]:
                both.wait()
            return plain(argv, input)
        node.exec = meeting
    removed = InstallRuntimes().undo(context) + finish_waits_beside(context)
    assert sorted(removed) == ["wasmedge from worker-1 (containerd config restored)",
                               "wasmedge from worker-2 (containerd config restored)"]
    assert first.restarts == second.restarts == 2 and context.state.get("runtimes_on_nodes") == []


class ImagesNode(Node):
    """FAKE node: a containerd image store (ref -> manifest digest), and the commands it was asked to run."""

    def __init__(self, name, images):
        self.name, self.images, self.commands = name, dict(images), []

    def exec(self, argv, input=None):
        self.commands.append(argv)
        assert argv[:4] == ["ctr", "-n", "k8s.io", "images"], argv
        if argv[4] == "ls":
            return Result(0, "REF TYPE DIGEST SIZE PLATFORMS LABELS\n" + "".join(
                f"{ref} application/vnd.oci.image.manifest.v1+json {digest} 1.0 MiB linux/amd64 -\n"
                for ref, digest in self.images.items()), "")
        assert argv[4] == "rm", argv
        gone = [name for name in argv[5:] if name in self.images]
        for name in gone:
            del self.images[name]
        return Result(0, "".join(f"{name}\n" for name in gone), "")


def pulled(repo_tag, digest, config):
    """A tag as containerd's CRI leaves it after a pull: the tag, repo@digest and the config id."""
    repo = repo_tag.rpartition(":")[0]
    return {repo_tag: digest, f"{repo}@{digest}": digest, f"sha256:{config}": digest}


def test_the_images_the_lab_brought_leave_each_node_in_one_command_and_only_those(ctx):
    native, embed = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    a = ImagesNode("a", {**pulled("x/native:1", native, "a" * 64), **pulled("x/embed:1", embed, "b" * 64),
                         "yours:1": "sha256:" + "3" * 64})
    b = ImagesNode("b", {**pulled("x/native:1", native, "a" * 64), "yours/native:2": native})
    c = ctx()
    c.cluster.wasm_nodes = [a, b]
    for mark in ("x/native:1@a", "x/embed:1@a", "x/native:1@b", "x/embed:1@b", "x/native:1@gone-node"):
        c.state.add(LOADED, mark)
    with c.state.declared(LoadImages()):
        removed = LoadImages().undo(c)
    assert sorted(removed) == ["image x/embed:1 from a", "image x/native:1 from a", "image x/native:1 from b"]
    assert [argv[4] for argv in a.commands] == [argv[4] for argv in b.commands] == ["ls", "rm"]
    assert a.images == {"yours:1": "sha256:" + "3" * 64}
    # a tag of the user's points at the same image on b: what containerd made beside it stays
    assert b.images == {f"x/native@{native}": native, "sha256:" + "a" * 64: native, "yours/native:2": native}
    assert c.state.get(LOADED) == []
