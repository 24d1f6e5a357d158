"""A small Bitrix24 REST client for incoming webhooks: bounded timeouts, retries, paging, batch, masked secrets.

Bitrix24 allows 2 requests a second with bursts to 50 (a leaky bucket per portal) and answers 503
QUERY_LIMIT_EXCEEDED past it; one `batch` request carries up to 50 list calls of 50 rows. So the
client paces itself with the same bucket (`rate`, `burst`) and `batched_pages` fetches up to 2,500
rows a request: keyset between requests (`filter[>ID]=<last id of the previous request>`), offsets
`start=0, 50, …` inside one. A refusal still happens when other integrations share the bucket: it
is retried after a short wait.

Plain Python (no dlt, no Dagster) so it is tested on its own. The webhook URL carries the secret
code (`https://<portal>/rest/<user>/<code>/`): it is never logged, and every error names the
method and paging position with the code masked.
"""

from __future__ import annotations

import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from resources.http import (
    RETRY_STATUS,
    NoAnswer,
    RetryingSession,
    RetryPolicy,
    retry_after_header,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 50  # fixed by Bitrix24
BATCH_LIMIT = 50  # commands in one batch request
# Bitrix24 answers these when a client is too fast (503 QUERY_LIMIT_EXCEEDED) or has spent its
# per-method time budget (429 OPERATION_TIME_LIMIT); both clear with time.
RETRYABLE_ERRORS = frozenset({"QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT", "INTERNAL_SERVER_ERROR"})

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

    Requests go through the shared retrying session (resources/http.py), taught Bitrix24's dialect:
    an answer carrying QUERY_LIMIT_EXCEEDED, OPERATION_TIME_LIMIT or INTERNAL_SERVER_ERROR (alone, or
    as every command error of a batch) is retried too, a full bucket is waited out by its drain rate
    when no Retry-After came, and every try first waits for room in the client's own bucket.
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
        sleep: Callable[[float], None] = time.sleep,
        rate: float | None = 2.0,
        burst: int = 50,
    ) -> None:
        if not webhook_url or not webhook_url.startswith(("http://", "https://")):
            raise ValueError("Bitrix24 webhook URL must start with http:// or https:// (value hidden)")
        self._base = webhook_url.rstrip("/") + "/"
        self.backoff_max = backoff_max
        self._sleep = sleep
        self.calls = 0  # HTTP requests sent, retries included (for tests and metadata)
        self.limited = 0  # QUERY_LIMIT_EXCEEDED answers received
        self._calls_before = 0  # self.calls when the current call() began: its attempt number is the difference
        # the client's own copy of the portal's leaky bucket (None: no pacing, rely on retries)
        self.rate, self.burst = rate, burst
        self._level = 0.0
        self._level_at = time.monotonic()
        self._http = RetryingSession(
            "Bitrix24",
            policy=RetryPolicy(max_attempts=max_retries + 1, backoff_base=backoff_base, backoff_max=backoff_max),
            timeout=(connect_timeout, read_timeout),
            retry_if=_temporary,
            hint=self._wait_hint,
            before_attempt=self._before_attempt,
            describe=mask_webhook,
            sleep=sleep,
        )

    def _pace(self) -> None:
        """Wait until one more request fits into the bucket, then count it."""
        if not self.rate:
            return
        now = time.monotonic()
        self._level = max(0.0, self._level - (now - self._level_at) * self.rate)
        self._level_at = now
        if self._level + 1 > self.burst:
            wait = (self._level + 1 - self.burst) / self.rate + 0.01
            self._sleep(wait)
            now = time.monotonic()
            self._level = max(0.0, self._level - (now - self._level_at) * self.rate)
            self._level_at = now
        self._level += 1

    def _before_attempt(self) -> None:
        self._pace()
        self.calls += 1

    def _wait_hint(self, resp: requests.Response) -> float | None:
        """Retry-After if sent; after QUERY_LIMIT_EXCEEDED without one, the time the bucket takes to drain a little."""
        hinted = retry_after_header(resp)
        body = _json_or_none(resp)
        if isinstance(body, dict) and body.get("error") == "QUERY_LIMIT_EXCEEDED":
            # the bucket is full (maybe other integrations share it): it drains one request every
            # 1/rate seconds, so a short wait is enough; our own pacing restarts from "full"
            self.limited += 1
            self._level, self._level_at = float(self.burst), time.monotonic()
            if self.rate and hinted is None:
                attempt = self.calls - self._calls_before
                hinted = min(self.backoff_max, attempt / self.rate) * (0.75 + random.random() / 2)
        return hinted

    @property
    def masked_url(self) -> str:
        return mask_webhook(self._base)

    def __repr__(self) -> str:  # never show the secret, even in debuggers and tracebacks
        return f"Bitrix24Client({self.masked_url!r})"

    # --- one call --------------------------------------------------------------------------
    def call(self, method: str, params: Mapping[str, Any] | None = None, *, position: str = "") -> dict[str, Any]:
        """POST one method; returns the whole answer (`result`, `total`, `next`, `time`)."""
        where = f"{method}{f' at {position}' if position else ''} on {self.masked_url}"
        self._calls_before = self.calls
        try:
            resp = self._http.post(f"{self._base}{method}.json", json=dict(params or {}))
        except NoAnswer as exc:
            raise Bitrix24Error(
                f"Bitrix24 {where} still failing after {exc.attempts} attempts: {exc.reason} (no answer)", method=method
            ) from None
        except requests.RequestException as exc:  # requests' messages contain the full URL: only the type
            raise Bitrix24Error(f"Bitrix24 {where} failed: {type(exc).__name__}", method=method) from None
        status = resp.status_code
        body = _json_or_none(resp)
        error = body.get("error") if isinstance(body, dict) else None
        if status == 200 and isinstance(body, dict) and "result" in body and not error:
            return body
        description = (body or {}).get("error_description", "") if isinstance(body, dict) else ""
        problem = f"HTTP {status} {error or ''} {description or (resp.text[:200] if body is None else '')}".strip()
        if _temporary(resp) or status in RETRY_STATUS:
            raise Bitrix24Error(
                f"Bitrix24 {where} still failing after {self.calls - self._calls_before} attempts: {problem}",
                method=method,
                error=error,
                status=status,
            ) from None
        raise Bitrix24Error(f"Bitrix24 {where} failed: {problem}", method=method, error=error, status=status) from None

    # --- paging ----------------------------------------------------------------------------
    def pages(
        self, method: str, params: Mapping[str, Any] | None = None, items_key: str | None = None
    ) -> Iterator[list[dict[str, Any]]]:
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
            start = int(nxt) if nxt is not None and nxt != "" and rows else None

    # --- batch ----------------------------------------------------------------------------
    def batch(
        self, commands: Mapping[str, tuple[str, Mapping[str, Any]]], *, halt: bool = False, position: str = ""
    ) -> BatchAnswer:
        """One `batch` request: {key: (method, params)} (at most 50) -> per-key results, errors, totals.

        A batch whose every command error is temporary (QUERY_LIMIT_EXCEEDED, OPERATION_TIME_LIMIT) is
        retried whole by the session; any other command error, or one that outlasts the retries, raises.
        """
        if len(commands) > BATCH_LIMIT:
            raise ValueError(f"a Bitrix24 batch carries at most {BATCH_LIMIT} commands, got {len(commands)}")
        cmd = {key: f"{method}?{php_query(params)}" for key, (method, params) in commands.items()}
        body = self.call("batch", {"halt": 1 if halt else 0, "cmd": cmd}, position=position)
        inner = body.get("result")
        if not isinstance(inner, dict):
            raise Bitrix24Error(
                f"Bitrix24 batch at {position}: unexpected answer {type(inner).__name__}", method="batch"
            )
        answer = BatchAnswer(
            results=_as_dict(inner.get("result")),
            errors=_as_dict(inner.get("result_error")),
            totals=_as_dict(inner.get("result_total")),
            nexts=_as_dict(inner.get("result_next")),
        )
        if answer.errors:
            key, err = next(iter(answer.errors.items()))
            method = commands[key][0] if key in commands else "batch"
            raise Bitrix24Error(
                f"Bitrix24 batch command {key} ({method}) at {position} failed: {err}",
                method=method,
                error=(err or {}).get("error") if isinstance(err, dict) else None,
            )
        return answer

    def batched_pages(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        filter_key: str = "filter",
        order: Mapping[str, Any] | None = None,
        items_key: str | None = None,
        id_of: Callable[[dict[str, Any]], Any] = lambda r: r["ID"],
        max_commands: int = BATCH_LIMIT,
        after_id: int = 0,
    ) -> Iterator[Page]:
        """Every row of a list method, ID ascending, up to `max_commands` pages a request.

        Keyset between requests (`filter[>ID]` = the last ID the previous request saw), offsets inside
        one; the first request asks one page (its `total` sizes the next ones, so a 15-minute delta costs
        one request). A page whose result is not a list of records is yielded with `problem` set (the
        caller quarantines it) and the walk goes on.
        """
        base = dict(params or {})
        base_filter = dict(base.pop(filter_key, {}) or {})
        order = dict(order or {"order": {"ID": "ASC"}})
        bound, skip, n = after_id, 0, 1

        def command(bound_: int, start: int) -> tuple[str, dict[str, Any]]:
            return method, {**base, filter_key: {**base_filter, ">ID": bound_}, **order, "start": start}

        while True:
            position = f"ID>{bound}"
            commands = {f"p{k}": command(bound, skip + k * PAGE_SIZE) for k in range(n)}
            answer = self.batch(commands, position=position)
            last, short = bound, False
            for k in range(n):
                key, start = f"p{k}", skip + k * PAGE_SIZE
                where = f"{position} start={start}"
                page = _page(method, where, answer.results.get(key), items_key)
                if page.problem:  # once more on its own: a proxy's hiccup should not cost rows
                    log.warning("Bitrix24 %s %s: %s; asking again", method, where, page.problem)
                    again = self.batch({key: command(bound, start)}, position=where)
                    page = _page(method, where, again.results.get(key), items_key)
                yield page
                if page.problem:
                    continue
                for r in page.rows:
                    try:
                        last = max(last, int(id_of(r)))
                    except (KeyError, TypeError, ValueError):
                        pass  # the caller quarantines a record without a usable ID
                if len(page.rows) < PAGE_SIZE:
                    short = True
                    break
            if short:
                return
            total = answer.totals.get("p0")
            remaining = (
                int(total) - n * PAGE_SIZE - skip if total is not None and total != "" else PAGE_SIZE * BATCH_LIMIT
            )
            if remaining <= 0:
                return
            if last == bound:
                # every page of this request was unreadable (and quarantined): step over them
                skip += n * PAGE_SIZE
            else:
                # pages after a readable one are fetched again from its last ID; an unreadable page
                # followed by readable ones is passed over (it is in the quarantine)
                bound, skip = last, 0
            n = max(1, min(max_commands, math.ceil(remaining / PAGE_SIZE)))


