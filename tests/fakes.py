"""FAKES shared by the unit tests, labelled as such: each stands in for a real component so a
test can check the lab's own logic; the real path is covered by the kit and e2e tests named in
each test module.

- `answer`: the node side of Node.read_file, Node.sha256 and node_runtimes.uninstall's restore,
  over a dict of path -> bytes.
- `FakeNode`: a kind-like node whose files live in a dict; it answers `containerd config dump` by
  echoing the config it holds, plays systemctl restarts (optionally failing) and the bundle scripts.
- `UnexpectedCommand`: what a fake raises for a command it does not know.
"""
import hashlib
from pathlib import Path

from lab import node_runtimes
from lab.nodes import Node, Result

KIND_CONFIG = (Path(__file__).parent / "unit" / "fixtures" / "containerd" / "kind-v2.toml").read_text()


class UnexpectedCommand(BaseException):
    """A command no fake knows: a bug in the test or the code, never an error the lab handles. Not an
    Exception, so neither the lab's `except Exception` nor a test's `pytest.raises(SomeError)` takes
    it for the failure under test."""


def answer(files: dict[str, bytes], argv: list[str]) -> Result | None:
    """The answer to a file command, or None when argv is not one."""
    if argv[:2] == ["sh", "-c"] and argv[3] == "restore":  # the kept file back, or none
        path, suffix = argv[4], argv[5]
        kept = files.pop(path + suffix, None)
        files.pop(path, None)
        if kept is not None:
            files[path] = kept
        return Result(0, "")
    if argv[:2] == ["sh", "-c"] and argv[3] == "read":  # exit 3 means absent
        data = files.get(argv[4])
        return Result(0, data.decode()) if data is not None else Result(3, "")
    if argv[:2] == ["sh", "-c"] and argv[3] == "loaded":  # containerd started after the config's last write
        return Result(0, "")
    if argv[0] == "sha256sum":
        data = files.get(argv[1])
        return Result(0, hashlib.sha256(data).hexdigest() + "  f\n") if data is not None else Result(1, "")
    return None


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
        answered = answer(self.files, argv)
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
        raise UnexpectedCommand(f"unexpected command {argv}")

    def put_file(self, path, content, mode=0o644):
        self.files[path] = content
