"""The demo portal: a loopback HTTP server that answers like a Bitrix24 incoming webhook.

Why it exists: the ingest code must run unchanged against a real portal and against the demo
world. So this server speaks Bitrix24's REST dialect (docs/SOURCES.md "Bitrix24 REST"): the URL form
`/rest/<user>/<secret>/<method>[.json]`, PHP-style query strings or JSON/form POST bodies, `select`,
`filter` with prefixes (`>`, `>=`, `<`, `<=`, `=`, `!`, `@`, `!@`, `%`), `order`, pages of 50 with
`next`/`total` (or none of both for `start=-1`), Bitrix-style error bodies, and a `time` block.

Also `batch` (up to 50 `cmd[key]=method?query` a request, `halt`, answers under `result.result`,
`result_error`, `result_total`, `result_next`; more than 50 -> ERROR_BATCH_LENGTH_EXCEEDED), the
stage history (`crm.stagehistory.list`, rows under `result.items`), the telephony log
(`voximplant.statistic.get`: uppercase FILTER/SORT/ORDER), tasks (`tasks.task.list`: UPPER_CASE
filter and order fields, lowerCamel rows under `result.tasks`) and companies (`crm.company.list`).
One write: `crm.deal.update` (`id`, `fields`), what an alert's action button calls.

Bitrix24's request limit is enforced as the portal does it: a leaky bucket that drains 2 requests a
second and holds 50 (`rate_limit=(2.0, 50)`, the default; `None` turns it off, tests that are not
about the limit relax it); a request that would overflow it gets HTTP 503 `QUERY_LIMIT_EXCEEDED`.
A batch counts as one request, whatever it carries.

Tests mutate the served data through `upsert()` / `delete()` and can inject faults with
`fail_next()` (an error or a slow answer) and `malform_next()` (a list page that is not a list).
Timestamps in filters are compared as instants (offsets honoured), never as strings.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from demo.serving import LoopbackServer
from demo.world import ENTITY_FILES, MSK, World

PAGE_SIZE = 50
BATCH_LIMIT = 50
DEFAULT_SECRET = "demo0webhook0secret"
DEFAULT_RATE_LIMIT = (2.0, 50)  # requests a second drained, bucket size (Bitrix24's standard plans)

# method -> entity table; the field that a change bumps
LIST_METHODS: dict[str, str] = {
    "crm.deal.list": "deals",
    "crm.lead.list": "leads",
    "crm.activity.list": "activities",
    "crm.status.list": "statuses",
    "user.get": "users",
    "department.get": "departments",
    "crm.company.list": "companies",
    "voximplant.statistic.get": "calls",
    "tasks.task.list": "tasks",
    "crm.stagehistory.list": "stage_history_deals",  # entityTypeId=1 -> stage_history_leads
}
# answers shaped {"result": {"<key>": [...]}} instead of {"result": [...]}
ITEMS_KEY: dict[str, str] = {"crm.stagehistory.list": "items", "tasks.task.list": "tasks"}
MODIFY_FIELD: dict[str, str] = {
    "deals": "DATE_MODIFY",
    "leads": "DATE_MODIFY",
    "activities": "LAST_UPDATED",
    "companies": "DATE_MODIFY",
    "tasks": "changedDate",
}
_SELECTABLE = {"crm.deal.list", "crm.lead.list", "crm.activity.list", "crm.company.list"}
_OPS = (">=", "<=", "!@", "!=", "@", ">", "<", "=", "!", "%")
_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)$")
_NUM_RE = re.compile(r"^-?\d+(\.\d+)?$")


class PortalError(Exception):
    """A Bitrix24-style error answer: HTTP status, `error` code and `error_description`."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status, self.code, self.description = status, code, description


def parse_instant(value: Any) -> float:
    """A filter or record timestamp -> POSIX seconds. Accepts ISO with offset or Z, naive ISO
    (read as Moscow time), a date alone, `DD.MM.YYYY[ HH:MM:SS]`, and ` 03:00` where an unencoded
    `+` became a space."""
    s = str(value).strip()
    if re.search(r"\d \d{2}:\d{2}$", s) and "T" in s:
        s = s[:-6] + "+" + s[-5:]
    m = re.match(r"^(\d{2})\.(\d{2})\.(\d{4})(.*)$", s)
    if m:
        s = f"{m.group(3)}-{m.group(2)}-{m.group(1)}{m.group(4)}"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError as exc:
        raise PortalError(400, "INVALID_ARG_VALUE", f"cannot read {value!r} as a date") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=MSK)
    return dt.timestamp()


