"""The existing-cluster provider's decisions, on FAKE nodes and a FAKE API (no cluster).

Node objects are SimpleNamespaces shaped like the client's V1Node; FakeNode records commands
and files. The real flow (installer pods on a kind cluster reached only through its context)
is tests/e2e/test_existing.py."""
import base64
from types import SimpleNamespace as NS

import pytest
import yaml

from lab import spec as lab_spec
from lab.errors import InputError, LabError
from lab.mirrors import ImageRef
from lab.nodes import Node, Result
from lab.providers import existing


def v1node(name, labels=None, runtime="containerd://1.7.24", kubelet="v1.34.2", ip="172.18.0.3",
           os_image="Debian GNU/Linux 13 (trixie)"):
    return NS(metadata=NS(name=name, labels=labels or {}),
              status=NS(node_info=NS(container_runtime_version=runtime, kubelet_version=kubelet, os_image=os_image),
                        addresses=[NS(type="Hostname", address=name), NS(type="InternalIP", address=ip)]))


CONTROL = v1node("c", {"node-role.kubernetes.io/control-plane": ""})


def test_pool_label_first_then_all_workers_then_refusal():
    pool = v1node("w1", {"wasm-lab.dev/pool": "wasm"})
    other = v1node("w2")
    assert existing.select_nodes([CONTROL, pool, other], "") == ([pool], "label wasm-lab.dev/pool=wasm")
    assert existing.select_nodes([CONTROL, other], "") == ([other], "all workers")
    with pytest.raises(LabError, match="no worker node"):
        existing.select_nodes([CONTROL], "")


def test_selector_setting_picks_nodes_and_says_when_none_match():
    gpu = v1node("w1", {"tier": "wasm", "zone": "a"})
    assert existing.select_nodes([CONTROL, gpu, v1node("w2")], "tier=wasm,zone")[0] == [gpu]
    with pytest.raises(LabError, match="^selector: no node matches"):
        existing.select_nodes([gpu], "tier=other")


@pytest.mark.parametrize("node, words", [
    (v1node("k", kubelet="v1.31.4+k3s1"), ["k3s", "/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl"]),
    (v1node("r", kubelet="v1.31.4+rke2r1"), ["rke2", "/var/lib/rancher/rke2/agent/etc/containerd/config.toml.tmpl"]),
    (v1node("o", runtime="cri-o://1.30.0"), ["cri-o://1.30.0", "containerd only"]),
])
def test_unsupported_nodes_are_refused_with_the_reason(node, words):
    with pytest.raises(LabError) as error:
        existing.refuse_unsupported(node)
    assert all(w in str(error.value) for w in words)


def test_k3s_files_found_on_the_node_are_refused_too():
    class K3sNode(Node):
        """FAKE node on which only the k3s containerd folder exists."""
        name = "k"

        def exec(self, argv, input=None):
            return Result(0 if argv == ["test", "-d", existing.RANCHER_DIRS["k3s"]] else 1, "")

    with pytest.raises(LabError, match="runs k3s"):
        existing.ExistingProvider()._refuse_rancher_files(K3sNode())


def test_minified_kubeconfig_keeps_one_context_and_inlines_files(tmp_path):
    (tmp_path / "ca.crt").write_bytes(b"CA")
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "other",
              "contexts": [{"name": "kind-x", "context": {"cluster": "kind-x", "user": "kind-x"}},
                           {"name": "other", "context": {"cluster": "o", "user": "o"}}],
              "clusters": [{"name": "kind-x", "cluster": {"server": "https://127.0.0.1:1", "certificate-authority": "ca.crt"}},
                           {"name": "o", "cluster": {"server": "https://o"}}],
              "users": [{"name": "kind-x", "user": {"token": "t"}}, {"name": "o", "user": {}}]}
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    mini = existing.minified_kubeconfig("kind-x", [path])
    assert mini["current-context"] == "kind-x"
    assert [c["name"] for c in mini["clusters"]] == ["kind-x"]
    assert mini["clusters"][0]["cluster"]["certificate-authority-data"] == base64.b64encode(b"CA").decode()
    with pytest.raises(LabError, match="not in .*contexts: kind-x, other"):
        existing.minified_kubeconfig("nope", [path])


def test_context_is_required_for_existing(empty_cwd):
    with pytest.raises(InputError, match="^context: provider 'existing' needs --context NAME$"):
        lab_spec.load(overrides={"provider": "existing"})
    lab = lab_spec.load(overrides={"provider": "existing", "context": "kind-x", "registry": "localhost:5001"})
    assert (lab.context, lab.registry, lab.selector) == ("kind-x", "localhost:5001", "")


