"""The installer-pod node (lab/providers/installer_pod.py) against a FAKE Kubernetes API and a FAKE node.

FakeCore (tests/fakes.py) stands in for CoreV1Api (pods and namespaces kept in dicts, a pod is Running as
soon as it is created); FakeHost stands in for the exec endpoint plus the node behind it: it checks the
nsenter prefix, keeps files in a dict and plays the node's systemd for the guarded containerd
restart. These fakes test the lab's logic (pod spec, command prefix, file transfer, restart
guard, rollback through lab.node_runtimes); the real path runs in tests/e2e/test_existing.py."""
import hashlib
import shlex
from types import SimpleNamespace as NS

import pytest
from kubernetes.client.exceptions import ApiException

from lab import kube, node_runtimes
from lab.artifacts.local import LocalFile
from lab.catalog import Runtime
from lab.errors import LabError
from lab.nodes import Result
from lab.proc import CommandFailed
from lab.providers import installer_pod
from tests import fakes
from tests.fakes import KIND_CONFIG, FakeCore, UnexpectedCommand

WASMEDGE = Runtime(name="wasmedge", handler="wasmedge", runtime_type="io.containerd.wasmedge.v1",
                   files=({"source": "shim-wasmedge", "dest": "/usr/local/bin/containerd-shim-wasmedge-v1"},))
LOADER = "/host/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"


class FakeHost:
    """A fake exec endpoint and the node behind it (files in a dict, systemd played in-process)."""

    def __init__(self, restart_breaks=False):
        self.files = {node_runtimes.MAIN_CONFIG: KIND_CONFIG.encode()}
        self.commands, self.restarts = [], 0
        self.restart_breaks = restart_breaks  # containerd will not start on a config holding "wasmedge"

    def __call__(self, core, pod, namespace, command, stdin, timeout):
        self.commands.append(command)
        if command[:2] == [LOADER, "--version"]:
            return Result(0, "ld.so (GLIBC)")
        if command[0].startswith("/host/") and command[0] != LOADER:
            return Result(126, "", "no such file")
        prefix = [LOADER, "--library-path", ":".join("/host" + d for d in installer_pod.LIBRARY_DIRS),
                  "/host/usr/bin/nsenter", *installer_pod.NSENTER_ARGS]
        if command[:len(prefix)] != prefix:
            return Result(126, "", f"unexpected prefix {command[:4]}")
        return self.node(command[len(prefix):], stdin)

    def node(self, argv, stdin):
        if argv == ["true"]:
            return Result(0, "")
        if argv[0] == "cat":  # the restart guard's status file
            data = self.files.get(argv[1])
            return Result(0, data.decode()) if data is not None else Result(1, "", "No such file")
        answered = fakes.answer(self.files, argv)
        if answered is not None:
            return answered
        if argv[0] == "test":
            return Result(0 if argv[2] in self.files else 1, "")
        if argv[:2] == ["rm", "-f"]:
            for path in argv[2:]:
                self.files.pop(path, None)
            return Result(0, "")
        if argv[:2] == ["sh", "-c"] and argv[3] == "guard":
            path, suffix = argv[4], argv[5]
            if path in self.files:
                self.files[path + suffix] = self.files[path]
            return Result(0, "")
        if argv[:2] == ["sh", "-c"] and argv[3] == "put":
            path, size = argv[4], int(argv[5])
            assert len(stdin) == size
            self.files[path] = stdin[:size]
            return Result(0, "")
        if argv[0] == "systemd-run":
            assert "--on-active=2" in argv
            assert "--timer-property=AccuracySec=100ms" in argv
            self.run_guard(argv[-1], argv[argv.index("--timer-property=AccuracySec=100ms") + 1:])
            return Result(0, "")
        if argv == ["ctr", "version"]:
            return Result(0, "ok")
        if argv == ["containerd", "config", "dump"]:
            return Result(0, self.files[node_runtimes.MAIN_CONFIG].decode())
        raise UnexpectedCommand(f"unexpected node command {argv}")

    def run_guard(self, script, argv):
        """Play the guard script the way systemd would run it: restart, check, restore on failure."""
        assert argv[:2] == ["/bin/sh", "-c"]
        self.restarts += 1
        status = script.split("echo ok > ")[1].split(";")[0].removesuffix(".new")
        broken = self.restart_breaks and b"wasmedge" in self.files[node_runtimes.MAIN_CONFIG]
        if not broken:
            for word in shlex.split(script.split("if up; then")[1].split("echo ok")[0]):
                if word.endswith(installer_pod.PREVIOUS_SUFFIX + ";"):
                    self.files.pop(word[:-1], None)
            self.files[status] = b"ok\n"
            return
        restore = script.split("exit 0; fi;")[1].split("systemctl restart")[0]
        for command in filter(None, (c.strip() for c in restore.split(";"))):
            words = shlex.split(command)
            if words[:2] == ["mv", "-f"]:
                self.files[words[3]] = self.files.pop(words[2])
            elif words[:2] == ["rm", "-f"]:
                self.files.pop(words[2], None)
        self.restarts += 1
        self.files[status] = b"rolled-back\n"


