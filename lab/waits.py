"""The one bounded wait: poll until something holds, or fail naming what never became so."""
from __future__ import annotations

from tenacity import RetryError, Retrying, retry_if_exception, retry_if_result, stop_after_delay, wait_fixed

from lab.errors import LabError


def _worth_retrying(error: BaseException) -> bool:
    # tenacity hands over BaseExceptions too: Ctrl-C must end the wait, not be retried
    return isinstance(error, Exception) and not isinstance(error, LabError)


def wait_until(check, timeout: float, what: str, interval: float = 0.5):
    """Call `check` until it returns something truthy and return that; LabError naming `what`
    after `timeout` s. A LabError from `check` ends the wait at once; other exceptions (an API
    hiccup, a stream cut by a restart) are retried."""
    retrying = Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(interval),
                        retry=retry_if_result(lambda value: not value)
                        | retry_if_exception(_worth_retrying))
    try:
        return retrying(check)
    except RetryError as error:
        last = error.last_attempt
        cause = f"; last error: {last.exception()}" if last.failed else ""
        raise LabError(f"{what} (waited {timeout:.0f}s{cause})") from None
