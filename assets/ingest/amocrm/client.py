"""A small amoCRM API v4 client (plain Python): Bearer auth, page/limit paging to the end, retries.

- Pages: `page` from 1 with `limit` (250; 100 for events) until `_links.next` is absent or the
  answer is 204 (amoCRM's empty page: no body at all). Lists read by a changing time (`updated_at`)
  go by `keyset_pages` instead: each page asked from the last time seen, so no record slides past.
- Rate: at most `max_rps` requests a second from this client (amoCRM allows 7), spaced evenly.
- Retries: 429 and 5xx, timeouts and dropped connections, with exponential backoff that honours
  Retry-After; the timeouts are bounded.
- Errors name the method and the endpoint path, never the token (it only travels in a header).
- A page whose body is not the JSON amoCRM promised (cut short by a proxy, garbled) is asked once
  more; if it is broken again, `pages` yields a `MalformedPage` in its place (the source quarantines
  it) and goes on with the next page number, so one bad page does not stop the load.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


class MalformedAnswer(AmoCRMError):
    """A 200 whose body is not JSON (or lacks the list): kept apart so paging can skip the page."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message, 200)
        self.raw = raw


@dataclass(frozen=True)
class MalformedPage:
    """A page that stayed broken after a retry: where it was, why, and the start of what came."""

    path: str
    page: int
    reason: str
    raw: str


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
                    raise MalformedAnswer(f"amoCRM GET {endpoint}: the answer is not JSON",
                                          response.text[:2000]) from None
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
              limit: int = 250) -> Iterator[list[dict[str, Any]] | MalformedPage]:
        """Every page of a list endpoint, following `_links.next` until it is absent or a page is 204.

        A page broken twice comes as a MalformedPage; paging then goes on with the next page number
        (amoCRM's `next` is the same query with `page` + 1) until an answer says there is no more.
        """
        query = {**(params or {}), "limit": limit}
        page, url = 1, None
        while True:
            answer = self._page(path, url, {**query, "page": page}, key)
            if answer is None:
                return
            if isinstance(answer, MalformedPage):
                yield answer
                page, url = page + 1, None
                continue
            rows, next_href = answer
            if rows:
                yield rows
            if not next_href:
                return
            page, url = page + 1, next_href

    def keyset_pages(self, path: str, params: dict[str, Any] | None = None, *, key: str, field: str,
                     start: int, limit: int = 250) -> Iterator[list[dict[str, Any]] | MalformedPage]:
        """Every record with `field` >= `start`, in `field` order, each page asked from the last value seen.

        Page numbers over a list ordered by a time that changes while it is read skip records: a lead
        edited between two pages moves to the end and the record after it slides onto the page already
        read. Here every page is asked afresh with `filter[<field>][from]` = the highest value on the
        previous page (page 1 again), so an edited record is met later instead and nothing slides past;
        only a page filled by a single second pages on by number within that second. Records met twice
        with the same (id, value) are yielded once.
        """
        base = {k: v for k, v in (params or {}).items() if k not in (f"filter[{field}][from]", f"order[{field}]")}
        low, page = int(start), 1
        seen: set[tuple[Any, Any]] = set()
        while True:
            query = {**base, f"filter[{field}][from]": low, f"order[{field}]": "asc", "limit": limit, "page": page}
            answer = self._page(path, None, query, key)
            if answer is None:
                return
            if isinstance(answer, MalformedPage):
                yield answer
                page += 1
                continue
            rows, next_href = answer
            fresh = [r for r in rows if not isinstance(r, dict) or (r.get("id"), r.get(field)) not in seen]
            if fresh:
                yield fresh
            if not next_href:
                return
            values = [r.get(field) for r in rows if isinstance(r, dict) and isinstance(r.get(field), int)]
            top = max(values, default=low)
            if top > low:
                low, page = top, 1
                seen = {(r.get("id"), r.get(field)) for r in rows if isinstance(r, dict) and r.get(field) == top}
            else:  # a whole page stamped in the same second: on by number within it
                page += 1
                seen |= {(r.get("id"), r.get(field)) for r in rows if isinstance(r, dict)}

    def _page(self, path: str, url: str | None, query: dict[str, Any],
              key: str) -> tuple[list[dict[str, Any]], str | None] | MalformedPage | None:
        """One page: (rows, next href), None when empty (204), or a MalformedPage after one retry."""
        for attempt in range(2):
            try:
                body = self.get(url) if url else self.get(path, query)
                if body is None:
                    return None
                rows = body.get("_embedded", {}).get(key) if isinstance(body, dict) else None
                if not isinstance(rows, list):
                    raise MalformedAnswer(f"amoCRM GET {path}: a page without _embedded.{key}",
                                          str(body)[:2000])
                return rows, body.get("_links", {}).get("next", {}).get("href")
            except MalformedAnswer as exc:
                if attempt == 1:
                    return MalformedPage(path, query["page"], f"malformed page: {exc}", exc.raw)
                log.warning("amoCRM GET %s page %s: %s, asking once more", path, query["page"], exc)
        raise AssertionError("unreachable")


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None