@pytest.fixture
def shim_file(tmp_path):
    path = tmp_path / "containerd-shim-wasmedge-v1"
    path.write_bytes(b"\x7fELF shim" * 1000)
    return {"shim-wasmedge": LocalFile(path, hashlib.sha256(path.read_bytes()).hexdigest())}


def node_for(core, host, **kw):
    node = installer_pod.InstallerPodNode(core, "lab1", "kind-worker", exec_fn=host, **kw)
    node.restart_timeout = 10
    return node


def test_pod_is_privileged_host_pid_pinned_to_its_node_and_runs_the_pause_image():
    pod = installer_pod.pod_manifest("lab1", "kind-worker", "registry.k8s.io/pause:3.10.1", borrow_host_tools=True)
    spec, container = pod["spec"], pod["spec"]["containers"][0]
    assert spec["nodeName"] == "kind-worker" and spec["hostPID"] and spec["hostNetwork"]
    assert container["securityContext"] == {"privileged": True, "runAsUser": 0, "runAsGroup": 0}
    assert container["volumeMounts"] == [{"name": "host", "mountPath": "/host"}]
    assert spec["volumes"][0]["hostPath"]["path"] == "/"
    assert spec["tolerations"] == [{"operator": "Exists"}]
    assert "command" not in container  # the pause image's own entrypoint keeps it alive
    assert pod["metadata"]["namespace"] == "wasm-lab-installer-lab1"
    assert pod["metadata"]["annotations"]["wasm-lab.dev/owner"] == "lab1"
    assert pod["spec"]["activeDeadlineSeconds"] == installer_pod.POD_DEADLINE
    assert installer_pod.pod_manifest("lab1", "n", "debian:trixie", borrow_host_tools=False)["spec"]["containers"][0][
        "command"] == ["sleep", "infinity"]


def test_long_node_names_give_valid_pod_names():
    name = installer_pod.pod_name("a-lab-name-of-thirty-two-letters",
                              "ip-10-0-0-1.eu-west-1.compute.internal.very.long.example.com")
    assert len(name) <= 63 and name == name.lower() and not name.endswith("-")


def test_first_command_creates_namespace_and_pod_and_borrows_the_node_nsenter():
    core, host = FakeCore(), FakeHost()
    node = node_for(core, host)
    assert node.read_file(node_runtimes.MAIN_CONFIG) == KIND_CONFIG
    assert core.namespaces["wasm-lab-installer-lab1"]["metadata"]["annotations"] == {"wasm-lab.dev/owner": "lab1"}
    pod = core.pods[installer_pod.pod_name("lab1", "kind-worker")]
    assert pod["spec"]["containers"][0]["image"] == "registry.k8s.io/pause:3.10.1"
    assert host.commands[-1][-2:] == ["read", node_runtimes.MAIN_CONFIG]
    assert node.close() and core.deleted == [installer_pod.pod_name("lab1", "kind-worker")] and not core.pods
    assert not node.close()  # nothing left to let go of


def test_each_action_gets_a_fresh_pod_and_none_outlives_it():
    core, host = FakeCore(), FakeHost()
    node = node_for(core, host)
    node.run(["true"])
    node.close()
    node.run(["true"])
    assert list(core.pods) == [installer_pod.pod_name("lab1", "kind-worker")]
    node.close()
    assert core.pods == {} and len(core.deleted) == 2


def test_image_pull_failure_is_reported_with_its_reason():
    node = node_for(FakeCore(waiting="ErrImageNeverPull"), FakeHost())
    with pytest.raises(LabError, match="ErrImageNeverPull"):
        node.run(["true"])


def test_node_without_pause_image_asks_for_installer_image():
    node = node_for(FakeCore(images=("docker.io/library/nginx:1",)), FakeHost())
    with pytest.raises(LabError, match="installer_image"):
        node.run(["true"])


def test_put_file_sends_exact_bytes_through_head_c(shim_file):
    core, host = FakeCore(), FakeHost()
    node = node_for(core, host)
    node.put_file("/usr/local/bin/x", b"\x00\x01binary\xff", 0o755)
    assert host.files["/usr/local/bin/x"] == b"\x00\x01binary\xff"
    put = [c for c in host.commands if "put" in c][0]
    assert put[-3:] == ["/usr/local/bin/x", "9", "755"]


