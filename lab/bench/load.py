"""The bench's own HTTP load client: threads, each with one keep-alive http.client connection.

Why threads + http.client: both are in the standard library, a blocking socket call releases the
GIL so a few dozen threads keep that many requests in flight, and one persistent connection per
thread is exactly "N concurrent keep-alive clients". Every run is bounded twice: a total request
count shared by the threads and a wall-clock deadline; each request also has its own timeout.
The only target is the lab's own NodePort address: 127.0.0.1 for kind, the first node's address
on minikube's network, a node's InternalIP on an existing cluster (recorded by lab.up)."""
from __future__ import annotations

import http.client
import socket
import threading
import time

from lab.bench import stats
from lab.bench.results import LoadLevel
from lab.errors import InputError

LOCALHOST = "127.0.0.1"
REQUEST_TIMEOUT = 5.0


class _Budget:
    """A shared, bounded supply of requests: take() is False once the count or the deadline is spent."""

    def __init__(self, count: int, deadline: float, stop: threading.Event):
        self.left, self.deadline, self.stop = count, deadline, stop
        self.lock = threading.Lock()
        self.reason: str | None = None
        self.cancelled = False

    def take(self) -> bool:
        with self.lock:
            if self.stop.is_set() or self.cancelled:
                self.reason = self.reason or "interrupted"
                return False
            if time.monotonic() >= self.deadline:
                self.reason = self.reason or "duration"
                return False
            if self.left <= 0:
                self.reason = self.reason or "count"
                return False
            self.left -= 1
            return True


def _worker(host: str, port: int, path: str, budget: _Budget, latencies: list, errors: list) -> None:
    connection = None
    try:
        while budget.take():
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT)
                    connection.connect()
                    # No Nagle delay on small requests: latency should be the server's, not TCP's.
                    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                connection.request("GET", path, headers={"Connection": "keep-alive"})
                response = connection.getresponse()
                response.read()
                elapsed = (time.perf_counter() - started) * 1000
                if response.status == 200:
                    latencies.append(elapsed)
                else:
                    errors.append(f"HTTP {response.status}")
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as error:
                errors.append(f"{error.__class__.__name__}: {error}"[:200])
                if connection is not None:
                    connection.close()
                connection = None
    finally:
        if connection is not None:
            connection.close()


def run_level(port: int, concurrency: int, requests: int, duration: float, path: str = "/get",
              warmup: int = 20, stop: threading.Event | None = None, host: str = LOCALHOST) -> LoadLevel:
    """`requests` GETs of `path` on `host`:`port` from `concurrency` threads, at most `duration` s."""
    if not 1 <= concurrency <= 256:
        raise InputError(f"concurrency: {concurrency} is outside 1..256")
    if requests < 1 or duration <= 0:
        raise InputError("requests and duration must be positive")
    stop = stop or threading.Event()
    if warmup:
        warm = _Budget(warmup, time.monotonic() + min(duration, 10), stop)
        _worker(host, port, path, warm, [], [])
    latencies: list[float] = []
    errors: list[str] = []
    budget = _Budget(requests, time.monotonic() + duration, stop)
    threads = [threading.Thread(target=_worker, args=(host, port, path, budget, latencies, errors), daemon=True,
                                name=f"bench-load-{i}") for i in range(concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            # Bounded: every thread stops taking requests at the deadline; a request in flight
            # ends within its own timeout.
            thread.join(timeout=duration + REQUEST_TIMEOUT + 5)
    finally:
        # Interrupted (or a thread overran): no thread takes another request; wait for the
        # requests in flight, each bounded by its timeout.
        budget.cancelled = True
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT + 1)
    stop_reason = budget.reason
    seconds = time.monotonic() - started
    ok = len(latencies)
    return LoadLevel(concurrency=concurrency, requests=ok + len(errors), ok=ok, errors=len(errors),
                     seconds=round(seconds, 4), throughput=round(ok / seconds, 2) if seconds > 0 else 0.0,
                     latency_ms=stats.latency_summary(latencies), stopped_by=stop_reason or "count",
                     error_sample=errors[0] if errors else None)
