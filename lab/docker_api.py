"""The Docker engine's client, one per process (and per timeout).

`docker.from_env()` asks the engine for its API version each time it makes a client (GET
/version, for which the engine runs runc and containerd to learn theirs): 0.12 s on the project's
machines, and a first lab.up made 31 clients. The client is safe to share between threads."""
from __future__ import annotations

from functools import cache

import docker


@cache
def docker_client(timeout: int = 60) -> docker.DockerClient:
    """The client the lab's calls share; a long `timeout` for streams that go quiet (image builds)."""
    return docker.from_env(timeout=timeout)