def test_install_then_uninstall_through_the_pod_restores_the_config_byte_for_byte(shim_file):
    core, host = FakeCore(), FakeHost()
    node = node_for(core, host)
    before = hashlib.sha256(host.files[node_runtimes.MAIN_CONFIG]).hexdigest()
    report = node_runtimes.install(node, WASMEDGE, shim_file)
    assert report.config_changed and report.restarted and host.restarts == 1
    assert not [p for p in host.files if p.endswith(installer_pod.PREVIOUS_SUFFIX)]  # guard copies cleaned up
    again = node_runtimes.install(node, WASMEDGE, shim_file)
    assert not again.changed and host.restarts == 1
    assert node_runtimes.uninstall(node, WASMEDGE)
    assert hashlib.sha256(host.files[node_runtimes.MAIN_CONFIG]).hexdigest() == before
    assert "/usr/local/bin/containerd-shim-wasmedge-v1" not in host.files


def test_containerd_that_does_not_come_back_is_restored_by_the_node_then_reported(shim_file):
    core, host = FakeCore(), FakeHost(restart_breaks=True)
    node = node_for(core, host)
    with pytest.raises(CommandFailed, match="containerd did not come back after the restart"):
        node_runtimes.install(node, WASMEDGE, shim_file)
    assert host.files[node_runtimes.MAIN_CONFIG] == KIND_CONFIG.encode()
    assert host.restarts >= 2


def test_restart_script_restores_changed_files_and_deletes_new_ones():
    node = installer_pod.InstallerPodNode(FakeCore(), "lab1", "n", exec_fn=FakeHost())
    node._guarded = {"/etc/containerd/config.toml": True, "/etc/containerd/conf.d/99-wasm-lab.toml": False}
    script = node.restart_script("42")
    assert "systemctl restart containerd; if up; then" in script
    assert "mv -f /etc/containerd/config.toml.wasm-lab-prev /etc/containerd/config.toml;" in script
    assert "rm -f /etc/containerd/conf.d/99-wasm-lab.toml;" in script
    assert script.endswith("echo rolled-back > /run/wasm-lab-restart-42.new; mv /run/wasm-lab-restart-42.new "
                           "/run/wasm-lab-restart-42")


def test_exit_codes_from_the_exec_status_channel():
    assert kube.exit_code("") == 0
    assert kube.exit_code('{"status": "Success"}') == 0
    failure = '{"status": "Failure", "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}'
    assert kube.exit_code(failure) == 3
    assert kube.exit_code('{"status": "Failure", "message": "exec: not found"}') == 126


def test_a_pod_a_killed_run_left_behind_is_replaced():
    core, host = FakeCore(), FakeHost()
    name = installer_pod.pod_name("lab1", "kind-worker")
    ended = {"phase": "Failed"}
    core.pods[name] = {"old": True}
    created = []
    original_create, original_read = core.create_namespaced_pod, core.read_namespaced_pod

    def create(namespace, body):
        if name in core.pods:
            raise ApiException(status=409, reason="AlreadyExists")
        created.append(body)
        original_create(namespace, body)

    def read(pod, namespace):
        if pod not in core.pods:
            raise ApiException(status=404, reason="NotFound")
        if core.pods[pod] == {"old": True}:
            return NS(status=NS(phase=ended["phase"], container_statuses=[]))
        return original_read(pod, namespace)

    core.create_namespaced_pod, core.read_namespaced_pod = create, read
    node_for(core, host).run(["true"])
    assert len(created) == 1 and core.deleted == [name]


def test_an_exec_never_swaps_the_request_method_of_the_client_other_threads_use(monkeypatch):
    """kubernetes.stream.stream() swaps `call_api` of the API client it is handed while it
    connects (a FAKE stream here does the same and fails the exec): with nodes undone side by
    side on one client, another thread's ordinary call would go over the websocket."""
    import kubernetes.stream
    from kubernetes import client

    from lab import kube

    shared = client.CoreV1Api(client.ApiClient(client.Configuration()))
    plain = shared.api_client.call_api
    handed = []

    def swapping_stream(api_method, *args, **kwargs):
        handed.append(api_method.__self__.api_client)
        api_method.__self__.api_client.call_api = "websocket"
        raise RuntimeError("no API server here")

    monkeypatch.setattr(kubernetes.stream, "stream", swapping_stream)
    result = kube.websocket_exec(shared, "pod", "ns", ["true"], None, 5)
    assert result.returncode == 255 and "no API server here" in result.stderr
    assert handed and handed[0] is not shared.api_client
    assert shared.api_client.call_api == plain
