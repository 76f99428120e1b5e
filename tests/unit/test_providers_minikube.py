"""The minikube provider's commands, checked with a FAKE runner that records every argv and
answers like minikube would (no minikube binary is run: none can be installed offline here,
see docs/providers.md). The API side (labels, taints) goes to a FAKE CoreV1Api."""
import json
import os
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from lab import spec as lab_spec
from lab.nodes import SshNode
from lab.providers import minikube
from tests.fakes import FakeCore


class FakeRunner:
    """FAKE lab.proc.run / run_logged: records argv, answers profile/status/node list from a dict."""

    def __init__(self, profiles=(), host="Running", nodes=("lab", "lab-m02")):
        self.calls, self.logged = [], []
        self.profiles, self.host, self.nodes = list(profiles), host, list(nodes)

    def run(self, argv, check=True, env=None, **kw):
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        out = ""
        if argv[1:4] == ["profile", "list", "-o"]:
            out = json.dumps({"valid": [{"Name": p} for p in self.profiles], "invalid": []})
        elif argv[1] == "status":
            out = json.dumps({"Name": "lab", "Host": self.host})
        elif argv[1:3] == ["node", "list"]:
            out = "".join(f"{n}\t192.168.49.{i + 2}\n" for i, n in enumerate(self.nodes))
        return NS(returncode=0, stdout=out, stderr="")

    def run_logged(self, argv, *, label, log, env=None, cwd=None):
        self.logged.append(([str(a) for a in argv], env))
        return 1.0


class FakeNetworks:
    """FAKE docker networks: the profile's network, left behind by `minikube delete`."""

    def __init__(self):
        self.removed = []

    def list(self, filters):
        name = filters["label"].split("=", 1)[1]
        return [NS(name=name, attrs={"Containers": {}}, remove=lambda: self.removed.append(name))]


class FakeState:
    """FAKE lab.state.State: a dict, in memory."""

    def __init__(self, directory):
        self.dir, self.data = directory, {}

    def get(self, key, default=None):
        return self.data.get(key, default)

    def set(self, key, value):
        self.data[key] = value


@pytest.fixture
def lab(empty_cwd):
    return lab_spec.load(overrides={"provider": "minikube", "name": "lab", "workers": 1})


@pytest.fixture
def provider(monkeypatch):
    monkeypatch.setattr(minikube, "minikube_binary", lambda: "minikube")
    runner, core = FakeRunner(), FakeCore()
    made = minikube.MinikubeProvider(runner=runner.run, logged_runner=runner.run_logged,
                                     kube_factory=lambda kubeconfig, context: NS(core=core),
                                     file_from_image=lambda ref, path: f"# {path} from {ref}\n".encode(),
                                     docker_client=NS(networks=FakeNetworks()))
    return made, runner, core


def test_start_command_docker_driver_containerd_profile_no_published_ports(lab):
    argv = minikube.start_argv(lab)
    assert argv[:4] == ["minikube", "start", "-p", "lab"]
    assert "--driver=docker" in argv and "--container-runtime=containerd" in argv
    assert "--kubernetes-version=v1.34.2" in argv and "--nodes=2" in argv
    # minikube would publish them on every node: the second node's container could not start
    assert not [a for a in argv if a.startswith("--ports")]


def test_start_command_with_the_kit_base_image_fetches_nothing(lab, tmp_path):
    argv = minikube.start_argv(lab, base_image="wasm-lab-kit/minikube-node:v1.34.2", cni_manifest=tmp_path / "cni.yaml")
    for flag in ("--base-image=wasm-lab-kit/minikube-node:v1.34.2", "--preload=false", "--cache-images=false",
                 "--install-addons=false", f"--cni={tmp_path / 'cni.yaml'}", "--force"):
        assert flag in argv
    assert "--force" not in minikube.start_argv(lab, as_root=False)
    assert "--force" in minikube.start_argv(lab, as_root=True)


def test_kit_profile_gets_the_pod_network_manifest_from_the_base_image(lab, provider, tmp_path):
    made, runner, core = provider
    made.ensure(lab, "wasm-lab-kit/minikube-node:v1.34.2", FakeState(tmp_path))
    (argv, env), = runner.logged
    manifest = tmp_path / "minikube-cni.yaml"
    assert f"--cni={manifest}" in argv and env["MINIKUBE_WANTUPDATENOTIFICATION"] == "false"
    assert manifest.read_text() == f"# {minikube.KIT_CNI_MANIFEST} from wasm-lab-kit/minikube-node:v1.34.2\n"


