"""What makes lab.up quick: the variants checked side by side (their rows still in the spec's
order). The real path is tests/e2e/test_lab.py; here the servers are FAKES."""
import threading
import time
from types import SimpleNamespace

from lab.actions import check
from lab.spec import load as load_spec


def test_the_variants_are_checked_side_by_side_and_reported_in_the_specs_order(monkeypatch):
    spec = load_spec(None, {"runtimes": ["wasmedge", "wasmtime"]})
    variants = list(spec.variants)
    # every FAKE server waits until all variants are being asked at once: a check one variant after
    # another would break the barrier; the last variant answers first, so the order is the code's
    together = threading.Barrier(len(variants), timeout=10)

    def fake_run_cases(base_url, connect_retries):
        port = int(base_url.rsplit(":", 1)[1])
        variant = next(v for v in variants if spec.host_port(v) == port)
        together.wait()
        time.sleep(0.01 * (len(variants) - variants.index(variant)))
        return [SimpleNamespace(name=f"case-of-{variant}", ok=True, status=200, seconds=0.0, problems=[], retried=0,
                                comparable=lambda: [200])]

    monkeypatch.setattr("lab.httpbin_cases.run_cases", fake_run_cases)
    results = check.run_variants("127.0.0.1", spec)
    assert list(results) == variants
    assert [rows[0]["case"] for rows in results.values()] == [f"case-of-{v}" for v in variants]
