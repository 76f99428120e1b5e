"""The shim installer's decisions, against a FAKE node.

FakeNode keeps files in a dict and answers `containerd config dump` by echoing the config it
holds, so these tests check the installer's logic (copy only when the sha256 differs, restart
only on change, roll back on a failed restart); the real path — a kind node's containerd — is
covered by the kit end-to-end test (tests/e2e)."""
import hashlib
from pathlib import Path

import pytest

from lab import node_runtimes
from lab.artifacts import LocalBundle, LocalFile
from lab.catalog import Runtime
from lab.errors import LabError
from lab.nodes import Node, Result
from tests.unit import fake_node_files

KIND_CONFIG = (Path(__file__).parent / "fixtures" / "containerd" / "kind-v2.toml").read_text()
WASMEDGE = Runtime(name="wasmedge", handler="wasmedge", runtime_type="io.containerd.wasmedge.v1",
                   files=({"source": "shim-wasmedge", "dest": "/usr/local/bin/containerd-shim-wasmedge-v1"},))


class FakeNode(Node):
    def __init__(self, restart_fails=False):
        self.name = "fake-worker"
        self.files = {node_runtimes.MAIN_CONFIG: KIND_CONFIG.encode()}
        self.restarts = 0
        self.installs, self.uninstalls = [], []
        self.restart_fails = restart_fails
        self.unloaded = False      # a config written after containerd's last start

    def exec(self, argv, input=None):
        if argv[:2] == ["sh", "-c"] and argv[3] == "loaded":
            return Result(1 if self.unloaded else 0, "")
        answered = fake_node_files.answer(self.files, argv)
        if answered is not None:
            return answered
        if argv == ["systemctl", "restart", "containerd"]:
            self.restarts += 1
            self.unloaded = False
            broken = self.restart_fails and b"wasmedge" in self.files[node_runtimes.MAIN_CONFIG]
            return Result(1 if broken else 0, "", "job failed" if broken else "")
        if argv == ["ctr", "version"]:
            return Result(0, "ok")
        if argv == ["containerd", "config", "dump"]:
            return Result(0, self.files[node_runtimes.MAIN_CONFIG].decode())
        if argv[0] == "sh" and argv[1].endswith("/install.sh"):
            self.installs.append(argv[1])
            return Result(0, "")
        if argv[:2] == ["sh", "-c"] and argv[3] == "uninstall":
            self.uninstalls.append(argv[4])
            return Result(0, "")
        if argv[:2] == ["rm", "-rf"]:
            for path in [p for p in self.files if p == argv[2] or p.startswith(argv[2] + "/")]:
                del self.files[path]
            return Result(0, "")
        if argv[0] == "rmdir":
            return Result(0, "")
        if argv[:2] == ["rm", "-f"]:
            self.files.pop(argv[2], None)
            return Result(0, "")
        if argv[:2] == ["cp", "-p"]:
            self.files[argv[3]] = self.files[argv[2]]
            return Result(0, "")
        raise AssertionError(f"unexpected command {argv}")

    def put_file(self, path, content, mode=0o644):
        self.files[path] = content


@pytest.fixture
def shim_file(tmp_path):
    path = tmp_path / "containerd-shim-wasmedge-v1"
    path.write_bytes(b"\x7fELF shim")
    return {"shim-wasmedge": LocalFile(path, hashlib.sha256(path.read_bytes()).hexdigest())}


def test_install_copies_configures_restarts_then_second_run_changes_nothing(shim_file):
    node = FakeNode()
    first = node_runtimes.install(node, WASMEDGE, shim_file)
    assert first.copied == ["/usr/local/bin/containerd-shim-wasmedge-v1"]
    assert first.config_changed and node.restarts == 1
    assert node.files[node_runtimes.MAIN_CONFIG + node_runtimes.BACKUP_SUFFIX] == KIND_CONFIG.encode()
    second = node_runtimes.install(node, WASMEDGE, shim_file)
    assert not second.changed and not second.restarted and node.restarts == 1


def test_failed_restart_rolls_the_config_back(shim_file):
    node = FakeNode(restart_fails=True)
    with pytest.raises(Exception):
        node_runtimes.install(node, WASMEDGE, shim_file)
    assert node.files[node_runtimes.MAIN_CONFIG] == KIND_CONFIG.encode()


def test_uninstall_restores_the_original_config(shim_file):
    node = FakeNode()
    node_runtimes.install(node, WASMEDGE, shim_file)
    assert node_runtimes.uninstall(node, WASMEDGE)
    assert node.files[node_runtimes.MAIN_CONFIG] == KIND_CONFIG.encode()
    assert "/usr/local/bin/containerd-shim-wasmedge-v1" not in node.files


def test_copy_that_does_not_match_its_checksum_is_refused(shim_file, monkeypatch):
    node = FakeNode()
    monkeypatch.setattr(node, "put_file", lambda path, content, mode=0o644: node.files.__setitem__(path, b"corrupt"))
    with pytest.raises(LabError, match="does not match sha256"):
        node_runtimes.install(node, WASMEDGE, shim_file)


def test_bundle_is_copied_and_installed_once(shim_file, tmp_path):
    (tmp_path / "debs").mkdir()
    (tmp_path / "debs" / "crun.deb").write_bytes(b"deb")
    (tmp_path / "install.sh").write_text("dpkg -i debs/*.deb\n")
    bundle = LocalBundle(tmp_path, {"debs/crun.deb": "x", "install.sh": "y"})
    bundles = [{"source": "libs", "dest": "/opt/wasm-lab/libs", "install": "install.sh"}]
    node = FakeNode()
    report = node_runtimes.install(node, WASMEDGE, {**shim_file, "libs": bundle}, bundles)
    assert report.copied[0] == "/opt/wasm-lab/libs"
    assert node.files["/opt/wasm-lab/libs/debs/crun.deb"] == b"deb"
    assert node.installs == ["/opt/wasm-lab/libs/install.sh"]
    node_runtimes.install(node, WASMEDGE, {**shim_file, "libs": bundle}, bundles)
    assert node.installs == ["/opt/wasm-lab/libs/install.sh"]


def test_a_config_written_but_never_loaded_is_loaded_on_the_next_run(shim_file):
    """A run killed between writing the config and restarting containerd: the dump (which reads the
    file) shows the runtime, the running containerd does not know it."""
    node = FakeNode()
    node_runtimes.install(node, WASMEDGE, shim_file)
    node.unloaded = True
    again = node_runtimes.install(node, WASMEDGE, shim_file)
    assert again.restarted and not again.config_changed and node.restarts == 2
