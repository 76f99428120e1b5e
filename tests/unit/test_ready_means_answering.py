"""Ready means answering: the deploy step waits for /version through the checks' address, and a
check whose connection is refused is tried again before it fails. Real HTTP servers on 127.0.0.1
that start late, as a NodePort route does after its pod is Ready."""
import http.server
import json
import socket
import threading
import time

import pytest

from lab import httpbin_cases, workloads
from lab.errors import LabError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_later(port: int, delay: float, flavor: str):
    """An httpbin-ish /version server that starts listening only after `delay` seconds."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"service": "httpbin", "flavor": flavor}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    servers = []

    def start():
        time.sleep(delay)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        servers.append(server)
        server.serve_forever()

    threading.Thread(target=start, daemon=True).start()
    return servers


@pytest.fixture
def late_server():
    started = []

    def make(delay: float, flavor: str = "native") -> str:
        port = free_port()
        started.append(serve_later(port, delay, flavor))
        return f"http://127.0.0.1:{port}"

    yield make
    for servers in started:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_deploy_waits_until_the_variant_answers(late_server):
    url = late_server(1.5)
    started = time.monotonic()
    workloads.wait_answering(url, "native", timeout=20)
    assert time.monotonic() - started >= 1.4


def test_another_variant_on_the_port_is_not_an_answer(late_server):
    url = late_server(0, flavor="embed-wasmedge")
    with pytest.raises(LabError, match=r"native never answered on .*/version within 2s \(last: HTTP 200, variant 'embed-wasmedge'\)"):
        workloads.wait_answering(url, "native", timeout=2)


def test_a_refused_connection_is_retried_and_reported(late_server):
    url = late_server(1.5)
    case = next(c for c in httpbin_cases.CASES if c.path.startswith("/uuid"))
    result = httpbin_cases.run_case(url, case, connect_retries=3)
    assert result.retried >= 1 and result.status == 200
    assert result.retried_after.startswith("ConnectionError: ") and "refused" in result.retried_after
    refused = httpbin_cases.run_case(f"http://127.0.0.1:{free_port()}", case, connect_retries=1)
    assert not refused.ok and refused.retried == 1 and "ConnectionError" in refused.problems[0]
