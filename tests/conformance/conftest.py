"""Conformance fixtures shared between the per-target tests and the cross-variant comparison."""
import pytest


@pytest.fixture(scope="session")
def httpbin_results():
    """target name -> list of lab.httpbin_cases.Result, filled as targets run (test_httpbin.py
    runs before test_httpbin_variants.py)."""
    return {}
