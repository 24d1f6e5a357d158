"""The one retrying HTTP session every outside call goes through (CRMs, ad platforms, CBR, Telegram).

A `requests.Session` whose `send` retries with tenacity, so `requests` calls and dlt's `RESTClient`
(which sends through the session it is given) get the same rule:

- Retried: dropped or refused connections, timeouts, a connection cut mid-answer, and the answers
  429, 500, 502, 503, 504 (a caller may widen this with `retry_if`, e.g. Bitrix24's error codes).
- The wait: the server's `Retry-After` when it sends one (delta seconds or an HTTP date, see
  `retry_after_seconds`), else exponential backoff `backoff_base * 2**(n-1)` up to `backoff_max`,
  scaled by a random 0.5–1.0 so clients refused together do not come back together.
- One cap for every server-named wait: `RETRY_AFTER_CAP` (120 s). Longer asks are waited out only
  up to it: a minute or two covers Telegram's flood control and the CRMs' rate windows, and a
  server that wants more is better left to the next scheduled run than waited on by this one.
- A bounded budget: `max_attempts` tries and at most `budget_seconds` (10 min, less than the
  15-minute refresh) from the first try to the last; a wait that would overrun it is not started.
- Giving up: after retryable answers the last answer is returned (the caller reports it in its own
  words); after no answer at all, `NoAnswer` is raised naming the API and attempts but never the URL
  (webhook secrets and bot tokens live in URLs; `describe` decides what of the URL may be shown).
- Response hooks (dlt's `RESTClient` puts its error handling there) see only the final answer.
- urllib3 logs every request's path at DEBUG; while a session sends, those lines show only what its
  `describe` allows (a webhook's secret code and a bot token are path segments).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, ConfigDict, Field
from requests.hooks import dispatch_hook
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_any,
)
from tenacity.stop import stop_base

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
RETRY_EXCEPTIONS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
RETRY_AFTER_CAP = 120.0  # seconds; the one cap on a wait a server asks for

_describe_url: ContextVar[Callable[[str], str] | None] = ContextVar("describe_url", default=None)


class _RedactUrls(logging.Filter):
    """Rewrites the URL paths urllib3 passes to its log lines with the sending session's `describe`."""

    def filter(self, record: logging.LogRecord) -> bool:
        describe = _describe_url.get()
        if describe is not None and isinstance(record.args, tuple):
            record.args = tuple(
                describe(a) if isinstance(a, str) and a.startswith(("/", "http")) else a for a in record.args
            )
        return True


for _name in ("urllib3.connectionpool", "urllib3.util.retry"):
    if not any(isinstance(f, _RedactUrls) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_RedactUrls())


class SourceHTTPError(RuntimeError):
    """An API refused a request (or kept failing); the message names the API and the reason, never a secret."""

    def __init__(self, message: str, status: int | None = None, code: Any = None) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class NoAnswer(SourceHTTPError):
    """Every attempt ended without an HTTP answer (refused, reset, timed out)."""

    def __init__(self, message: str, attempts: int, reason: str) -> None:
        super().__init__(message)
        self.attempts, self.reason = attempts, reason


