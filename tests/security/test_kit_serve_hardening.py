"""kit.serve faces a room's network: what clients send reaches the trainer's log only escaped
(no rich markup, no terminal escapes), a malformed request gets an answer and the server goes on,
an idle connection is dropped after the configured time, and clients beyond the configured number
are turned away instead of each holding a thread."""
import io
import socket
import tarfile

import pytest
from rich.console import Console

from lab.errors import InputError, LabError
from lab.kit.bundle import serve
from tests.security.handmade import Serving, attendee, files_entry, index_of, write_bundle  # noqa: F401
from tests.unit.test_kit_recipes import recipe_root  # noqa: F401 (fixture)


@pytest.fixture
def log(monkeypatch):
    """The trainer's terminal: a console that keeps what is printed to it (colours and all)."""
    terminal = io.StringIO()
    monkeypatch.setattr(serve, "console", Console(file=terminal, force_terminal=True, width=400))
    return terminal


@pytest.fixture
def start(attendee, tmp_path):  # noqa: F811
    """start(**server options) -> kit.serve of a small bundle on 127.0.0.1, stopped after the test."""
    entry, blobs = files_entry({"bin/tool": b"#!/bin/sh\n"})
    path = write_bundle(tmp_path / "kit.tar", index_of(entry), blobs)
    servers = []

    def run(**options) -> tuple[str, int]:
        servers.append(Serving(serve.server(path, "127.0.0.1", 0, **options)))
        return "127.0.0.1", servers[-1].httpd.server_address[1]

    yield run
    for serving in servers:
        serving.close()


def exchange(address: tuple[str, int], raw: bytes) -> bytes:
    """Send raw bytes as one request; everything the server answers before it closes."""
    with socket.create_connection(address, timeout=30) as client:
        client.sendall(raw)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    return answer


def test_markup_and_terminal_escapes_in_a_request_are_logged_escaped(start, log):
    address = start()
    for raw in (b"GET /[/] HTTP/1.0\r\n\r\n",
                b"GET /[bold red]x\x1b]0;owned\x07\x1b[2J\x9b31m HTTP/1.0\r\n\r\n",
                b"GET http://[::1 HTTP/1.0\r\n\r\n",
                b"\x1b[31m\x00\x01 nonsense\r\n\r\n"):
        answer = exchange(address, raw)
        assert b"404" in answer or b"400" in answer, answer[:80]  # answered, not dropped by a crashed handler
    printed = log.getvalue()
    assert '"GET /[/] HTTP/1.0" 404' in printed
    assert "/[bold red]x\\x1b]0;owned\\x07\\x1b[2J\\x9b31m" in printed
    assert '"GET http://[::1 HTTP/1.0" 400' in printed
    assert "\x1b]0" not in printed and "\x07" not in printed and "\x1b[2J" not in printed and "\x9b" not in printed
    assert "\x1b[1;31m" not in printed  # the client's markup did not colour the trainer's log
    assert exchange(address, b"GET /kit.tar.sha256 HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 200")


def test_an_absurd_range_is_answered_and_the_server_goes_on(start, log):
    address = start()
    answer = exchange(address, b"GET /kit.tar HTTP/1.0\r\nRange: bytes=" + b"9" * 5000 + b"-\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 200")  # not a range this server gives: the whole bundle
    assert exchange(address, b"GET /kit.tar.sha256 HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 200")


def test_an_idle_connection_is_dropped_after_the_configured_time(start, log):
    address = start(idle_seconds=0.2)
    with socket.create_connection(address, timeout=30) as idle:
        assert idle.recv(1) == b""  # closed by the server, not by the client's 30 s
    assert "Request timed out" in log.getvalue()
    assert exchange(address, b"GET /kit.tar.sha256 HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 200")


def test_clients_beyond_the_configured_number_are_turned_away(start, log):
    address = start(connections=1, idle_seconds=30)
    with socket.create_connection(address, timeout=30) as holder:
        holder.sendall(b"GET /kit.tar.sha256 HTTP/1.0\r\n")  # a request it does not finish
        assert exchange(address, b"GET /kit.tar.sha256 HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 503")
        holder.sendall(b"\r\n")
        assert holder.recv(65536).startswith(b"HTTP/1.0 200")
    assert "127.0.0.1 turned away: 1 clients are served already" in log.getvalue()


def test_a_bundle_that_does_not_match_its_checksum_is_not_served(attendee, tmp_path):  # noqa: F811
    """The fingerprint kit.serve shows must be the one of the bytes it serves."""
    entry, blobs = files_entry({"bin/tool": b"#!/bin/sh\n"})
    path = write_bundle(tmp_path / "kit.tar", index_of(entry), blobs)
    with tarfile.open(path) as tar:
        blob = tar.getmembers()[1]
    with open(path, "r+b") as archive:  # one byte of the tool changed after its export
        archive.seek(blob.offset_data)
        archive.write(b"X")
    with pytest.raises(LabError, match=r"^kit.serve: .*kit.tar does not match its kit.tar.sha256; export it again$"):
        serve.server(path, "127.0.0.1", 0)
    with pytest.raises(InputError, match=r"^bundle_file: .*missing.tar is not a file"):
        serve.server(tmp_path / "missing.tar", "127.0.0.1", 0)
