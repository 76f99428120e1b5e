"""Ports a lab's node containers publish on the host, and which of them refuse connections.

Docker publishes a container's port through a docker-proxy process per port. When the dockerd that
made them was started from a shell whose session then ended, those processes can die with the
session: the containers stay "Up" and every published port refuses (the API server's, the
NodePorts). Waiting for the API server then only times out; asking the port says it in a second."""
from __future__ import annotations

import socket
from dataclasses import dataclass

API_SERVER_PORT = "6443/tcp"  # the API server's port inside a kind control-plane node
ANY_ADDRESS = {"", "0.0.0.0", "::"}


@dataclass(frozen=True)
class Published:
    container: str
    container_port: str  # "6443/tcp"
    host: str
    port: int

    @property
    def what(self) -> str:
        return "API server" if self.container_port == API_SERVER_PORT else f"port {self.container_port}"

    def __str__(self) -> str:
        return f"{self.host}:{self.port} ({self.what})"


def of_container(name: str, attrs: dict) -> list[Published]:
    """The TCP ports a running container publishes, from Docker's inspect data
    (NetworkSettings.Ports: {"6443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "41234"}]})."""
    found = []
    for container_port, bindings in sorted(((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items()):
        for binding in bindings or []:
            if container_port.endswith("/tcp") and binding.get("HostPort"):
                host = binding.get("HostIp") or ""
                found.append(Published(name, container_port, "127.0.0.1" if host in ANY_ADDRESS else host,
                                       int(binding["HostPort"])))
    return list(dict.fromkeys(found))  # an IPv4 and an IPv6 binding of 0.0.0.0 and :: are one port here


def accepts(host: str, port: int, timeout: float = 2.0) -> bool:
    """False only when the port refuses: a slow or filtered port is not a missing proxy."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except ConnectionRefusedError:
        return False
    except OSError:
        return True
    return True


def refusing(ports: list[Published], accepts=accepts) -> list[Published]:
    return [p for p in ports if not accepts(p.host, p.port)]


def api_server_refuses(refused: list[Published]) -> bool:
    """The API server port of a running node always answers while Docker's proxy for it lives;
    a NodePort alone may refuse for lack of a Service behind it (a Docker without userland proxy)."""
    return any(p.container_port == API_SERVER_PORT for p in refused)


def dead_ports_error(cluster: str, refused: list[Published], shown: int = 3) -> str:
    """One line: which published ports of which Up containers refuse (the API server's first),
    and what to do. `cluster` says which cluster ("kind cluster wasm-lab")."""
    refused = sorted(refused, key=lambda p: p.container_port != API_SERVER_PORT)
    containers = sorted({p.container for p in refused})
    listed = ", ".join(str(p) for p in refused[:shown]) + (f" and {len(refused) - shown} more" if len(refused) > shown else "")
    return (f"{cluster}: {', '.join(containers)} {'is' if len(containers) == 1 else 'are'} Up but "
            f"{'its' if len(containers) == 1 else 'their'} published port{'s' if len(refused) > 1 else ''} "
            f"{listed} refuse{'' if len(refused) > 1 else 's'} connections: Docker's port proxies are gone (as when "
            f"the dockerd that published them was started from a shell that has ended); run `docker restart "
            f"{' '.join(containers)}`; a dockerd started by hand: stop it, then bash hack/setup-docker starts it detached")