def _page(method: str, position: str, result: Any, items_key: str | None) -> Page:
    """A list command's result as a Page, or the reason it is not one."""
    try:
        rows = _rows(result, items_key, method)
        if not all(isinstance(r, dict) for r in rows):
            raise Bitrix24Error("rows that are not records", method=method)
    except Bitrix24Error as exc:
        return Page(method, position, [], problem=f"malformed page: {exc}", raw=result)
    return Page(method, position, rows)


@dataclass
class BatchAnswer:
    results: dict[str, Any]
    errors: dict[str, Any]
    totals: dict[str, Any]
    nexts: dict[str, Any]


@dataclass
class Page:
    """One list page from `batched_pages`: its rows, or the reason it could not be read."""

    method: str
    position: str
    rows: list[dict[str, Any]]
    problem: str | None = None
    raw: Any = None


def php_query(params: Mapping[str, Any], prefix: str = "") -> str:
    """Nested params -> a PHP query string (`filter[>ID]=5&select[0]=ID`), values percent-encoded."""
    parts: list[str] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            inner = php_query(value, name)
            if inner:
                parts.append(inner)
        elif isinstance(value, (list, tuple)):
            parts.append(php_query({str(i): v for i, v in enumerate(value)}, name))
        else:
            text = "" if value is None else ("Y" if value is True else "N" if value is False else str(value))
            parts.append(f"{quote(name, safe='[]')}={quote(text, safe='')}")
    return "&".join(p for p in parts if p)


def _as_dict(value: Any) -> dict[str, Any]:
    """Bitrix24 (PHP) sends an empty map as []."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {}


def _json_or_none(resp: requests.Response) -> Any:
    """The answer's JSON (parsed once per answer: the retry rule and the caller both read it), or None."""
    if "_bitrix24_json" not in resp.__dict__:
        try:
            resp.__dict__["_bitrix24_json"] = resp.json()
        except ValueError:
            resp.__dict__["_bitrix24_json"] = None
    return resp.__dict__["_bitrix24_json"]


def _temporary(resp: requests.Response) -> bool:
    """Bitrix24 says "later": a temporary error code, or a batch whose every command error is one."""
    body = _json_or_none(resp)
    if not isinstance(body, dict):
        return False
    if body.get("error") in RETRYABLE_ERRORS:
        return True
    inner = body.get("result")
    errors = _as_dict(inner.get("result_error")) if isinstance(inner, dict) else {}
    return bool(errors) and all(isinstance(e, dict) and e.get("error") in RETRYABLE_ERRORS for e in errors.values())


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
