"""Shared by the HTTP sources (Direct, VK Ads, CBR): bounded timeouts, retries with backoff, masked secrets.

`send` retries 429/5xx, timeouts and dropped connections with capped exponential backoff, honouring
Retry-After; it never puts request headers (tokens) into messages or logs.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import requests

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class SourceHTTPError(RuntimeError):
    """An API refused a request (or kept failing); the message names the API, the URL path and the reason."""

    def __init__(self, message: str, status: int | None = None, code: Any = None) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    what: str,
    max_retries: int = 5,
    backoff_base: float = 0.5,
    backoff_max: float = 30.0,
    timeout: tuple[float, float] = (10.0, 120.0),
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> requests.Response:
    """One request with retries; returns the first non-retryable answer (the caller checks its status)."""
    path = url.split("?", 1)[0]
    for attempt in range(max_retries + 1):
        try:
            response = session.request(method, url, timeout=timeout, **kwargs)
        except (requests.Timeout, requests.ConnectionError) as exc:
            if attempt == max_retries:
                raise SourceHTTPError(f"{what}: {method} {path} failed after {attempt + 1} attempts: "
                                      f"{type(exc).__name__}") from None
            wait = min(backoff_max, backoff_base * 2 ** attempt)
            log.warning("%s: %s %s %s, retrying in %.1f s", what, method, path, type(exc).__name__, wait)
            sleep(wait)
            continue
        if response.status_code in RETRYABLE_STATUS and attempt < max_retries:
            hinted = retry_after(response)
            wait = min(backoff_max, hinted if hinted is not None else backoff_base * 2 ** attempt)
            log.warning("%s: %s %s answered %s, retrying in %.1f s", what, method, path, response.status_code, wait)
            sleep(wait)
            continue
        if response.status_code in RETRYABLE_STATUS:
            raise SourceHTTPError(f"{what}: {method} {path} still answers {response.status_code} after "
                                  f"{attempt + 1} attempts", status=response.status_code)
        return response
    raise AssertionError("unreachable")
