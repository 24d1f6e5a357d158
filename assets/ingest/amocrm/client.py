"""A small amoCRM API v4 client (plain Python): Bearer auth, page/limit paging to the end, retries.

- Pages: `page` from 1 with `limit` (250; 100 for events) until `_links.next` is absent or the
  answer is 204 (amoCRM's empty page: no body at all).
- Rate: at most `max_rps` requests a second from this client (amoCRM allows 7), spaced evenly.
- Retries: 429 and 5xx, timeouts and dropped connections, with exponential backoff that honours
  Retry-After; the timeouts are bounded.
- Errors name the method and the endpoint path, never the token (it only travels in a header).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)

RETRYABLE = frozenset({429, 500, 502, 503, 504})


class AmoCRMError(RuntimeError):
    """amoCRM refused a request or kept failing; the message names the endpoint, never the token."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AmoCRMClient:
    def __init__(self, base_url: str, token: str, *, max_rps: float = 7.0, max_retries: int = 6,
                 backoff_base: float = 0.5, backoff_max: float = 30.0, timeout: tuple[float, float] = (10, 60),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = requests.Session()
        self._session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/hal+json"})
        self.min_interval = 1.0 / max_rps if max_rps else 0.0
        self.max_retries, self.backoff_base, self.backoff_max = max_retries, backoff_base, backoff_max
        self.timeout, self._sleep = timeout, sleep
        self._last = 0.0
        self._gate = threading.Lock()
        self.requests_made = 0

    def __repr__(self) -> str:  # never the token
        return f"AmoCRMClient({self.base_url!r})"

    def _throttle(self) -> None:
        with self._gate:
            wait = self._last + self.min_interval - time.monotonic()
            if wait > 0:
                self._sleep(wait)
            self._last = time.monotonic()

    def get(self, path_or_url: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None) -> dict | None:
        """One GET with retries; the JSON body, or None for 204 (an empty page)."""
        url = path_or_url if path_or_url.startswith("http") else self.base_url + path_or_url
        endpoint = urlsplit(url).path
        for attempt in range(self.max_retries + 1):
            self._throttle()
            self.requests_made += 1
            try:
                response = self._session.get(url, params=params, timeout=self.timeout)
            except (requests.Timeout, requests.ConnectionError) as exc:
                if attempt == self.max_retries:
                    raise AmoCRMError(f"amoCRM GET {endpoint}: no answer after {attempt + 1} tries "
                                      f"({type(exc).__name__})") from None
                self._backoff(attempt, None, endpoint, type(exc).__name__)
                continue
            status = response.status_code
            if status == 204:
                return None
            if status == 200:
                try:
                    return response.json()
                except ValueError:
                    raise AmoCRMError(f"amoCRM GET {endpoint}: the answer is not JSON", status) from None
            if status in RETRYABLE and attempt < self.max_retries:
                self._backoff(attempt, _retry_after(response), endpoint, str(status))
                continue
            if status == 401:
                raise AmoCRMError(
                    f"amoCRM GET {endpoint}: 401 Unauthorized: the access token was refused (revoked, expired "
                    "or for another account); set a valid AMOCRM_ACCESS_TOKEN", status)
            if status == 403:
                raise AmoCRMError(f"amoCRM GET {endpoint}: 403 Forbidden (no rights, or the IP is blocked "
                                  "for exceeding the rate limit)", status)
            detail = ""
            try:
                body = response.json()
                detail = f": {body.get('title', '')} {body.get('detail', '')}".rstrip()
            except ValueError:
                pass
            raise AmoCRMError(f"amoCRM GET {endpoint}: HTTP {status}{detail}", status)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, hint: float | None, endpoint: str, why: str) -> None:
        delay = min(self.backoff_max, hint if hint is not None else self.backoff_base * 2 ** attempt)
        log.warning("amoCRM GET %s: %s, retrying in %.1f s", endpoint, why, delay)
        self._sleep(delay)

    def pages(self, path: str, params: dict[str, Any] | None = None, *, key: str,
              limit: int = 250) -> Iterator[list[dict[str, Any]]]:
        """Every page of a list endpoint, following `_links.next` until it is absent or a page is 204."""
        query = {**(params or {}), "limit": limit, "page": 1}
        body = self.get(path, query)
        while body is not None:
            rows = body.get("_embedded", {}).get(key)
            if not isinstance(rows, list):
                raise AmoCRMError(f"amoCRM GET {path}: a page without _embedded.{key} (page {body.get('_page')})")
            if rows:
                yield rows
            next_href = body.get("_links", {}).get("next", {}).get("href")
            if not next_href:
                return
            body = self.get(next_href)


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None