def parse_php_query(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """PHP-style `a[b][]=v` pairs -> nested dicts/lists (how Bitrix24 reads a query string)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        m = re.match(r"^([^\[]+)((?:\[[^\]]*\])*)$", key)
        if not m:
            out[key] = value
            continue
        parts = [m.group(1)] + re.findall(r"\[([^\]]*)\]", m.group(2))
        node: Any = out
        for n, part in enumerate(parts):
            last = n == len(parts) - 1
            if isinstance(node, list):
                if last:
                    node.append(value)
                else:
                    node.append({} if parts[n + 1] != "" else [])
                    node = node[-1]
                continue
            if last:
                node[part] = value
            else:
                nxt_is_list = parts[n + 1] == ""
                if part not in node or not isinstance(node[part], (dict, list)):
                    node[part] = [] if nxt_is_list else {}
                node = node[part]
    return out


class _Table:
    """One entity's records sorted by numeric ID, with an ID index for keyset paging."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.id_key = "id" if records and "ID" not in records[0] and "id" in records[0] else "ID"
        self.records = sorted(records, key=lambda r: int(r[self.id_key]))
        self.ids = [int(r[self.id_key]) for r in self.records]
        self.fields: list[str] = list(dict.fromkeys(k for r in self.records for k in r)) or ["ID"]
        # request field names (UPPER_CASE) -> record keys (tasks answer lowerCamel: CHANGED_DATE -> changedDate)
        self.alias: dict[str, str] = {_upper_snake(f): f for f in self.fields}
        self.kinds: dict[str, str] = {}
        for f in self.fields:
            sample = next((r[f] for r in self.records if r.get(f) not in (None, "")), None)
            if isinstance(sample, bool):
                self.kinds[f] = "bool"
            elif isinstance(sample, list):
                self.kinds[f] = "list"
            elif isinstance(sample, str) and _TS_RE.match(sample):
                self.kinds[f] = "time"
            elif isinstance(sample, (int, float)) or (isinstance(sample, str) and _NUM_RE.match(sample)):
                self.kinds[f] = "num"
            else:
                self.kinds[f] = "str"
        self.kinds.update({a: self.kinds[f] for a, f in self.alias.items()})


def _upper_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).upper()


