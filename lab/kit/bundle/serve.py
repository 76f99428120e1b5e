"""kit.serve: one bundle over HTTP to a room of laptops; byte ranges (an interrupted download
resumes), an idle connection dropped, a bounded number of clients at once, and what clients send
escaped before it reaches the trainer's terminal."""
from __future__ import annotations

import http.server
import json
import re
import shutil
import socketserver
import sys
import threading
import urllib.parse
from pathlib import Path

from rich.markup import escape

from lab.errors import InputError, LabError
from lab.kit import bundle_checks as checks
from lab.kit.bundle.layout import CHUNK, SERVED, hash_with_progress, open_tar, read_sidecar, sidecar
from lab.kit.bundle_checks import Refused
from lab.proc import console

SERVE_IDLE_SECONDS = 60  # a connection that sends or takes nothing this long is dropped
SERVE_CONNECTIONS = 64  # clients served at once (a workshop room, with room to spare)


def _log(text: str) -> None:
    """A line of the trainer's log; what clients sent cannot style it or reach the terminal."""
    console.print(escape(checks.shown(text)), highlight=False, soft_wrap=True)


class _BundleHandler(http.server.BaseHTTPRequestHandler):
    """GET /kit.tar (byte ranges, so an interrupted download resumes), /kit.tar.sha256, /kit.tar.json.
    `timeout` (from server()) drops a connection idle that long."""

    bundle: Path
    extras: dict[str, bytes]

    def do_HEAD(self):
        self._answer(with_body=False)

    def do_GET(self):
        self._answer(with_body=True)

    def _answer(self, with_body: bool) -> None:
        try:
            path = urllib.parse.urlsplit(self.path).path
        except ValueError:
            self._send(400, b"not a path\n", with_body)
            return
        if path in self.extras:
            self._send(200, self.extras[path], with_body)
        elif path == SERVED:
            self._send_bundle(with_body)
        else:
            self._send(404, b"not here: GET /kit.tar, /kit.tar.sha256 or /kit.tar.json\n", with_body)

    def _send(self, status: int, body: bytes, with_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def _send_bundle(self, with_body: bool) -> None:
        size = self.bundle.stat().st_size
        start, wanted = 0, re.fullmatch(r"bytes=(\d{1,19})-", self.headers.get("Range", ""))
        if wanted:
            start = int(wanted.group(1))
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return
        self.send_response(206 if wanted else 200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(size - start))
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.end_headers()
        if with_body:
            with open(self.bundle, "rb") as content:
                content.seek(start)
                shutil.copyfileobj(content, self.wfile, CHUNK)

    def log_message(self, format, *args):
        _log(f"kit.serve: {self.address_string()} {format % args}")


BUSY = b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class BundleServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """One thread per client, at most `connections` at once: one more is answered 503 and let go."""

    daemon_threads = True
    block_on_close = False  # Ctrl-C stops the server without waiting for transfers under way
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler, connections: int, sha256: str):
        self.slots = threading.BoundedSemaphore(connections)
        self.connections, self.sha256 = connections, sha256
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            _log(f"kit.serve: {client_address[0]} turned away: {self.connections} clients are served already")
            try:
                request.sendall(BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        _log(f"kit.serve: a transfer to {client_address[0]} ended early ({error}); its next request resumes it")


def server(bundle: Path, address: str, port: int, idle_seconds: float = SERVE_IDLE_SECONDS,
           connections: int = SERVE_CONNECTIONS) -> BundleServer:
    """An HTTP server for one bundle (run it with serve_forever), after checking the bundle against
    the sha256 file beside it; its `sha256` is what attendees pin."""
    if not bundle.is_file():
        raise InputError(f"bundle_file: {bundle} is not a file (give a bundle made by kit.export)")
    digest = read_sidecar(bundle)
    if hash_with_progress(bundle) != digest:
        raise LabError(f"kit.serve: {bundle} does not match its {sidecar(bundle).name}; export it again")
    try:
        with open_tar(bundle) as tar:
            checks.check_members(tar)
            index = checks.read_index(tar)
            checks.check_index(index)
    except Refused as refusal:
        raise LabError(f"kit.serve: {bundle}: {refusal}; export it again")
    handler = type("Handler", (_BundleHandler,), {
        "bundle": bundle,
        "timeout": idle_seconds,
        "extras": {f"{SERVED}.sha256": f"{digest}  kit.tar\n".encode(),
                   f"{SERVED}.json": json.dumps(index).encode()},
    })
    try:
        return BundleServer((address, port), handler, connections, digest)
    except OSError as error:
        raise LabError(f"kit.serve: cannot listen on {address}:{port} ({error.strerror or error})")
