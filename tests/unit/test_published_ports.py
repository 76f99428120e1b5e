"""A lab node container that is Up while its published ports refuse (Docker's port proxies died
with the shell session of a dockerd started by hand): lab.up and lab.doctor say so in one line
instead of waiting for the API server. Refusing and listening ports are real sockets on
127.0.0.1; Docker's inspect data and the kind provider's containers are fakes (named so)."""
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest

from lab import doctor, published_ports
from lab.errors import LabError
from lab.providers.kind import KindProvider
from lab.published_ports import Published


@pytest.fixture
def listening_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def refusing_port():
    """A port bound without listening: held, so nothing else takes it, and every connect is refused."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


# what `docker inspect` says of a kind control-plane node (a fake of its NetworkSettings.Ports)
def fake_inspect(api_port: int, node_port: int) -> dict:
    return {"NetworkSettings": {"Ports": {
        "6443/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(api_port)}],
        "30080/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(node_port)}, {"HostIp": "::", "HostPort": str(node_port)}],
        "30081/udp": [{"HostIp": "127.0.0.1", "HostPort": "30081"}],
        "22/tcp": None}}}


def test_the_published_tcp_ports_of_a_container():
    assert published_ports.of_container("lab-control-plane", fake_inspect(41234, 30080)) == [
        Published("lab-control-plane", "30080/tcp", "127.0.0.1", 30080),
        Published("lab-control-plane", "6443/tcp", "127.0.0.1", 41234)]


def test_a_port_that_refuses_and_one_that_listens(listening_port, refusing_port):
    assert published_ports.accepts("127.0.0.1", listening_port)
    assert not published_ports.accepts("127.0.0.1", refusing_port)
    ports = published_ports.of_container("lab-control-plane", fake_inspect(refusing_port, listening_port))
    assert published_ports.refusing(ports) == [Published("lab-control-plane", "6443/tcp", "127.0.0.1", refusing_port)]


def test_the_line_names_the_container_the_ports_and_what_to_do():
    refused = [Published("lab-control-plane", f"{p}/tcp", "127.0.0.1", p) for p in (30080, 30081, 30082, 30083)]
    refused.append(Published("lab-control-plane", "6443/tcp", "127.0.0.1", 41234))
    line = published_ports.dead_ports_error("kind cluster lab", refused)
    assert "\n" not in line
    assert line.startswith("kind cluster lab: lab-control-plane is Up but its published ports 127.0.0.1:41234 "
                           "(API server), 127.0.0.1:30080 (port 30080/tcp), 127.0.0.1:30081 (port 30081/tcp) and 2 "
                           "more refuse connections")
    assert "docker restart lab-control-plane" in line


class FakeKind(KindProvider):
    """The kind provider over a fake cluster that exists, whose nodes were Up or had to be started."""

    def __init__(self, ports, started=()):
        self.ports, self.started = ports, list(started)

    def exists(self, spec):
        return True

    def _start_stopped_nodes(self, spec):
        return self.started

    def published_ports(self, spec):
        if self.started:
            raise AssertionError("ports of nodes just started are theirs anew: not asked")
        return self.ports

    @staticmethod
    def _refuse_unmapped_ports(spec):
        raise RuntimeError("went on to the next step")


SPEC = SimpleNamespace(name="lab", provider="kind")
STATE = SimpleNamespace(get=lambda key, default=None: default, dir=Path("/nonexistent/state"))


def test_lab_up_on_an_up_cluster_whose_api_server_port_refuses_stops_at_once(refusing_port, listening_port):
    ports = [Published("lab-control-plane", "6443/tcp", "127.0.0.1", refusing_port),
             Published("lab-control-plane", "30080/tcp", "127.0.0.1", listening_port)]
    with pytest.raises(LabError, match=f"kind cluster lab: lab-control-plane is Up but its published port "
                                       f"127.0.0.1:{refusing_port} \\(API server\\) refuses connections"):
        FakeKind(ports).ensure(SPEC, None, STATE)


def test_lab_up_goes_on_when_the_api_server_port_answers_or_the_nodes_were_just_started(
        refusing_port, listening_port):
    answering = [Published("lab-control-plane", "6443/tcp", "127.0.0.1", listening_port),
                 Published("lab-control-plane", "30080/tcp", "127.0.0.1", refusing_port)]  # no Service behind it
    with pytest.raises(RuntimeError, match="next step"):
        FakeKind(answering).ensure(SPEC, None, STATE)
    with pytest.raises(RuntimeError, match="next step"):
        FakeKind([], started=["lab-control-plane"]).ensure(SPEC, None, STATE)


def test_doctor_reports_the_dead_ports_in_one_line(refusing_port, listening_port):
    dead = FakeKind([Published("lab-control-plane", "6443/tcp", "127.0.0.1", refusing_port)])
    ok, detail = doctor._published_ports(dead, SPEC)
    assert not ok and "refuses connections" in detail and "docker restart lab-control-plane" in detail
    alive = FakeKind([Published("lab-control-plane", "6443/tcp", "127.0.0.1", listening_port)])
    assert doctor._published_ports(alive, SPEC) == (True, "all 1 published by the lab's nodes accept connections")
