"""lab.kube's one way of saying "absent is fine": a 404 is an answer, every other API error is raised."""
import pytest
from kubernetes.client.exceptions import ApiException

from lab.kube import delete_if_present, read_if_present


def answering(status):
    def call():
        raise ApiException(status=status, reason="from the API")
    return call


def test_a_read_of_an_absent_object_is_none_and_any_other_error_is_raised():
    assert read_if_present(lambda: {"kind": "Pod"}) == {"kind": "Pod"}
    assert read_if_present(answering(404)) is None
    with pytest.raises(ApiException):
        read_if_present(answering(403))


def test_a_delete_says_whether_it_deleted_and_tolerates_only_absent_or_what_the_caller_names():
    assert delete_if_present(lambda: None) is True
    assert delete_if_present(answering(404)) is False
    assert delete_if_present(answering(409), also_fine=(409,)) is False
    for status in (409, 500):
        with pytest.raises(ApiException):
            delete_if_present(answering(status))
