"""A small Bitrix24 REST client for incoming webhooks: bounded timeouts, retries, paging, masked secrets.

Plain Python (no dlt, no Dagster) so it is tested on its own. The webhook URL carries the secret
code (`https://<portal>/rest/<user>/<code>/`): it is never logged, and every error names the
method and paging position with the code masked.
"""
from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import requests

log = logging.getLogger(__name__)

PAGE_SIZE = 50  # fixed by Bitrix24
# Bitrix24 answers these when a client is too fast (503 QUERY_LIMIT_EXCEEDED) or has spent its
# per-method time budget (429 OPERATION_TIME_LIMIT); both clear with time.
RETRYABLE_ERRORS = frozenset({"QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT", "INTERNAL_SERVER_ERROR"})
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

_WEBHOOK_RE = re.compile(r"(/rest/[^/\s]+/)([^/\s?#]+)")


def mask_webhook(text: str) -> str:
    """Hide the secret code of any webhook URL inside `text` (`/rest/1/abc/` -> `/rest/1/***/`)."""
    return _WEBHOOK_RE.sub(r"\1***", text)


class Bitrix24Error(RuntimeError):
    """Bitrix24 refused a call (or kept failing); the message names method, position and error code."""

    def __init__(self, message: str, *, method: str, error: str | None = None, status: int | None = None):
        super().__init__(mask_webhook(message))
        self.method = method
        self.error = error
        self.status = status


class Bitrix24Client:
    """Calls `<webhook><method>.json` with JSON POST bodies and walks Bitrix24's 50-row pages.

    Retries 429/5xx, QUERY_LIMIT_EXCEEDED/OPERATION_TIME_LIMIT, timeouts and dropped connections with
    exponential backoff (jittered, capped), honouring Retry-After when the server sends one.
    """

    def __init__(
        self,
        webhook_url: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 65.0,  # Bitrix24 itself gives up on a request after 60 s
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not webhook_url or not webhook_url.startswith(("http://", "https://")):
            raise ValueError("Bitrix24 webhook URL must start with http:// or https:// (value hidden)")
        self._base = webhook_url.rstrip("/") + "/"
        self.timeout = (connect_timeout, read_timeout)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._session = session or requests.Session()
        self._sleep = sleep
        self.calls = 0  # HTTP requests sent, retries included (for tests and metadata)

    @property
    def masked_url(self) -> str:
        return mask_webhook(self._base)

    def __repr__(self) -> str:  # never show the secret, even in debuggers and tracebacks
        return f"Bitrix24Client({self.masked_url!r})"

    # --- one call --------------------------------------------------------------------------
    def call(self, method: str, params: Mapping[str, Any] | None = None, *, position: str = "") -> dict[str, Any]:
        """POST one method; returns the whole answer (`result`, `total`, `next`, `time`)."""
        where = f"{method}{f' at {position}' if position else ''} on {self.masked_url}"
        url = f"{self._base}{method}.json"
        attempt = 0
        while True:
            attempt += 1
            self.calls += 1
            retry_after: float | None = None
            try:
                resp = self._session.post(url, json=dict(params or {}), timeout=self.timeout)
            except (requests.Timeout, requests.ConnectionError) as exc:
                # requests' messages contain the full URL: keep only the exception type.
                problem, status, error = f"{type(exc).__name__} (no answer)", None, None
            else:
                status = resp.status_code
                body = _json_or_none(resp)
                error = body.get("error") if isinstance(body, dict) else None
                if status == 200 and isinstance(body, dict) and "result" in body and not error:
                    return body
                description = (body or {}).get("error_description", "") if isinstance(body, dict) else ""
                problem = f"HTTP {status} {error or ''} {description or (resp.text[:200] if body is None else '')}".strip()
                retryable = status in RETRYABLE_STATUS or (error in RETRYABLE_ERRORS)
                if not retryable:
                    raise Bitrix24Error(
                        f"Bitrix24 {where} failed: {problem}", method=method, error=error, status=status
                    ) from None
                retry_after = _retry_after(resp)
            if attempt > self.max_retries:
                raise Bitrix24Error(
                    f"Bitrix24 {where} still failing after {attempt} attempts: {problem}",
                    method=method, error=error, status=status,
                ) from None
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            log.warning("Bitrix24 %s: %s; retry %d/%d in %.1fs", where, mask_webhook(problem), attempt,
                        self.max_retries, delay)
            self._sleep(delay)

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)

    # --- paging ----------------------------------------------------------------------------
    def pages(self, method: str, params: Mapping[str, Any] | None = None,
              items_key: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """Yield pages of rows, following `next` (offset paging: start=0, 50, 100 … until no `next`).

        `items_key` unwraps answers shaped `{"result": {"<key>": [...]}}` (crm.category.list, crm.item.list).
        """
        start: int | None = 0
        while start is not None:
            body = self.call(method, {**(params or {}), "start": start}, position=f"start={start}")
            rows = _rows(body.get("result"), items_key, method)
            if rows:
                yield rows
            nxt = body.get("next")
            start = int(nxt) if nxt not in (None, "") and rows else None

    def pages_by_id(self, method: str, params: Mapping[str, Any] | None = None,
                    id_field: str = "ID") -> Iterator[list[dict[str, Any]]]:
        """Keyset paging for big lists: `filter[>ID]=<last id>`, `order[ID]=ASC`, `start=-1` (no count).

        Bitrix24's docs recommend this on large portals: counting rows makes each offset page slow,
        and offsets shift when rows are deleted mid-load. Stops at a page shorter than 50.
        """
        base = dict(params or {})
        base_filter = dict(base.pop("filter", {}) or {})
        last_id = 0
        while True:
            query = {**base, "filter": {**base_filter, f">{id_field}": last_id},
                     "order": {id_field: "ASC"}, "start": -1}
            body = self.call(method, query, position=f"ID>{last_id}")
            rows = _rows(body.get("result"), None, method)
            if rows:
                yield rows
                last_id = max(int(r[id_field]) for r in rows)
            if len(rows) < PAGE_SIZE:
                return


def _json_or_none(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _retry_after(resp: requests.Response) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date), capped at 5 minutes."""
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, 300.0))


def _rows(result: Any, items_key: str | None, method: str) -> list[dict[str, Any]]:
    if isinstance(result, dict):
        for key in ([items_key] if items_key else []) + ["items", "categories"]:
            if isinstance(result.get(key), list):
                return result[key]
        # user.get with ADMIN_MODE and some list methods answer {"0": {...}, "1": {...}}
        if all(isinstance(v, dict) for v in result.values()):
            return list(result.values())
    if isinstance(result, list):
        return result
    raise Bitrix24Error(f"Bitrix24 {method}: unexpected result shape {type(result).__name__}", method=method)
