"""The runtime installer's decisions (lab/node_runtimes.py), against a FAKE node (tests/fakes.py).

FakeNode keeps files in a dict and answers `containerd config dump` by echoing the config it
holds, so these tests check the installer's logic (copy only when the sha256 differs, restart
only on change, roll back on a failed restart); the real path — a kind node's containerd — is
covered by the kit end-to-end test (tests/e2e)."""
import hashlib

import pytest

from lab import node_runtimes
from lab.artifacts.local import LocalBundle, LocalFile
from lab.catalog import Runtime
from lab.errors import LabError
from lab.nodes import Result
from lab.proc import CommandFailed
from tests.fakes import KIND_CONFIG, FakeNode

WASMEDGE = Runtime(name="wasmedge", handler="wasmedge", runtime_type="io.containerd.wasmedge.v1",
                   files=({"source": "shim-wasmedge", "dest": "/usr/local/bin/containerd-shim-wasmedge-v1"},))


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
    with pytest.raises(CommandFailed, match="fake-worker: exited 1\njob failed") as failed:
        node_runtimes.install(node, WASMEDGE, shim_file)
    assert failed.value.argv == ["fake-worker:", "systemctl", "restart", "containerd"]
    assert node.files[node_runtimes.MAIN_CONFIG] == KIND_CONFIG.encode()
    assert node.restarts == 2  # the failed one, then containerd on the config put back


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
    bundle = LocalBundle(tmp_path, {"debs/crun.deb": hashlib.sha256(b"deb").hexdigest(),
                                    "install.sh": hashlib.sha256(b"dpkg -i debs/*.deb\n").hexdigest()})
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


WASMTIME = Runtime(name="wasmtime", handler="wasmtime", runtime_type="io.containerd.wasmtime.v1",
                   files=({"source": "shim-wasmtime", "dest": "/usr/local/bin/containerd-shim-wasmtime-v1"},))


@pytest.fixture
def two_shims(tmp_path, shim_file):
    path = tmp_path / "containerd-shim-wasmtime-v1"
    path.write_bytes(b"\x7fELF wasmtime shim")
    return {**shim_file, "shim-wasmtime": LocalFile(path, hashlib.sha256(path.read_bytes()).hexdigest())}


def test_several_runtimes_on_a_node_take_one_config_change_and_one_restart(two_shims):
    node = FakeNode()
    wanted = [node_runtimes.Wanted(WASMEDGE), node_runtimes.Wanted(WASMTIME)]
    reports = node_runtimes.install_all(node, wanted, two_shims)
    assert node.restarts == 1
    assert [r.handler for r in reports] == ["wasmedge", "wasmtime"]
    assert all(r.config_changed and r.restarted and len(r.copied) == 1 for r in reports)
    config = node.files[node_runtimes.MAIN_CONFIG].decode()
    assert "io.containerd.wasmedge.v1" in config and "io.containerd.wasmtime.v1" in config
    again = node_runtimes.install_all(node, wanted, two_shims)
    assert not any(r.changed or r.restarted for r in again) and node.restarts == 1


def test_a_failed_restart_for_several_runtimes_puts_the_config_back_as_it_was(two_shims):
    node = FakeNode(restart_fails=True)
    with pytest.raises(CommandFailed):
        node_runtimes.install_all(node, [node_runtimes.Wanted(WASMTIME), node_runtimes.Wanted(WASMEDGE)], two_shims)
    assert node.files[node_runtimes.MAIN_CONFIG] == KIND_CONFIG.encode()
    assert node.restarts == 2  # the failed one, then containerd on the config put back


def test_several_runtimes_come_off_a_node_in_one_restart_and_leave_the_config_as_it_was(two_shims):
    node = FakeNode()
    node_runtimes.install_all(node, [node_runtimes.Wanted(WASMEDGE), node_runtimes.Wanted(WASMTIME)], two_shims)
    assert node_runtimes.uninstall_all(node, [WASMTIME, WASMEDGE]) == node_runtimes.Uninstalled(
        ["wasmtime", "wasmedge"], restarted=True)
    assert node.restarts == 2  # the install's one, the uninstall's one
    assert node.files[node_runtimes.MAIN_CONFIG] == KIND_CONFIG.encode()
    assert not [path for path in node.files if path.startswith("/usr/local/bin/containerd-shim-")]
    assert node_runtimes.uninstall_all(node, [WASMTIME, WASMEDGE]) == node_runtimes.Uninstalled([], False)
    assert node.restarts == 2


