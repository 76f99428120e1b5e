"""Running commands in, and copying files into, a cluster node.

A Node is what the shim installer talks to. Kind nodes are Docker containers (docker exec and
put_archive through the docker SDK); minikube nodes are reached with `minikube ssh`/`minikube cp`;
nodes of an existing cluster through a short-lived privileged installer pod (see providers)."""
from __future__ import annotations

import io
import re
import shlex
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import PurePosixPath

import docker

from lab.docker_api import docker_client
from lab.proc import CommandFailed


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str = ""


class Node:
    name: str

    def exec(self, argv: list[str], input: bytes | None = None) -> Result:
        raise NotImplementedError

    def put_file(self, path: str, content: bytes, mode: int = 0o644) -> None:
        raise NotImplementedError

    def run(self, argv: list[str], input: bytes | None = None, check: bool = True) -> Result:
        result = self.exec([str(a) for a in argv], input=input)
        if check and result.returncode != 0:
            tail = (result.stdout + result.stderr).splitlines()
            raise CommandFailed([f"{self.name}:"] + [str(a) for a in argv], result.returncode, tail)
        return result

    def put_files(self, files: list[tuple[str, bytes, int]]) -> None:
        """Several files (path, content, mode) at once; a node that has no quicker way puts each."""
        for path, content, mode in files:
            self.put_file(path, content, mode)

    def read_file(self, path: str) -> str | None:
        """The file's text, None when it does not exist; a file that exists but cannot be read is
        an error, never "absent" (a rollback must not delete what it could not read)."""
        result = self.run(["sh", "-c", 'if [ -e "$1" ]; then exec cat "$1"; else exit 3; fi', "read", path],
                          check=False)
        if result.returncode == 3:
            return None
        if result.returncode != 0:
            raise CommandFailed([f"{self.name}:", "cat", path], result.returncode,
                                (result.stdout + result.stderr).splitlines())
        return result.stdout

    def close(self) -> bool:
        """Let go of what reaches the node (an installer pod); True when something went."""
        return False

    def sha256s(self, paths: list[str]) -> dict[str, str | None]:
        """The sha256 of each file in one command (each command costs a round trip to the node);
        None for a path that is not there or cannot be read."""
        if not paths:
            return {}
        listed = self.run(["sha256sum", "--", *paths], check=False).stdout
        found = {}
        for line in listed.splitlines():
            digest, separator, path = line.partition("  ")
            if separator and len(digest) == 64:
                found[path] = digest
        return {path: found.get(path) for path in paths}

    def __repr__(self):
        return f"{type(self).__name__}({self.name})"


class DockerNode(Node):
    """A node that is a Docker container (kind)."""

    def __init__(self, container_name: str, client: docker.DockerClient | None = None):
        self.name = container_name
        self._client = client or docker_client()

    @property
    def container(self):
        return self._client.containers.get(self.name)

    def exec(self, argv, input=None):
        if input is not None:
            # The SDK's exec has no simple stdin; hand the bytes over as a file instead.
            staging = "/var/tmp/.wasm-lab-stdin"  # not kind's /tmp, a tmpfs (put_files)
            self.put_file(staging, input, 0o600)
            argv = ["sh", "-c", 'exec "$@" < ' + staging, "wasm-lab"] + list(argv)
        code, (out, err) = self.container.exec_run(argv, demux=True)
        return Result(code, (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace"))

    def put_file(self, path, content, mode=0o644):
        """Written beside the target, then renamed over it: a reader sees the old or the new file."""
        self.put_files([(path, content, mode)])

    def put_files(self, files):
        """One archive and one command for all the files (each exec costs a round trip and a
        process in the node, 0.15-0.2 s on kind): staged beside their targets, then each renamed
        over its own. The archive is unpacked at / and Docker makes the folders it lacks (root,
        0755). Not for a path under a mount of the node's own (kind's /tmp and /run are tmpfs):
        Docker unpacks into the container's filesystem beneath it, and the rename then fails."""
        if not files:
            return
        buffer = io.BytesIO()
        moves = []
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for path, content, mode in files:
                target = PurePosixPath(path)
                staged = target.parent / f".{target.name}.wasm-lab-new"
                info = tarfile.TarInfo(str(staged).lstrip("/"))
                info.size, info.mode, info.mtime = len(content), mode, int(time.time())
                tar.addfile(info, io.BytesIO(content))
                moves += [str(staged), path]
        if not self.container.put_archive("/", buffer.getvalue()):
            raise CommandFailed(["docker cp", files[0][0]], 1, [f"could not copy {len(files)} files into {self.name}"])
        self.run(["sh", "-c", 'while [ "$#" -gt 1 ]; do mv -f "$1" "$2" || exit 1; shift 2; done', "moves", *moves])


class SshNode(Node):
    """A minikube node: commands over `minikube ssh` (its remote shell needs each argument
    quoted), files over `minikube cp`."""

    def __init__(self, profile: str, node: str, binary: str = "minikube"):
        self.name, self.profile, self.binary = node, profile, binary

    def exec(self, argv, input=None):
        command = [self.binary, "-p", self.profile, "ssh", "-n", self.name, "--", "sudo"] + [shlex.quote(a) for a in argv]
        done = subprocess.run(command, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True)
        # minikube's SSH client always asks for a terminal, which ends lines with \r\n
        out, err = (stream.decode(errors="replace").replace("\r\n", "\n") for stream in (done.stdout, done.stderr))
        # and exits 1 for any failure, naming the remote command's own status on stderr
        remote = re.search(r"Process exited with status (\d+)", err + out) if done.returncode == 1 else None
        return Result(int(remote.group(1)) if remote else done.returncode, out, err)

    def put_file(self, path, content, mode=0o644):
        staging = f"/tmp/wasm-lab-{PurePosixPath(path).name}"
        with tempfile.NamedTemporaryFile(prefix="wasm-lab-") as local:
            local.write(content)
            local.flush()
            argv = [self.binary, "-p", self.profile, "cp", local.name, f"{self.name}:{staging}"]
            done = subprocess.run(argv, capture_output=True)
        if done.returncode != 0:
            raise CommandFailed(argv, done.returncode, done.stderr.decode(errors="replace").splitlines())
        self.run(["install", "-D", "-m", f"{mode:o}", staging, path])
        self.run(["rm", "-f", staging])