def test_new_profile_is_started_with_its_kubeconfig_in_the_state_folder(lab, provider, tmp_path):
    made, runner, core = provider
    state = FakeState(tmp_path)
    cluster = made.ensure(lab, None, state)
    (argv, env), = runner.logged
    assert argv == minikube.start_argv(lab, as_root=os.geteuid() == 0)
    assert state.data == {"cluster_creating": False, "cluster_created": True}
    assert cluster.check_host == "192.168.49.2"  # the first node, on minikube's network
    assert env["KUBECONFIG"] == str(tmp_path / "kubeconfig")
    assert cluster.created_by_lab and cluster.context == "lab"
    assert [type(n) for n in cluster.wasm_nodes] == [SshNode] and cluster.wasm_nodes[0].name == "lab-m02"
    assert [n.name for n in cluster.nodes] == ["lab", "lab-m02"]
    (name, body), = core.patches
    assert name == "lab-m02" and body["metadata"]["labels"] == {"wasm-lab.dev/pool": "wasm"}
    assert body["spec"]["taints"] == [minikube.TAINT]


def test_running_profile_is_reused_without_a_start(lab, provider, tmp_path):
    made, runner, _ = provider
    runner.profiles = ["lab"]
    cluster = made.ensure(lab, None, FakeState(tmp_path))
    assert runner.logged == [] and not cluster.created_by_lab
    assert ["minikube", "update-context", "-p", "lab"] in runner.calls


def test_stopped_profile_is_started_again_and_shims_are_reapplied_by_the_pipeline(lab, provider, tmp_path):
    made, runner, _ = provider
    runner.profiles, runner.host = ["lab"], "Stopped"
    cluster = made.ensure(lab, None, FakeState(tmp_path))
    assert runner.logged[0][0][:2] == ["minikube", "start"] and not cluster.created_by_lab


def test_images_load_and_delete(lab, provider, tmp_path):
    made, runner, _ = provider
    cluster = NS(name="lab", kubeconfig=Path(tmp_path / "kubeconfig"))
    assert made.load_images(cluster, ["wasm-lab/httpbin:native"]) == ["wasm-lab/httpbin:native"]
    assert runner.logged[-1][0] == ["minikube", "-p", "lab", "image", "load", "wasm-lab/httpbin:native"]
    runner.profiles = ["lab"]
    assert made.delete(lab, FakeState(tmp_path)) == ["minikube profile lab", "Docker network lab"]
    assert runner.logged[-1][0] == ["minikube", "delete", "-p", "lab"]


def test_ssh_node_quotes_arguments_and_uses_sudo(monkeypatch):
    seen = []
    import subprocess

    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: seen.append(argv) or NS(returncode=0, stdout=b"", stderr=b""))
    SshNode("lab", "lab-m02").run(["sh", "-c", "ls /etc/containerd/*.toml"])
    assert seen[0][:8] == ["minikube", "-p", "lab", "ssh", "-n", "lab-m02", "--", "sudo"]
    assert seen[0][-1] == "'ls /etc/containerd/*.toml'"


def test_ssh_node_turns_the_terminal_line_ends_back(monkeypatch):
    import subprocess

    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: NS(returncode=0, stdout=b"version = 2\r\n[plugins]\r\n",
                                                                   stderr=b""))
    assert SshNode("lab", "lab-m02").read_file("/etc/containerd/config.toml") == "version = 2\n[plugins]\n"


def test_ssh_node_copies_files_with_minikube_cp(monkeypatch):
    import subprocess

    seen = []
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: seen.append(argv) or NS(returncode=0, stdout=b"", stderr=b""))
    SshNode("lab", "lab-m02", "/kit/minikube").put_file("/usr/local/bin/shim", b"\x7fELF", mode=0o755)
    assert seen[0][:4] == ["/kit/minikube", "-p", "lab", "cp"] and seen[0][5] == "lab-m02:/tmp/wasm-lab-shim"
    assert seen[1][-5:] == ["install", "-D", "-m", "755", "/tmp/wasm-lab-shim", "/usr/local/bin/shim"][-5:]


def test_a_remote_commands_own_exit_status_comes_through_minikube_ssh(monkeypatch):
    """FAKE minikube binary answer: `minikube ssh` exits 1 and names the remote status."""
    import subprocess

    from lab.nodes import SshNode

    done = subprocess.CompletedProcess([], 1, b"", b"ssh: Process exited with status 3\r\n")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: done)
    assert SshNode("p", "p-m02").read_file("/absent") is None