def test_an_uninstall_whose_restart_failed_is_finished_by_running_it_again(two_shims):
    """The restart fails once: the shims stay (containerd may still hold the runtimes) and an
    adopted file stays kept aside; run again, the config written but never loaded is loaded and
    the user's file comes back."""
    node = FakeNode()
    node.files["/usr/local/bin/containerd-shim-wasmedge-v1"] = b"the user's own shim"
    node_runtimes.install_all(node, [node_runtimes.Wanted(WASMEDGE, keep_foreign=True),
                                     node_runtimes.Wanted(WASMTIME)], two_shims)
    plain, failing = node.exec, [True]

    def restart_fails_once(argv, input=None):
        if argv == ["systemctl", "restart", "containerd"] and failing:
            failing.pop()
            node.unloaded = True
            return Result(1, "", "job failed")
        return plain(argv, input)
    node.exec = restart_fails_once
    with pytest.raises(CommandFailed):
        node_runtimes.uninstall_all(node, [WASMEDGE, WASMTIME])
    assert node.files["/usr/local/bin/containerd-shim-wasmedge-v1.wasm-lab.bak"] == b"the user's own shim"
    again = node_runtimes.uninstall_all(node, [WASMEDGE, WASMTIME])
    assert again == node_runtimes.Uninstalled([], restarted=True) and node.restarts == 2
    assert node.files["/usr/local/bin/containerd-shim-wasmedge-v1"] == b"the user's own shim"
    assert "/usr/local/bin/containerd-shim-wasmtime-v1" not in node.files


def test_a_node_is_asked_for_its_files_sha256_twice_for_any_number_of_runtimes(two_shims):
    """Each command is a round trip to the node (0.1-0.2 s on kind, more through an installer pod):
    the files of every runtime are summed in one command before copying and one after, copied in
    one archive, and every runtime is looked for in one `containerd config dump`."""
    node = FakeNode()
    asked, plain = [], node.exec

    def counting(argv, input=None):
        asked.append(argv[0] if argv[0] != "sh" else argv[3])
        return plain(argv, input)
    node.exec = counting
    node_runtimes.install_all(node, [node_runtimes.Wanted(WASMEDGE), node_runtimes.Wanted(WASMTIME)], two_shims)
    assert asked.count("sha256sum") == 2
    assert asked.count("containerd") == 1   # the dump after the restart, for both runtimes


def test_sha256s_reads_sha256sums_lines_and_names_what_is_missing():
    """Node.sha256s parses what sha256sum prints for the files it could read (the lines of a FAKE
    node's answer as coreutils prints them, a missing file only on stderr)."""
    class Printing(FakeNode):
        def exec(self, argv, input=None):
            assert argv[:2] == ["sha256sum", "--"]
            return Result(1, f"{'a' * 64}  /usr/local/bin/one\n{'b' * 64}  /opt/two words\n",
                          "sha256sum: /gone: No such file or directory\n")
    assert Printing().sha256s(["/usr/local/bin/one", "/gone", "/opt/two words"]) == {
        "/usr/local/bin/one": "a" * 64, "/gone": None, "/opt/two words": "b" * 64}


def test_whether_several_runtimes_are_there_is_one_config_read_one_dump_and_one_start_time(two_shims):
    node = FakeNode()
    node_runtimes.install_all(node, [node_runtimes.Wanted(WASMEDGE), node_runtimes.Wanted(WASMTIME)], two_shims)
    node.files["/usr/local/bin/containerd-shim-wasmtime-v1"] = b"someone else's"
    asked, plain = [], node.exec

    def counting(argv, input=None):
        asked.append(argv[0] if argv[0] != "sh" else argv[3])
        return plain(argv, input)
    node.exec = counting
    sums = node.sha256s(node_runtimes.runtime_paths([WASMEDGE, WASMTIME]))
    assert node_runtimes.present(node, [WASMEDGE, WASMTIME], two_shims, sums) == [True, False]
    assert sorted(asked) == ["containerd", "loaded", "read", "sha256sum"]
    node.unloaded = True   # a config written after containerd last started: nothing is live yet
    assert node_runtimes.present(node, [WASMEDGE, WASMTIME], two_shims, sums) == [False, False]