@pytest.mark.parametrize("setting, value", [("registry", "http://x"), ("selector", "a b")])
def test_bad_registry_and_selector_are_refused(empty_cwd, setting, value):
    with pytest.raises(InputError, match=f"^{setting}: "):
        lab_spec.load(overrides={"provider": "existing", "context": "c", setting: value})


def test_image_names():
    assert existing.registry_ref("localhost:5001", "wasm-lab/httpbin:abc") == "localhost:5001/wasm-lab/httpbin:abc"
    assert existing.registry_ref("reg:5000/team", "quay.io/x/y:1") == "reg:5000/team/x/y:1"
    assert str(ImageRef.parse("wasm-lab/httpbin:abc")) == "docker.io/wasm-lab/httpbin:abc"
    assert str(ImageRef.parse("busybox:1")) == "docker.io/library/busybox:1"
    assert str(ImageRef.parse("localhost:5001/a:1")) == "localhost:5001/a:1"


class RecordingNode(Node):
    """FAKE node: records commands and files."""

    def __init__(self, name):
        self.name, self.commands, self.files = name, [], {}

    def exec(self, argv, input=None):
        self.commands.append(argv)
        return Result(0, "")

    def put_file(self, path, content, mode=0o644):
        self.files[path] = content


class FakeDockerAPI:
    """FAKE docker SDK: `get_image` yields a tar named after the image."""

    def get_image(self, ref):
        yield f"tar of {ref}".encode()


def test_without_registry_images_are_imported_into_each_wasm_node():
    provider = existing.ExistingProvider(docker_client=NS(api=FakeDockerAPI()))
    provider.spec = NS(registry="")
    nodes = [RecordingNode("w1"), RecordingNode("w2")]
    cluster = NS(wasm_nodes=nodes)
    assert provider.load_images(cluster, ["wasm-lab/httpbin:native"]) == ["wasm-lab/httpbin:native"]
    target = f"{existing.IMPORT_DIR}/wasm-lab_httpbin_native.tar"
    for node in nodes:
        assert node.files[target] == b"tar of wasm-lab/httpbin:native"
        assert ["ctr", "-n", "k8s.io", "images", "import", "--all-platforms", target] in node.commands
        assert node.commands[-1] == ["rm", "-f", target]


def test_with_registry_images_are_pushed_and_the_registry_refs_returned():
    pushed, tagged = [], []

    class Image:
        def tag(self, repository, tag):
            tagged.append((repository, tag))

    images = NS(get=lambda ref: Image(),
                push=lambda repository, tag, stream, decode: pushed.append((repository, tag)) or iter([{"status": "ok"}]))
    provider = existing.ExistingProvider(docker_client=NS(images=images))
    provider.spec = NS(registry="localhost:5001")
    refs = provider.load_images(NS(wasm_nodes=[]), ["wasm-lab/httpbin:native"])
    assert refs == ["localhost:5001/wasm-lab/httpbin:native"]
    assert tagged == pushed == [("localhost:5001/wasm-lab/httpbin", "native")]


def test_the_tags_made_for_pushing_are_taken_back_and_nothing_without_a_registry():
    """FAKE docker client: forget_pushed() removes the registry-named tags load_images() made."""
    import docker

    removed = []

    def remove(ref):
        if ref.endswith(":gone"):
            raise docker.errors.ImageNotFound("no such image")
        removed.append(ref)

    provider = existing.ExistingProvider(docker_client=NS(images=NS(remove=remove)))
    refs = ["wasm-lab-kit/loadgen:4", "wasm-lab/httpbin:gone"]
    assert provider.forget_pushed(NS(registry="localhost:5001"), refs) == ["image tag localhost:5001/wasm-lab-kit/loadgen:4"]
    assert removed == ["localhost:5001/wasm-lab-kit/loadgen:4"]
    assert provider.forget_pushed(NS(registry=""), refs) == []


def kubeconfig_for(port, context="c"):
    return {"apiVersion": "v1", "kind": "Config", "current-context": context,
            "contexts": [{"name": context, "context": {"cluster": context, "user": "u"}}],
            "clusters": [{"name": context, "cluster": {"server": f"https://127.0.0.1:{port}"}}],
            "users": [{"name": "u", "user": {"token": "t"}}]}