class RetryPolicy(BaseModel):
    """How hard one request is tried: attempts (the first included), backoff and the total budget."""

    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=6, ge=1)
    backoff_base: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=30.0, ge=0)
    budget_seconds: float = Field(default=600.0, gt=0)


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """A Retry-After value as seconds from now (>= 0): delta seconds or an HTTP date; None if absent or unreadable."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def retry_after_header(response: requests.Response) -> float | None:
    return retry_after_seconds(response.headers.get("Retry-After"))


def retryable_status(response: requests.Response) -> bool:
    return response.status_code in RETRY_STATUS


def url_path(url: str) -> str:
    """What a log line may show of a URL by default: its path, never the query (tokens travel there)."""
    return urlsplit(url).path or "/"


class _BudgetSpent(stop_base):
    """Stops when the coming wait would end past the budget counted from the first try."""

    def __init__(self, clock: Callable[[], float], started: float, budget: float) -> None:
        self.clock, self.started, self.budget = clock, started, budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.clock() - self.started + retry_state.upcoming_sleep > self.budget


class RetryingSession(requests.Session):
    """A requests session that retries as the module says; one per client (headers, hooks are its own).

    `what` names the API in logs and errors. Hooks for the few APIs with more to say:
    `retry_if(response)` also retries answers beyond RETRY_STATUS; `hint(response)` gives the wait the
    server asked for (default: the Retry-After header), capped like any other; `retry_status` narrows
    the answers retried here (Telegram's client handles its 429 itself, with waits beyond the cap); `before_attempt()` runs
    before every try (a client's own rate limiter, a request counter); `describe(url)` is what logs and
    errors may show of the URL. `sleep` and `clock` are injectable so tests need no real waiting.
    """

    def __init__(
        self,
        what: str,
        *,
        policy: RetryPolicy | None = None,
        timeout: float | tuple[float, float] = (10.0, 60.0),
        headers: Mapping[str, str] | None = None,
        retry_if: Callable[[requests.Response], bool] | None = None,
        retry_status: frozenset[int] = RETRY_STATUS,
        hint: Callable[[requests.Response], float | None] = retry_after_header,
        before_attempt: Callable[[], None] | None = None,
        describe: Callable[[str], str] = url_path,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.what = what
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.headers.update(headers or {})
        self._retry_if = retry_if
        self._retry_status = retry_status
        self._hint = hint
        self._before_attempt = before_attempt
        self._describe = describe
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:  # never headers (tokens)
        return f"RetryingSession({self.what!r})"

    def _retryable(self, response: requests.Response) -> bool:
        return response.status_code in self._retry_status or bool(self._retry_if and self._retry_if(response))

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            hinted = self._hint(outcome.result())
            if hinted is not None:
                return min(max(0.0, hinted), RETRY_AFTER_CAP)
        p = self.policy
        return min(p.backoff_max, p.backoff_base * 2 ** (state.attempt_number - 1)) * random.uniform(0.5, 1.0)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:  # Session.request passes timeout=None when the caller gave none
            kwargs["timeout"] = self.timeout
        where = f"{self.what}: {request.method} {self._describe(request.url or '')}"
        started = self._clock()

        def attempt() -> requests.Response:
            if self._before_attempt:
                self._before_attempt()
            return super(RetryingSession, self).send(request, **kwargs)

        def before_sleep(state: RetryCallState) -> None:
            outcome = state.outcome
            assert outcome is not None  # tenacity sleeps only after an attempt
            why = type(outcome.exception()).__name__ if outcome.failed else f"answered {outcome.result().status_code}"
            log.warning(
                "%s %s, retry %d/%d in %.1f s",
                where,
                why,
                state.attempt_number,
                self.policy.max_attempts - 1,
                state.upcoming_sleep,
            )

        def give_up(state: RetryCallState) -> requests.Response:
            outcome = state.outcome
            assert outcome is not None  # tenacity gives up only after an attempt
            exc = outcome.exception()
            if exc is None:
                return outcome.result()  # the last retryable answer: the caller reports it
            reason = type(exc).__name__  # requests' own messages carry the full URL: keep only the type
            # the host is no secret and tells on-call where the source was looked for (a wrong address?)
            host = urlsplit(request.url or "").netloc.rpartition("@")[2]
            raise NoAnswer(
                f"{where}: no answer from {host} after {state.attempt_number} attempt(s) ({reason})",
                state.attempt_number,
                reason,
            ) from None

        hooks, request.hooks = request.hooks, {"response": []}
        redacting = _describe_url.set(self._describe)
        try:
            response = Retrying(
                retry=retry_if_exception_type(RETRY_EXCEPTIONS) | retry_if_result(self._retryable),
                wait=self._wait,
                stop=stop_any(
                    stop_after_attempt(self.policy.max_attempts),
                    _BudgetSpent(self._clock, started, self.policy.budget_seconds),
                ),
                sleep=self._sleep,
                before_sleep=before_sleep,
                retry_error_callback=give_up,
            )(attempt)
        finally:
            request.hooks = hooks
            _describe_url.reset(redacting)
        return dispatch_hook("response", hooks, response, **kwargs)
