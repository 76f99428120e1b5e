"""The reviewed conventions of reference_differences.yaml still describe the reference httpbin:
each explains at least one problem of its answers (a convention that explains none is stale)."""
import pytest

from tests.conformance import reference

pytestmark = pytest.mark.conformance


def test_every_convention_still_explains_a_problem(reference_httpbin):
    problems = [problem for result in reference_httpbin.results() for problem in result.problems]
    stale = [c.id for c in reference.load().conventions if not any(c.problem.fullmatch(p) for p in problems)]
    assert not stale, (f"the reference agrees with the spec on {stale}: take them off "
                       f"{reference.DIFFERENCES_FILE.name} and docs/conformance.md")
