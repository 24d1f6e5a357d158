"""A small amoCRM API v4 client (plain Python): Bearer auth, paging to the end, retries, a rate limit.

- Pages: dlt's `RESTClient` with `JSONLinkPaginator` over `_links.next.href` (`page` from 1, `limit`
  250; 100 for events) until `_links.next` is absent or the answer is 204 (amoCRM's empty page: no
  body at all, which ends the paging). Lists read by a changing time (`updated_at`) go by
  `keyset_pages` instead: each page asked from the last time seen, so no record slides past.
- Rate: at most `max_rps` requests a second from this client (amoCRM allows 7), spaced evenly.
- Retries: the shared retrying session (resources/http.py): 429 and 5xx, timeouts and dropped
  connections, backoff that honours Retry-After; the timeouts are bounded.
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
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator

from resources.http import NoAnswer, RetryingSession, RetryPolicy

log = logging.getLogger(__name__)


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
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        max_rps: float = 7.0,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        timeout: tuple[float, float] = (10, 60),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.min_interval = 1.0 / max_rps if max_rps else 0.0
        self._sleep = sleep
        self._last = 0.0
        self._gate = threading.Lock()
        self.requests_made = 0
        session = RetryingSession(
            "amoCRM",
            policy=RetryPolicy(max_attempts=max_retries + 1, backoff_base=backoff_base, backoff_max=backoff_max),
            timeout=timeout,
            sleep=sleep,
            before_attempt=self._throttle,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/hal+json"},
        )
        self._rest = RESTClient(
            base_url=self.base_url, session=session, paginator=JSONLinkPaginator(next_url_path="_links.next.href")
        )

    def __repr__(self) -> str:  # never the token
        return f"AmoCRMClient({self.base_url!r})"

    def _throttle(self) -> None:
        with self._gate:
            wait = self._last + self.min_interval - time.monotonic()
            if wait > 0:
                self._sleep(wait)
            self._last = time.monotonic()
            self.requests_made += 1

    @contextmanager
    def _answered(self, path_or_url: str) -> Iterator[None]:
        """A request that got no answer at all becomes an AmoCRMError naming the endpoint."""
        try:
            yield
        except NoAnswer as exc:
            raise AmoCRMError(
                f"amoCRM GET {urlsplit(path_or_url).path}: no answer after {exc.attempts} tries ({exc.reason})"
            ) from None

    def get(self, path_or_url: str, params: dict[str, Any] | None = None) -> dict | None:
        """One GET with retries; the JSON body, or None for 204 (an empty page)."""
        with self._answered(path_or_url):
            response = self._rest.get(path_or_url, params=params)
        return None if response.status_code == 204 else _body(response)

    def pages(
        self, path: str, params: dict[str, Any] | None = None, *, key: str, limit: int = 250
    ) -> Iterator[list[dict[str, Any]] | MalformedPage]:
        """Every page of a list endpoint, following `_links.next` until it is absent or a page is 204.

        A page broken twice comes as a MalformedPage; paging then goes on with the next page number
        (amoCRM's `next` is the same query with `page` + 1) until an answer says there is no more.
        """
        query = {**(params or {}), "limit": limit}
        page, asked_again = 1, False
        while True:
            try:
                with self._answered(path):
                    for rows in self._rest.paginate(
                        path, params={**query, "page": page}, data_selector=f"_embedded.{key}", hooks=_page_hooks(key)
                    ):
                        page, asked_again = page + 1, False
                        if rows:
                            yield list(rows)
                return
            except MalformedAnswer as exc:
                if not asked_again:
                    log.warning("amoCRM GET %s page %s: %s, asking once more", path, page, exc)
                    asked_again = True
                    continue
                yield MalformedPage(path, page, f"malformed page: {exc}", exc.raw)
                page, asked_again = page + 1, False

    def keyset_pages(
        self, path: str, params: dict[str, Any] | None = None, *, key: str, field: str, start: int, limit: int = 250
    ) -> Iterator[list[dict[str, Any]] | MalformedPage]:
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
            answer = self._one_page(path, query, key)
            if answer is None:
                return
            if isinstance(answer, MalformedPage):
                yield answer
                page += 1
                continue
            rows, has_next = answer
            fresh = [r for r in rows if not isinstance(r, dict) or (r.get("id"), r.get(field)) not in seen]
            if fresh:
                yield fresh
            if not has_next:
                return
            values = [v for r in rows if isinstance(r, dict) and isinstance(v := r.get(field), int)]
            top = max(values, default=low)
            if top > low:
                low, page = top, 1
                seen = {(r.get("id"), r.get(field)) for r in rows if isinstance(r, dict) and r.get(field) == top}
            else:  # a whole page stamped in the same second: on by number within it
                page += 1
                seen |= {(r.get("id"), r.get(field)) for r in rows if isinstance(r, dict)}

    def _one_page(
        self, path: str, query: dict[str, Any], key: str
    ) -> tuple[list[dict[str, Any]], bool] | MalformedPage | None:
        """One page: (rows, whether `_links.next` points on), None when empty (204), or a MalformedPage after one retry."""
        for attempt in range(2):
            try:
                with self._answered(path):
                    for rows in self._rest.paginate(
                        path, params=query, data_selector=f"_embedded.{key}", hooks=_page_hooks(key)
                    ):
                        return list(rows), rows.paginator.has_next_page
                return None
            except MalformedAnswer as exc:
                if attempt == 1:
                    return MalformedPage(path, query["page"], f"malformed page: {exc}", exc.raw)
                log.warning("amoCRM GET %s page %s: %s, asking once more", path, query["page"], exc)
        raise AssertionError("unreachable")


def _body(response: requests.Response) -> Any:
    """The JSON of a 200, or the error amoCRM's answer means (the message names the endpoint)."""
    endpoint = urlsplit(response.url).path
    status = response.status_code
    if status == 200:
        try:
            return response.json()
        except ValueError:
            raise MalformedAnswer(f"amoCRM GET {endpoint}: the answer is not JSON", response.text[:2000]) from None
    if status == 401:
        raise AmoCRMError(
            f"amoCRM GET {endpoint}: 401 Unauthorized: the access token was refused (revoked, expired "
            "or for another account); set a valid AMOCRM_ACCESS_TOKEN",
            status,
        )
    if status == 403:
        raise AmoCRMError(
            f"amoCRM GET {endpoint}: 403 Forbidden (no rights, or the IP is blocked for exceeding the rate limit)",
            status,
        )
    detail = ""
    try:
        body = response.json()
        detail = f": {body.get('title', '')} {body.get('detail', '')}".rstrip()
    except (ValueError, AttributeError):
        pass
    raise AmoCRMError(f"amoCRM GET {endpoint}: HTTP {status}{detail}", status)


def _page_hooks(key: str) -> Any:
    """RESTClient response hooks for a list page: 204 ends the paging, a page without `_embedded.<key>` is malformed."""

    def check(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.status_code == 204:
            raise IgnoreResponseException
        body = _body(response)
        embedded = body.get("_embedded") if isinstance(body, dict) else None
        rows = embedded.get(key) if isinstance(embedded, dict) else None
        if not isinstance(rows, list):
            raise MalformedAnswer(
                f"amoCRM GET {urlsplit(response.url).path}: a page without _embedded.{key}", str(body)[:2000]
            )

    return {"response": [check]}
