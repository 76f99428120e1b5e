"""Every httpbin build gives the same normalised answers (runs after test_httpbin.py)."""
import pytest

from lab import httpbin_cases as hc
from tests.machine_limits import require

pytestmark = pytest.mark.conformance


def test_variants_agree(httpbin_results):
    require("docker")
    require("kit")
    assert len(httpbin_results) >= 2, f"fewer than two targets ran ({', '.join(httpbin_results) or 'none'})"
    problems = hc.differences(httpbin_results)
    assert not problems, "\n".join(problems)