def test_release_takes_back_only_the_pool_labels_it_added_and_the_installer(monkeypatch, tmp_path):
    """FAKE kube and nodes: release() undoes what ensure() added around the lab, nothing else
    (the lab's objects, runtimes and images are undone by the actions, tests/unit/test_ownership.py)."""
    events = []

    class FakeKubeCore:
        def patch_node(self, name, body):
            events.append(("label", name, body["metadata"]["labels"]))

    def delete_owned(api_version, kind, name, lab, namespace=None):
        events.append(("delete-owned", kind, name, lab))
        return True

    kube = NS(core=FakeKubeCore(), delete_owned=delete_owned,
              wait_gone=lambda api_version, kind, name, every=2: events.append(("gone", name)))
    node = RecordingNode("w1")
    node.close = lambda: events.append(("close", "w1"))
    provider = existing.ExistingProvider(kube_factory=lambda kubeconfig, context: kube)
    (tmp_path / "config").write_text(yaml.safe_dump(kubeconfig_for(40001)))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "config"))
    provider._pods = [node]
    existing.ExistingProvider._save(tmp_path, {"pool_labelled": ["w1"]})
    (tmp_path / "kubeconfig").write_text("{}")
    state = NS(dir=tmp_path, get=lambda key, default=None: {"images_used": ["wasm-lab/httpbin:native"]}.get(key, default))
    removed = provider.release(NS(name="ex1", registry="", runtimes=("wasmedge",), context="c"), state)
    assert events == [("label", "w1", {"wasm-lab.dev/pool": None}), ("close", "w1"),
                      ("delete-owned", "Namespace", "wasm-lab-installer-ex1", "ex1"), ("gone", "wasm-lab-installer-ex1")]
    assert removed == ["label wasm-lab.dev/pool from w1", "namespace wasm-lab-installer-ex1"]


def test_a_cluster_recreated_under_the_same_context_is_reached_at_its_new_address(tmp_path, monkeypatch):
    """FAKE kube: attach() reaches the cluster through the lab's copy of the context, written again
    from the user's kubeconfig (the copy a lab.up made holds the old API port)."""
    users = tmp_path / "config"
    users.write_text(yaml.safe_dump(kubeconfig_for(40001)))
    monkeypatch.setenv("KUBECONFIG", str(users))
    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path / "state"))
    state_dir = tmp_path / "state" / "ex1"
    state_dir.mkdir(parents=True)
    (state_dir / "kubeconfig").write_text(yaml.safe_dump(kubeconfig_for(39999)))  # the cluster before
    existing.ExistingProvider._save(state_dir, {"nodes": ["w1"]})
    reached = []

    def kube_factory(kubeconfig, context):
        reached.append(yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"])
        return NS(core=NS(list_node=lambda: NS(items=[v1node("w1")])))

    provider = existing.ExistingProvider(kube_factory=kube_factory)
    monkeypatch.setattr(provider, "_installer_node", lambda kube, name, spec: RecordingNode(name))
    cluster = provider.attach(NS(name="ex1", context="c"), NS(dir=state_dir))
    assert reached == ["https://127.0.0.1:40001"]
    assert [n.name for n in cluster.wasm_nodes] == ["w1"]
    assert (state_dir / "kubeconfig").stat().st_mode & 0o777 == 0o600


def test_preflight_names_an_unknown_context_before_anything_is_built(tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.write_text(yaml.safe_dump({"contexts": [{"name": "a", "context": {"cluster": "a"}}],
                                      "clusters": [{"name": "a", "cluster": {"server": "https://127.0.0.1:1"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(config))
    with pytest.raises(LabError, match="^context: 'nope' is not in .*contexts: a"):
        existing.ExistingProvider().preflight(NS(context="nope"))

    def refused(*args, **kwargs):
        raise ConnectionRefusedError("connection refused")

    provider = existing.ExistingProvider(kube_factory=lambda kubeconfig, context: NS(core=NS(list_node=refused)))
    with pytest.raises(LabError, match="^context a: the cluster's API server does not answer"):
        provider.preflight(NS(context="a"))


def test_runtimes_that_dpkg_install_a_bundle_need_trixie_nodes():
    ubuntu = v1node("u", os_image="Ubuntu 24.04.1 LTS")
    with pytest.raises(LabError, match="runs Ubuntu 24.04.1 LTS; runtime\\(s\\) crun-wasmedge install Debian trixie"):
        existing.refuse_foreign_bundles(ubuntu, ("wasmtime", "crun-wasmedge"))
    existing.refuse_foreign_bundles(ubuntu, ("wasmtime",))
    existing.refuse_foreign_bundles(v1node("t"), ("crun-wasmedge",))