class DemoPortal(LoopbackServer):
    """Serve a demo world (or any Bitrix24-shaped JSON) on 127.0.0.1 as an incoming webhook.

    Usage: `with DemoPortal(world_dir) as url: requests.get(url + "crm.deal.list", ...)`.
    """

    def __init__(
        self,
        world_dir: Path | None = None,
        *,
        secret: str = DEFAULT_SECRET,
        user_id: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
        tables: dict[str, list[dict[str, Any]]] | None = None,
        rate_limit: tuple[float, int] | None = DEFAULT_RATE_LIMIT,
    ) -> None:
        if tables is None:
            if world_dir is None:
                raise ValueError("give world_dir or tables")
            base = Path(world_dir) / "bitrix24"
            tables = {
                n: json.loads((base / f"{n}.json").read_text(encoding="utf-8"))
                for n in ENTITY_FILES
                if (base / f"{n}.json").exists()
            }
        for n in ENTITY_FILES:
            tables.setdefault(n, [])
        self.secret, self.user_id, self.host, self.port = secret, user_id, host, port
        self._lock = threading.RLock()
        self._categories: list[dict[str, Any]] = list(tables.get("categories", []))
        self._tables = {n: _Table(rows) for n, rows in tables.items() if n != "categories"}
        self._version = 0
        self._cache: OrderedDict[tuple, list[int]] = OrderedDict()
        self._instants: dict[str, float] = {}
        self._faults: list[tuple[int, str, str, float]] = []
        self._malformed: list[str | None] = []
        self.rate_limit = rate_limit
        self._bucket = 0.0
        self._bucket_at = time.monotonic()
        self.rejected = 0  # requests refused with QUERY_LIMIT_EXCEEDED
        self.requests = 0  # HTTP requests answered (a batch is one)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @classmethod
    def from_world(cls, world: World, **kwargs: Any) -> DemoPortal:
        """Serve an in-memory World (deep-copied, so mutations never touch it)."""
        tables = {n: json.loads(json.dumps(getattr(world, n))) for n in ENTITY_FILES}
        return cls(tables=tables, **kwargs)

    # ---- lifecycle (demo/serving.py) ------------------------------------------------------
    thread_name = "demo-portal"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def served_url(self) -> str:
        """The webhook base URL (ends with '/')."""
        return self.webhook_url

    @property
    def webhook_url(self) -> str:
        if self._server is None:
            raise RuntimeError("portal not started")
        return f"http://{self.host}:{self._server.server_address[1]}/rest/{self.user_id}/{self.secret}/"

    # ---- test API: data and faults --------------------------------------------------------
    def records(self, entity: str) -> list[dict[str, Any]]:
        """A copy of the records currently served for `entity` (deals, leads, activities, ...)."""
        with self._lock:
            if entity == "categories":
                return json.loads(json.dumps(self._categories))
            return json.loads(json.dumps(self._tables[entity].records))

    def upsert(self, entity: str, record: dict[str, Any], modified_at: datetime | str | None = None) -> dict[str, Any]:
        """Add or change a record; bumps its DATE_MODIFY (LAST_UPDATED for activities).

        A record with a known ID is merged into the existing one; without ID it gets max ID + 1.
        The modify stamp defaults to one minute after the latest one in the entity, so an
        incremental load that already saw everything sees exactly this change. Returns the stored record.
        """
        with self._lock:
            table = self._tables[entity]
            values = {k: _bitrix_value(v) for k, v in record.items()}
            idk = table.id_key
            rid = int(values[idk]) if values.get(idk) not in (None, "") else (max(table.ids, default=0) + 1)
            values[idk] = str(rid)
            pos = bisect.bisect_left(table.ids, rid)
            exists = pos < len(table.ids) and table.ids[pos] == rid
            stamp_field = MODIFY_FIELD.get(entity)
            if stamp_field:
                if modified_at is None:
                    latest = max(
                        (self._instant(r[stamp_field]) for r in table.records if r.get(stamp_field)),
                        default=time.time(),
                    )
                    stamp = datetime.fromtimestamp(latest + 60, MSK)
                elif isinstance(modified_at, str):
                    stamp = datetime.fromtimestamp(parse_instant(modified_at), MSK)
                else:
                    stamp = modified_at.astimezone(MSK)
                values[stamp_field] = stamp.replace(microsecond=0).isoformat()
            if exists:
                table.records[pos] = {**table.records[pos], **values}
                stored = table.records[pos]
            else:
                stored = {**{f: None for f in table.fields}, **values}
                table.records.insert(pos, stored)
                table.ids.insert(pos, rid)
            self._version += 1
            self._cache.clear()
            return dict(stored)

    def delete(self, entity: str, record_id: int | str) -> bool:
        """Remove a record (as a deletion in the CRM: list methods stop returning it)."""
        with self._lock:
            table = self._tables[entity]
            rid = int(record_id)
            pos = bisect.bisect_left(table.ids, rid)
            if pos >= len(table.ids) or table.ids[pos] != rid:
                return False
            del table.ids[pos]
            del table.records[pos]
            self._version += 1
            self._cache.clear()
            return True

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        error: str = "QUERY_LIMIT_EXCEEDED",
        description: str = "Too many requests",
        delay: float = 0.0,
    ) -> None:
        """Make the next `n` authenticated calls fail with this Bitrix-style error.

        With `delay` the answer first waits that many seconds (a client with a shorter read timeout
        sees a timeout); `status=200` with a delay is a slow but correct answer.
        """
        with self._lock:
            self._faults.extend([(status, error, description, delay)] * n)

    def malform_next(self, n: int = 1, method: str | None = None) -> None:
        """Make the next `n` list pages (of `method`, or any) come back as an HTML error text instead of rows."""
        with self._lock:
            self._malformed.extend([method] * n)

    def _take_token(self) -> bool:
        """Leaky bucket: False when this request would overflow it (Bitrix24 answers 503 then)."""
        if self.rate_limit is None:
            return True
        rate, size = self.rate_limit
        now = time.monotonic()
        self._bucket = max(0.0, self._bucket - (now - self._bucket_at) * rate)
        self._bucket_at = now
        if self._bucket + 1 > size:
            self.rejected += 1
            return False
        self._bucket += 1
        return True

    # ---- request handling -----------------------------------------------------------------
    def handle(self, path: str, query: str, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
        """Answer one HTTP request: (status, JSON body). Pure apart from the data lock; tests may call it."""
        t0 = time.time()
        try:
            parts = [p for p in path.split("/") if p]
            if len(parts) != 4 or parts[0] != "rest":
                raise PortalError(404, "NOT_FOUND", "Use /rest/<user>/<webhook code>/<method>")
            _, user, secret, method = parts
            if user != str(self.user_id) or secret != self.secret:
                raise PortalError(401, "INVALID_CREDENTIALS", "Invalid request credentials")
            if method.endswith(".json"):
                method = method[: -len(".json")]
            params = parse_php_query(parse_qsl(query, keep_blank_values=True))
            if body:
                if "json" in content_type:
                    try:
                        payload = json.loads(body.decode("utf-8"))
                    except ValueError as exc:
                        raise PortalError(400, "INVALID_REQUEST", "Body is not valid JSON") from exc
                    if not isinstance(payload, dict):
                        raise PortalError(400, "INVALID_REQUEST", "Body must be a JSON object")
                    params.update(payload)
                else:
                    params.update(parse_php_query(parse_qsl(body.decode("utf-8"), keep_blank_values=True)))
            with self._lock:
                if not self._take_token():
                    raise PortalError(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
                self.requests += 1
                self.calls.append((method, params))
                fault = self._faults.pop(0) if self._faults else None
            if fault is not None:
                status, code, description, delay = fault
                if delay:
                    time.sleep(delay)
                if status != 200:
                    raise PortalError(status, code, description)
            if method == "batch":
                answer = self._batch(params)
            else:
                answer = self._dispatch(method, params)
            status = 200
        except PortalError as err:
            status, answer = err.status, {"error": err.code, "error_description": err.description}
        t1 = time.time()
        if status == 200:
            answer["time"] = {
                "start": t0,
                "finish": t1,
                "duration": t1 - t0,
                "processing": t1 - t0,
                "date_start": datetime.fromtimestamp(t0, MSK).replace(microsecond=0).isoformat(),
                "date_finish": datetime.fromtimestamp(t1, MSK).replace(microsecond=0).isoformat(),
                "operating_reset_at": int(t0) + 600,
                "operating": 0,
            }
        return status, answer

    def _dispatch(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "crm.category.list":
            return self._categories_answer(params)
        if method in LIST_METHODS:
            return self._list(method, params)
        if method == "crm.deal.update":
            return self._deal_update(params)
        if method == "batch":
            raise PortalError(400, "INVALID_REQUEST", "batch cannot be nested")
        raise PortalError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")

    def _deal_update(self, params: dict[str, Any]) -> dict[str, Any]:
        """`crm.deal.update`: `id` and `fields`; known fields change (DATE_MODIFY bumped, so the next
        incremental load sees it), unknown ones are ignored as Bitrix24 does; `result: true`."""
        rid, fields = _ci(params, "id"), _ci(params, "fields")
        if rid in (None, "") or not str(rid).isdigit():
            raise PortalError(400, "", "ID is not defined or invalid.")
        if not isinstance(fields, dict) or not fields:
            raise PortalError(400, "", "No fields to update.")
        with self._lock:
            table = self._tables["deals"]
            pos = bisect.bisect_left(table.ids, int(rid))
            if pos >= len(table.ids) or table.ids[pos] != int(rid):
                raise PortalError(400, "", "Not found")
            known = {k: v for k, v in fields.items() if k in table.fields and k != table.id_key}
            self.upsert("deals", {table.id_key: rid, **known})
        return {"result": True}

    def _batch(self, params: dict[str, Any]) -> dict[str, Any]:
        """`batch`: run each `cmd[key]=method?query` in order; per-command answers and errors side by side."""
        cmd = _ci(params, "cmd")
        if isinstance(cmd, list):
            cmd = {str(i): c for i, c in enumerate(cmd)}
        if not isinstance(cmd, dict) or not cmd:
            raise PortalError(400, "INVALID_ARG_VALUE", "Parameter cmd is required")
        if len(cmd) > BATCH_LIMIT:
            raise PortalError(400, "ERROR_BATCH_LENGTH_EXCEEDED", f"Max batch length exceeded ({BATCH_LIMIT})")
        halt = str(_ci(params, "halt") or "0").lower() in ("1", "true", "y")
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        totals: dict[str, Any] = {}
        nexts: dict[str, Any] = {}
        times: dict[str, Any] = {}
        for key, command in cmd.items():
            t0 = time.time()
            method, _, query = str(command).partition("?")
            method = method.strip().removesuffix(".json")
            try:
                answer = self._dispatch(method, parse_php_query(parse_qsl(query, keep_blank_values=True)))
            except PortalError as err:
                errors[key] = {"error": err.code, "error_description": err.description}
                if halt:
                    break
                continue
            results[key] = answer["result"]
            if "total" in answer:
                totals[key] = answer["total"]
            if "next" in answer:
                nexts[key] = answer["next"]
            times[key] = {"start": t0, "finish": time.time(), "duration": time.time() - t0}
        # PHP serialises an empty associative array as [] - so does Bitrix24
        return {
            "result": {
                "result": results or [],
                "result_error": errors or [],
                "result_total": totals or [],
                "result_next": nexts or [],
                "result_time": times or [],
            }
        }

    def _categories_answer(self, params: dict[str, Any]) -> dict[str, Any]:
        etype = _ci(params, "entityTypeId")
        if etype in (None, ""):
            raise PortalError(400, "INVALID_ARG_VALUE", "Parameter entityTypeId is required")
        cats = self._categories if str(etype) == "2" else []
        return {"result": {"categories": cats}, "total": len(cats)}

    def _instant(self, value: str) -> float:
        got = self._instants.get(value)
        if got is None:
            got = self._instants[value] = parse_instant(value)
        return got

    def _list(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        answer = self._list_answer(method, params)
        with self._lock:
            hit = next((i for i, m in enumerate(self._malformed) if m in (None, method)), None)
            if hit is not None:
                self._malformed.pop(hit)
                answer["result"] = "<html><body>502 Bad Gateway</body></html>"
                return answer
        key = ITEMS_KEY.get(method)
        if key:
            answer["result"] = {key: answer["result"]}
        return answer

    def _list_answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        entity = LIST_METHODS[method]
        if method == "crm.stagehistory.list":
            etype = str(_ci(params, "entityTypeId") or "")
            if etype not in ("1", "2"):
                raise PortalError(400, "INVALID_ARG_VALUE", "entityTypeId must be 1 (leads) or 2 (deals) here")
            entity = "stage_history_leads" if etype == "1" else "stage_history_deals"
        raw_filter = _ci(params, "filter") or {}
        if method in ("user.get", "department.get"):
            # these take filter fields at the top level too (user.get?ACTIVE=true, department.get?ID=2)
            reserved = {"filter", "sort", "order", "start", "select", "admin_mode"}
            raw_filter = {**{k: v for k, v in params.items() if k.lower() not in reserved}, **(raw_filter or {})}
        if not isinstance(raw_filter, dict):
            raise PortalError(400, "INVALID_ARG_VALUE", "filter must be an object")
        order = _ci(params, "order")
        if method in ("user.get", "voximplant.statistic.get") and (order is None or isinstance(order, str)):
            order = {str(_ci(params, "sort") or "ID").upper(): order or "ASC"}
        if not isinstance(order, dict) or not order:
            order = {"ID": "ASC"}
        try:
            start = int(_ci(params, "start") or 0)
        except (TypeError, ValueError) as exc:
            raise PortalError(400, "INVALID_ARG_VALUE", "start must be an integer") from exc
        select = _ci(params, "select")
        if isinstance(select, dict):
            select = list(select.values())
        if isinstance(select, str):
            select = [select]
        with self._lock:
            table = self._tables[entity]
            preds, lo, hi = self._compile(entity, table, raw_filter)
            order_items = [(str(f).upper(), str(d).upper()) for f, d in order.items()]
            for f, _ in order_items:
                if f not in table.kinds:
                    raise PortalError(400, "INVALID_ARG_VALUE", f"Unknown order field {f} for {method}")
            order_items = [(table.alias.get(f, f), d) for f, d in order_items]
            by_id_asc = order_items == [(table.id_key, "ASC")]
            if start < 0:
                # no count: the fast keyset path the docs recommend (filter[>ID]=last, stop at a short page)
                rows: list[dict[str, Any]] = []
                if by_id_asc:
                    for i in range(lo, hi):
                        rec = table.records[i]
                        if all(p(rec) for p in preds):
                            rows.append(rec)
                            if len(rows) == PAGE_SIZE:
                                break
                else:
                    idx = self._matches(entity, table, raw_filter, preds, lo, hi, order_items)
                    rows = [table.records[i] for i in idx[:PAGE_SIZE]]
                return {"result": [self._project(method, r, select) for r in rows]}
            if by_id_asc:
                # positions of every match of the filter without its ID bounds, cut to [lo, hi) by bisecting
                every = self._matches(entity, table, raw_filter, preds, 0, len(table.records), order_items)
                idx = every[bisect.bisect_left(every, lo) : bisect.bisect_left(every, hi)]
            else:
                idx = self._matches(entity, table, raw_filter, preds, lo, hi, order_items)
            page = [self._project(method, table.records[i], select) for i in idx[start : start + PAGE_SIZE]]
            answer: dict[str, Any] = {"result": page}
            if start + PAGE_SIZE < len(idx):
                answer["next"] = start + PAGE_SIZE
            answer["total"] = len(idx)
            return answer

    def _matches(
        self,
        entity: str,
        table: _Table,
        raw_filter: dict,
        preds: list,
        lo: int,
        hi: int,
        order_items: list[tuple[str, str]],
    ) -> list[int]:
        """Positions of all matching records in the requested order (cached per filter between pages)."""
        bounds = (
            {
                k: v
                for k, v in raw_filter.items()
                if not (str(k).lstrip("<>=").upper() == "ID" and str(k)[:1] in "<>" and not isinstance(v, (list, dict)))
            }
            if (lo, hi) == (0, len(table.records)) and order_items == [(table.id_key, "ASC")]
            else raw_filter
        )
        key = (entity, self._version, json.dumps(bounds, sort_keys=True, default=str), tuple(order_items), lo, hi)
        got = self._cache.get(key)
        if got is not None:
            self._cache.move_to_end(key)
            return got
        idx = [i for i in range(lo, hi) if all(p(table.records[i]) for p in preds)]
        if order_items != [(table.id_key, "ASC")]:
            for f, direction in reversed(order_items):
                kind = table.kinds.get(f, "str")

                def sort_key(i: int, f: str = f, kind: str = kind) -> tuple:
                    return self._sort_key(table.records[i].get(f), kind)

                idx.sort(key=sort_key, reverse=direction == "DESC")
        self._cache[key] = idx
        if len(self._cache) > 32:
            self._cache.popitem(last=False)
        return idx

    def _sort_key(self, value: Any, kind: str) -> tuple:
        if value in (None, ""):
            return (1, 0)
        if kind == "time":
            return (0, self._instant(value))
        if kind == "num":
            return (0, float(value))
        return (0, str(value))

    def _compile(self, entity: str, table: _Table, raw_filter: dict[str, Any]) -> tuple[list[Callable], int, int]:
        """Filter dict -> predicates plus the ID range [lo, hi) they allow (for bisecting)."""
        preds: list[Callable[[dict[str, Any]], bool]] = []
        lo, hi = 0, len(table.records)
        for raw_key, value in raw_filter.items():
            key = str(raw_key)
            op = next((o for o in _OPS if key.startswith(o)), "")
            field = key[len(op) :].upper()
            if field not in table.kinds:
                raise PortalError(
                    400,
                    "INVALID_ARG_VALUE",
                    f"Unknown filter field {field!r} for {entity}; fields: {', '.join(table.fields)}",
                )
            kind = table.kinds[field]
            field = table.alias.get(field, field)
            if isinstance(value, dict):
                value = list(value.values())
            if op in ("", "=") and isinstance(value, list):
                op = "@"
            if op == "!" and isinstance(value, list):
                op = "!@"
            if field == table.id_key and op in (">", ">=", "<", "<=") and not isinstance(value, list):
                try:
                    bound = int(float(value))
                except ValueError as exc:
                    raise PortalError(400, "INVALID_ARG_VALUE", f"ID filter {value!r} is not a number") from exc
                if op == ">":
                    lo = max(lo, bisect.bisect_right(table.ids, bound))
                elif op == ">=":
                    lo = max(lo, bisect.bisect_left(table.ids, bound))
                elif op == "<":
                    hi = min(hi, bisect.bisect_left(table.ids, bound))
                else:
                    hi = min(hi, bisect.bisect_right(table.ids, bound))
                continue
            preds.append(self._predicate(field, kind, op, value))
        return preds, lo, max(lo, hi)

    def _predicate(self, field: str, kind: str, op: str, value: Any) -> Callable[[dict[str, Any]], bool]:
        conv = self._converter(kind)
        if op in ("@", "!@"):
            wanted = {conv(v) for v in (value if isinstance(value, list) else [value])}
            inside = op == "@"

            def member(rec: dict[str, Any]) -> bool:
                got = rec.get(field)
                if kind == "list":
                    return any(conv(v) in wanted for v in got or []) == inside
                return (got is not None and conv(got) in wanted) == inside

            return member
        if op == "%":
            needle = str(value).lower()
            return lambda rec: rec.get(field) is not None and needle in str(rec.get(field)).lower()
        target = conv(value)
        if kind == "list":
            if op in ("", "="):
                return lambda rec: any(conv(v) == target for v in rec.get(field) or [])
            if op in ("!", "!="):
                return lambda rec: all(conv(v) != target for v in rec.get(field) or [])
            raise PortalError(400, "INVALID_ARG_VALUE", f"operator {op!r} not supported for {field}")
        compare: dict[str, Callable[[Any, Any], bool]] = {
            "": lambda a, b: a == b,
            "=": lambda a, b: a == b,
            "!": lambda a, b: a != b,
            "!=": lambda a, b: a != b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
        }
        cmp = compare[op]
        empty_target = value in (None, "")

        def test(rec: dict[str, Any]) -> bool:
            got = rec.get(field)
            if got in (None, ""):
                if op in ("", "="):
                    return empty_target
                return op in ("!", "!=") and not empty_target
            if empty_target:
                return op in ("!", "!=")
            return cmp(conv(got), target)

        return test

    def _converter(self, kind: str) -> Callable[[Any], Any]:
        if kind == "time":
            return lambda v: self._instant(v) if isinstance(v, str) else parse_instant(v)
        if kind == "num":

            def num(v: Any) -> Any:
                try:
                    return float(v)
                except (TypeError, ValueError):
                    return str(v)

            return num
        if kind == "bool":
            return lambda v: v if isinstance(v, bool) else str(v).strip().lower() in ("true", "y", "1", "yes")
        if kind == "list":
            return lambda v: str(v)
        return lambda v: str(v)

    def _project(self, method: str, rec: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
        if method not in _SELECTABLE:
            return dict(rec)
        if not select:
            select = ["*"]
        wanted = {str(s).upper() for s in select}
        all_std, all_uf = "*" in wanted, "UF_*" in wanted
        return {
            k: v
            for k, v in rec.items()
            if k == "ID" or k in wanted or (all_std and not k.startswith("UF_")) or (all_uf and k.startswith("UF_"))
        }


def _ci(params: dict[str, Any], name: str) -> Any:
    """Case-insensitive top-level parameter lookup (Bitrix accepts filter and FILTER)."""
    if name in params:
        return params[name]
    low = name.lower()
    for k, v in params.items():
        if k.lower() == low:
            return v
    return None


def _bitrix_value(value: Any) -> Any:
    """Values as a Bitrix24 list method returns them: strings, except null, booleans and lists."""
    if value is None or isinstance(value, (bool, list, dict, str)):
        return value
    if isinstance(value, datetime):
        return value.astimezone(MSK).replace(microsecond=0).isoformat()
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _handler_for(portal: DemoPortal) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "DemoBitrix24/1.0"
        disable_nagle_algorithm = True  # keep-alive clients otherwise wait ~40 ms per answer (Nagle + delayed ACK)

        def _serve(self, body: bytes) -> None:
            url = urlsplit(self.path)
            status, answer = portal.handle(url.path, url.query, body, self.headers.get("Content-Type", ""))
            data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self._serve(b"")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            self._serve(self.rfile.read(length) if length else b"")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
            pass

    return Handler
