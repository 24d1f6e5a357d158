"""The demo amoCRM portal: a loopback HTTP server that answers like amoCRM API v4, serving the demo world.

Why it exists: the amoCRM source must run unchanged against a real account and against the demo
world. So this server maps the same world the Bitrix24 demo portal serves (`demo.world`) to amoCRM's
shapes and speaks its dialect (docs/SOURCES.md "amoCRM API v4"):

- `Authorization: Bearer <token>`; a wrong or missing token is 401 with a problem+json body.
- Lists take `page` (from 1) and `limit` (at most 250, 100 for events; more is 400), answer
  `application/hal+json` with `_page`, `_links.self/next` (next only while another page exists) and
  `_embedded.<entity>`; an empty page is **204 with no body**.
- `filter[updated_at][from]` / `[to]` (Unix seconds, inclusive) on leads, companies, notes and tasks;
  `filter[created_at][from]` and `filter[type][]` / `filter[entity][]` on events;
  `filter[note_type][]` on notes; `with=loss_reason` on leads.
- At most `rate_limit` requests a second (7 like amoCRM), else 429.

What the world becomes: Bitrix24 deals -> leads (pipeline_id/status_id; won 142 and lost 143 in every
pipeline; price an integer; Unix-second times; custom fields "Продукт" and UTM source;
`_embedded.companies` and `_embedded.loss_reason`), deal pipelines -> pipelines with
`_embedded.statuses`, users, `lead_status_changed` events (value_before/value_after), calls -> notes
`call_in`/`call_out` (params duration, phone, call_status 4 talked / 6 no answer), CRM tasks ->
tasks, lost reasons -> loss reasons, deal companies -> companies. Bitrix24 leads have no amoCRM
counterpart (amoCRM's "lead" is the deal) and are not served.

Tests change the served data with `update_lead`, `add_lead`, `delete_lead`, `restore_lead`, `add_custom_field` and
inject faults with `fail_next`; `requests` records (method, path, status) of every call.
Times are whole seconds, as amoCRM stamps them: `update_lead(..., at=<second>)` edits a lead within a
second already stamped (a robot acting right after a manager), and `before_answer(path, query)`, if
set, runs before each answer (a change made while a client pages).
Writes: `PATCH /api/v4/leads` takes a JSON array of leads (`PATCH /api/v4/leads/{id}` one lead object),
each with its integer `id` and the fields to change (here `responsible_user_id`, `price`, `name`,
`status_id`), optionally a `request_id`; it answers 200 hal+json `_embedded.leads` of
`{id, updated_at, request_id, _links}` (request_id: the one given, else the item's index as text).
Its awkward corners, as amoCRM answers them: a body that is not JSON (or not an array / object as
the path expects) is 400; a field of the wrong type, an unknown or inactive responsible user is 400
`Request validation failed` with `validation-errors` [{request_id, errors: [{code, path, detail}]}]
and nothing of the batch is applied (validated whole, then written); an unknown or deleted lead is
a validation error on `id` too (`NotFound`: the demo's choice, amoCRM does not document that case);
a change stamps the lead a new `updated_at` (so the next incremental load picks it up) and records an
`entity_responsible_changed` event; `writes` lists what each accepted PATCH changed.
As amoCRM does, a deleted lead leaves `/api/v4/leads` (it is listed only with `with=only_deleted`,
`is_deleted: true`) and a `lead_deleted` event is recorded. `admin=False` serves a token without
administrator rights: `/api/v4/users` answers 403.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

from demo.serving import LoopbackServer
from demo.world import World, generate, load_world

DEFAULT_TOKEN = "demo-amocrm-long-lived-token"
ACCOUNT_ID = 31000001
WON, LOST = 142, 143
MAX_LIMIT = 250
MAX_EVENTS_LIMIT = 100
PIPELINE_BASE = 7000000  # amoCRM ids are big integers; Bitrix24 category c -> pipeline 7000000 + c
STATUS_BASE = 60000000
FIELD_PRODUCT, FIELD_UTM_SOURCE = 900001, 900002


def unix(value: str | None) -> int | None:
    return int(datetime.fromisoformat(value).timestamp()) if value else None


def _pipeline_of(deal: dict[str, Any]) -> int:
    return PIPELINE_BASE + int(deal.get("CATEGORY_ID") or 0)


class AmoCRMPortal(LoopbackServer):
    """Serve a demo world as amoCRM API v4 on 127.0.0.1.

    Usage: `with AmoCRMPortal(world_dir) as base_url: requests.get(base_url + "/api/v4/leads", headers=…)`.
    """

    def __init__(
        self,
        world_dir: Path | None = None,
        *,
        world: World | None = None,
        token: str = DEFAULT_TOKEN,
        rate_limit: int | None = 7,
        host: str = "127.0.0.1",
        port: int = 0,
        admin: bool = True,
    ) -> None:
        if world is None:
            if world_dir is None:
                raise ValueError("give world_dir or world")
            world = load_world(Path(world_dir))
        self.token, self.rate_limit, self.host, self.port = token, rate_limit, host, port
        self._lock = threading.RLock()
        self._hits: deque[float] = deque()
        self._faults: list[int] = []
        self._slow: list[float] = []  # the next answers' extra waits (a timeout for the client)
        self.delay = 0.0  # seconds every answer waits: a slow network, so a test can kill a load mid-way
        self._malformed: list[str | None] = []  # the next list answers' fate: cut short (a broken page)
        self.requests: list[tuple[str, str, int]] = []
        self.writes: list[dict[str, Any]] = []  # each accepted PATCH item: {id, changes}
        self.admin = admin
        self.before_answer: Any = None  # callable(path, query) run before each answer, under the lock
        self._build(world)

    # ---- the world in amoCRM shapes ------------------------------------------------------------
    def _build(self, world: World) -> None:
        stage_status: dict[str, tuple[int, int]] = {}
        self.pipelines: list[dict[str, Any]] = []
        for cat in world.categories:
            pid = PIPELINE_BASE + int(cat["id"])
            entity = "DEAL_STAGE" if int(cat["id"]) == 0 else f"DEAL_STAGE_{cat['id']}"
            statuses: list[dict[str, Any]] = []
            for st in sorted((s for s in world.statuses if s["ENTITY_ID"] == entity), key=lambda s: int(s["SORT"])):
                sem = st.get("SEMANTICS")
                sid = WON if sem == "S" else LOST if sem == "F" else STATUS_BASE + int(st["ID"])
                stage_status[st["STATUS_ID"]] = (pid, sid)
                if sid in {s["id"] for s in statuses}:
                    continue  # several Bitrix24 failure stages are the one amoCRM "lost" status
                statuses.append(
                    {
                        "id": sid,
                        "name": "Успешно реализовано"
                        if sid == WON
                        else "Закрыто и не реализовано"
                        if sid == LOST
                        else st["NAME"],
                        "sort": 10000 if sid == WON else 11000 if sid == LOST else int(st["SORT"]),
                        "is_editable": sid not in (WON, LOST),
                        "pipeline_id": pid,
                        "color": "#99ccff",
                        "type": 0 if sid in (WON, LOST) else 1,
                        "account_id": ACCOUNT_ID,
                    }
                )
            self.pipelines.append(
                {
                    "id": pid,
                    "name": cat["name"],
                    "sort": int(cat.get("sort") or 0),
                    "is_main": int(cat["id"]) == 0,
                    "is_unsorted_on": False,
                    "is_archive": False,
                    "account_id": ACCOUNT_ID,
                    "_embedded": {"statuses": statuses},
                }
            )
        self.first_status = {p["id"]: p["_embedded"]["statuses"][0]["id"] for p in self.pipelines}

        reasons = sorted({d["UF_CRM_LOST_REASON"] for d in world.deals if d.get("UF_CRM_LOST_REASON")})
        self.loss_reasons = [
            {
                "id": 5000 + i,
                "name": name,
                "sort": (i + 1) * 10,
                "created_at": unix(world.deals[0]["DATE_CREATE"]),
                "updated_at": unix(world.deals[0]["DATE_CREATE"]),
            }
            for i, name in enumerate(reasons)
        ]
        reason_id = {r["name"]: r["id"] for r in self.loss_reasons}

        self.users = [
            {
                "id": int(u["ID"]),
                "name": " ".join(x for x in (u.get("NAME"), u.get("LAST_NAME")) if x),
                "email": u.get("EMAIL"),
                "lang": "ru",
                "rights": {"is_active": bool(u.get("ACTIVE", True)), "is_admin": u["ID"] == "1"},
            }
            for u in world.users
        ]

        self.leads: dict[int, dict[str, Any]] = {}
        self.companies: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.custom_fields: list[dict[str, Any]] = [
            {"id": FIELD_PRODUCT, "name": "Продукт", "code": "PRODUCT", "type": "select", "entity_type": "leads"},
            {
                "id": FIELD_UTM_SOURCE,
                "name": "utm_source",
                "code": "UTM_SOURCE",
                "type": "tracking_data",
                "entity_type": "leads",
            },
        ]
        for d in world.deals:
            pid, sid = stage_status.get(d["STAGE_ID"], (_pipeline_of(d), self.first_status[_pipeline_of(d)]))
            created, updated = unix(d["DATE_CREATE"]), unix(d["DATE_MODIFY"])
            closed = unix(d.get("CLOSEDATE")) if sid in (WON, LOST) else None
            company_id = int(d["COMPANY_ID"]) if d.get("COMPANY_ID") else None
            reason = d.get("UF_CRM_LOST_REASON") if sid == LOST else None
            cfv = []
            if d.get("UF_CRM_PRODUCT"):
                cfv.append(
                    {
                        "field_id": FIELD_PRODUCT,
                        "field_name": "Продукт",
                        "field_code": "PRODUCT",
                        "field_type": "select",
                        "values": [{"value": d["UF_CRM_PRODUCT"], "enum_id": None}],
                    }
                )
            if d.get("UTM_SOURCE"):
                cfv.append(
                    {
                        "field_id": FIELD_UTM_SOURCE,
                        "field_name": "utm_source",
                        "field_code": "UTM_SOURCE",
                        "field_type": "tracking_data",
                        "values": [{"value": d["UTM_SOURCE"]}],
                    }
                )
            lead = {
                "id": int(d["ID"]),
                "name": d.get("TITLE") or "",
                "price": int(float(d.get("OPPORTUNITY") or 0)),
                "responsible_user_id": int(d["ASSIGNED_BY_ID"]),
                "group_id": 0,
                "status_id": sid,
                "pipeline_id": pid,
                "loss_reason_id": reason_id.get(reason) if reason else None,
                "source_id": None,
                "created_by": int(d.get("CREATED_BY_ID") or 0),
                "updated_by": int(d.get("MODIFY_BY_ID") or 0),
                "created_at": created,
                "updated_at": updated,
                "closed_at": closed,
                "closest_task_at": None,
                "is_deleted": False,
                "custom_fields_values": cfv or None,
                "score": None,
                "account_id": ACCOUNT_ID,
                "labor_cost": None,
                "_embedded": {
                    "tags": [],
                    "companies": [{"id": company_id}] if company_id else [],
                    "loss_reason": [{"id": reason_id[reason], "name": reason}] if reason else [],
                },
            }
            self.leads[lead["id"]] = lead
            if company_id and company_id not in self.companies:
                title = d.get("TITLE") or ""
                self.companies[company_id] = {
                    "id": company_id,
                    "name": title.split(" — ", 1)[-1],
                    "responsible_user_id": lead["responsible_user_id"],
                    "group_id": 0,
                    "created_by": lead["created_by"],
                    "updated_by": lead["created_by"],
                    "created_at": created,
                    "updated_at": created,
                    "closest_task_at": None,
                    "is_deleted": False,
                    "custom_fields_values": None,
                    "account_id": ACCOUNT_ID,
                }
            if sid != self.first_status[pid]:
                moved = unix(d.get("MOVED_TIME")) or updated
                assert moved is not None, "every demo deal carries DATE_MODIFY"
                self.events.append(
                    self._status_event(lead["id"], pid, self.first_status[pid], sid, moved, lead["updated_by"])
                )

        self.notes: dict[int, dict[str, Any]] = {}
        self.tasks: dict[int, dict[str, Any]] = {}
        for a in world.activities:
            if a.get("OWNER_TYPE_ID") != "2" or int(a["OWNER_ID"]) not in self.leads:
                continue
            created, updated = unix(a["CREATED"]), unix(a["LAST_UPDATED"])
            user = int(a["RESPONSIBLE_ID"])
            if a.get("PROVIDER_TYPE_ID") == "CALL":
                duration = max(0, (unix(a.get("END_TIME")) or 0) - (unix(a.get("START_TIME")) or 0))
                phone = "+79" + str(int(hashlib.sha256(a["ID"].encode()).hexdigest(), 16))[:9]
                self.notes[int(a["ID"])] = {
                    "id": int(a["ID"]),
                    "entity_id": int(a["OWNER_ID"]),
                    "created_by": user,
                    "updated_by": user,
                    "created_at": created,
                    "updated_at": updated,
                    "responsible_user_id": user,
                    "group_id": 0,
                    "note_type": "call_in" if a.get("DIRECTION") == "1" else "call_out",
                    "is_deleted": False,
                    "params": {
                        "uniq": f"demo-{a['ID']}",
                        "duration": duration,
                        "source": "demo-telephony",
                        "link": f"https://records.demo.invalid/{a['ID']}.mp3" if duration else "",
                        "phone": phone,
                        "call_status": 4 if duration else 6,
                        "call_result": "" if duration else "Не дозвонился",
                        "call_responsible": user,
                    },
                    "account_id": ACCOUNT_ID,
                }
            elif a.get("PROVIDER_TYPE_ID") == "TASK":
                done = a.get("COMPLETED") == "Y"
                self.tasks[int(a["ID"])] = {
                    "id": int(a["ID"]),
                    "created_by": int(a.get("AUTHOR_ID") or user),
                    "updated_by": user,
                    "created_at": created,
                    "updated_at": updated,
                    "responsible_user_id": user,
                    "group_id": 0,
                    "entity_id": int(a["OWNER_ID"]),
                    "entity_type": "leads",
                    "duration": 0,
                    "is_completed": done,
                    "task_type_id": 1,
                    "text": a.get("SUBJECT") or "",
                    "result": {"text": "Выполнено"} if done else [],
                    "complete_till": unix(a.get("DEADLINE")),
                    "account_id": ACCOUNT_ID,
                }
        self.clock = max(
            max(lead["updated_at"] for lead in self.leads.values()),
            max((n["updated_at"] for n in self.notes.values()), default=0),
        )

    def _status_event(self, lead_id: int, pipeline_id: int, before: int, after: int, at: int, by: int) -> dict:
        return {
            "id": f"{lead_id:x}{at:x}{len(self.events):x}",
            "type": "lead_status_changed",
            "entity_id": lead_id,
            "entity_type": "lead",
            "created_by": by,
            "created_at": at,
            "account_id": ACCOUNT_ID,
            "value_before": [{"lead_status": {"id": before, "pipeline_id": pipeline_id}}],
            "value_after": [{"lead_status": {"id": after, "pipeline_id": pipeline_id}}],
        }

    # ---- changes made by tests -----------------------------------------------------------------
    def tick(self) -> int:
        """A new "now", one second after anything the portal holds."""
        with self._lock:
            self.clock += 1
            return self.clock

    def update_lead(self, lead_id: int, at: int | None = None, **changes: Any) -> dict[str, Any]:
        """Change a lead; it is stamped a new second, or `at` (a second already stamped: same-second edits)."""
        with self._lock:
            lead = self.leads[lead_id]
            old_status = lead["status_id"]
            lead.update(changes)
            lead["updated_at"] = self.tick() if at is None else int(at)
            if lead["status_id"] != old_status:
                self.events.append(
                    self._status_event(
                        lead_id,
                        lead["pipeline_id"],
                        old_status,
                        lead["status_id"],
                        lead["updated_at"],
                        lead["responsible_user_id"],
                    )
                )
                if lead["status_id"] in (WON, LOST):
                    lead["closed_at"] = lead["updated_at"]
            return lead

    def add_lead(self, **fields: Any) -> dict[str, Any]:
        with self._lock:
            now = self.tick()
            template = next(iter(self.leads.values()))
            lead = json.loads(json.dumps(template))
            lead.update(
                {
                    "id": max(self.leads) + 1,
                    "name": "Новая сделка",
                    "price": 0,
                    "created_at": now,
                    "updated_at": now,
                    "closed_at": None,
                    "is_deleted": False,
                    "loss_reason_id": None,
                    "status_id": self.first_status[template["pipeline_id"]],
                    "custom_fields_values": None,
                    "_embedded": {"tags": [], "companies": [], "loss_reason": []},
                }
            )
            lead.update(fields)
            self.leads[lead["id"]] = lead
            return lead

    def delete_lead(self, lead_id: int) -> None:
        with self._lock:
            lead = self.leads[lead_id]
            lead["is_deleted"] = True
            lead["updated_at"] = self.tick()
            self.events.append(
                {
                    "id": f"del{lead_id:x}{lead['updated_at']:x}",
                    "type": "lead_deleted",
                    "entity_id": lead_id,
                    "entity_type": "lead",
                    "created_by": 1,
                    "created_at": lead["updated_at"],
                    "account_id": ACCOUNT_ID,
                    "value_before": [],
                    "value_after": [],
                }
            )

    def restore_lead(self, lead_id: int) -> dict[str, Any]:
        """Back from the recycle bin: listed again, stamped a new second."""
        with self._lock:
            lead = self.leads[lead_id]
            lead["is_deleted"] = False
            lead["updated_at"] = self.tick()
            return lead

    def add_custom_field(
        self, field_id: int, name: str, code: str | None, values: dict[int, Any], field_type: str = "text"
    ) -> None:
        """A field the account's admin just created, filled on some leads (which become updated)."""
        with self._lock:
            self.custom_fields.append(
                {"id": field_id, "name": name, "code": code, "type": field_type, "entity_type": "leads"}
            )
            for lead_id, value in values.items():
                lead = self.leads[lead_id]
                cfv = [c for c in (lead["custom_fields_values"] or []) if c["field_id"] != field_id]
                cfv.append(
                    {
                        "field_id": field_id,
                        "field_name": name,
                        "field_code": code,
                        "field_type": field_type,
                        "values": [{"value": value}],
                    }
                )
                lead["custom_fields_values"] = cfv
                lead["updated_at"] = self.tick()

    def fail_next(self, status: int, times: int = 1) -> None:
        """The next `times` requests answer `status` (429, 500, 502, …) before anything else."""
        with self._lock:
            self._faults.extend([status] * times)

    def malform_next(self, times: int = 1, path: str | None = None) -> None:
        """The next `times` answers (to `path`, if given) are a 200 whose JSON body is cut off mid-way."""
        with self._lock:
            self._malformed.extend([path] * times)

    def slow_next(self, seconds: float, times: int = 1) -> None:
        """The next `times` answers come after `seconds` (longer than the client's read timeout: a timeout)."""
        with self._lock:
            self._slow.extend([seconds] * times)

    # ---- lifecycle (demo/serving.py) ----------------------------------------------------------
    thread_name = "demo-amocrm"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def served_url(self) -> str:
        """The account base URL (no trailing slash)."""
        return self.base_url

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("portal not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    # ---- request handling ----------------------------------------------------------------------
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], sent: bytes = b""
    ) -> tuple[int, dict[str, Any] | bytes | None]:
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/")
        query = parse_qsl(parts.query, keep_blank_values=True)
        with self._lock:
            wait = self.delay + (self._slow.pop(0) if self._slow else 0.0)
        if wait:
            time.sleep(wait)
        with self._lock:
            if self._faults:
                status = self._faults.pop(0)
                return status, _problem(status, "Injected fault")
            if self.rate_limit:
                now = time.monotonic()
                while self._hits and now - self._hits[0] >= 1.0:
                    self._hits.popleft()
                if len(self._hits) >= self.rate_limit:
                    return 429, _problem(429, "Too Many Requests")
                self._hits.append(now)
        if headers.get("authorization", "") != f"Bearer {self.token}":
            return 401, _problem(401, "Unauthorized", "Access token is invalid or has been revoked")
        if method == "PATCH" and (path == "/api/v4/leads" or path.startswith("/api/v4/leads/")):
            with self._lock:
                return self._patch_leads(path, sent)
        if method != "GET":
            return 405, _problem(405, "Method Not Allowed")
        with self._lock:
            status, body = self._route(path, query, raw_path)
            if status == 200 and self._malformed and self._malformed[0] in (None, path):
                self._malformed.pop(0)
                text = json.dumps(body, ensure_ascii=False)
                return 200, text[: len(text) // 2].encode("utf-8")  # a proxy cut the answer short
            return status, body

    def _route(self, path: str, query: list[tuple[str, str]], raw_path: str) -> tuple[int, dict | None]:
        q: dict[str, list[str]] = {}
        for k, v in query:
            q.setdefault(k.replace("[]", ""), []).append(v)
        one = {k: v[-1] for k, v in q.items()}

        def window(rows: list[dict], field: str) -> list[dict]:
            lo, hi = one.get(f"filter[{field}][from]"), one.get(f"filter[{field}][to]")
            if lo:
                rows = [r for r in rows if r[field] is not None and r[field] >= int(lo)]
            if hi:
                rows = [r for r in rows if r[field] is not None and r[field] <= int(hi)]
            return rows

        def order(rows: list[dict]) -> list[dict]:
            for field in ("updated_at", "created_at", "id"):
                direction = one.get(f"order[{field}]")
                if direction:
                    return sorted(rows, key=lambda r: (r[field] or 0, r["id"]), reverse=direction == "desc")
            return sorted(rows, key=lambda r: r["id"] if isinstance(r["id"], int) else str(r["id"]))

        max_limit = MAX_LIMIT
        if self.before_answer is not None:
            self.before_answer(path, one)
        if path == "/api/v4/leads":
            with_ = set(one.get("with", "").split(","))
            deleted = "only_deleted" in with_
            rows = order(window([r for r in self.leads.values() if bool(r["is_deleted"]) == deleted], "updated_at"))
            if "loss_reason" not in with_:
                rows = [
                    {**r, "_embedded": {k: v for k, v in r["_embedded"].items() if k != "loss_reason"}} for r in rows
                ]
            key = "leads"
        elif path == "/api/v4/leads/pipelines":
            return 200, {
                "_total_items": len(self.pipelines),
                "_links": {"self": {"href": self._href(raw_path)}},
                "_embedded": {"pipelines": self.pipelines},
            }
        elif path == "/api/v4/leads/loss_reasons":
            rows, key = list(self.loss_reasons), "loss_reasons"
        elif path == "/api/v4/leads/custom_fields":
            rows, key = list(self.custom_fields), "custom_fields"
        elif path == "/api/v4/users":
            if not self.admin:
                return 403, _problem(403, "Forbidden", "Access denied: the user is not an account administrator")
            rows, key = list(self.users), "users"
        elif path == "/api/v4/companies":
            rows, key = order(window(list(self.companies.values()), "updated_at")), "companies"
        elif path == "/api/v4/leads/notes":
            rows = window(list(self.notes.values()), "updated_at")
            types = q.get("filter[note_type]")
            if types:
                rows = [r for r in rows if r["note_type"] in types]
            rows, key = order(rows), "notes"
        elif path == "/api/v4/tasks":
            rows, key = order(window(list(self.tasks.values()), "updated_at")), "tasks"
        elif path == "/api/v4/events":
            rows = window(list(self.events), "created_at")
            types, entities = q.get("filter[type]"), q.get("filter[entity]")
            if types:
                rows = [r for r in rows if r["type"] in ",".join(types).split(",")]
            if entities:
                rows = [r for r in rows if r["entity_type"] in ",".join(entities).split(",")]
            rows = sorted(rows, key=lambda r: (r["created_at"], r["id"]))
            key, max_limit = "events", MAX_EVENTS_LIMIT
        else:
            return 404, _problem(404, "Not Found", f"no such endpoint: {path}")
        try:
            page, limit = int(one.get("page", 1)), int(one.get("limit", 50))
        except ValueError:
            return 400, _problem(400, "Bad Request", "page and limit are integers")
        if page < 1 or not 1 <= limit <= max_limit:
            return 400, _problem(400, "Bad Request", f"limit must be 1..{max_limit}, page from 1")
        chunk = rows[(page - 1) * limit : page * limit]
        if not chunk:
            return 204, None
        links = {"self": {"href": self._href(raw_path)}}
        if page * limit < len(rows):
            links["next"] = {"href": self._href(raw_path, page=page + 1)}
        return 200, {"_page": page, "_links": links, "_embedded": {key: json.loads(json.dumps(chunk))}}

    # fields a PATCH may change here, with their JSON types
    PATCHABLE: dict[str, type] = {"responsible_user_id": int, "price": int, "name": str, "status_id": int}

    def _patch_leads(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """PATCH /api/v4/leads (an array) or /api/v4/leads/{id} (one object): validate all, then apply all."""
        try:
            payload = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError):
            return 400, _problem(400, "Bad Request", "Body is not valid JSON")
        single = path != "/api/v4/leads"
        if single:
            tail = path.rsplit("/", 1)[-1]
            if not tail.isdigit() or not isinstance(payload, dict):
                return 400, _problem(400, "Bad Request", "PATCH /api/v4/leads/{id} takes one lead object")
            items: list[dict[str, Any]] = [{**payload, "id": int(tail)}]
        elif isinstance(payload, list) and payload and all(isinstance(item, dict) for item in payload):
            items = payload
        else:
            return 400, _problem(400, "Bad Request", "PATCH /api/v4/leads takes a non-empty array of leads")
        active = {u["id"] for u in self.users if cast(dict[str, Any], u["rights"])["is_active"]}
        problems = []
        for index, item in enumerate(items):
            request_id = str(item.get("request_id", index))
            errors = []
            lead_id = item.get("id")
            if not isinstance(lead_id, int) or isinstance(lead_id, bool):
                errors.append(("InvalidType", "id", "This value should be of type int."))
            elif lead_id not in self.leads or self.leads[lead_id]["is_deleted"]:
                errors.append(("NotFound", "id", "Entity not found."))
            for field, value in item.items():
                if field in ("id", "request_id"):
                    continue
                kind = self.PATCHABLE.get(field)
                if kind is None:
                    errors.append(("NotSupportedField", field, "This field is not supported here."))
                elif not isinstance(value, kind) or isinstance(value, bool):
                    errors.append(("InvalidType", field, f"This value should be of type {kind.__name__}."))
                elif field == "responsible_user_id" and value not in active:
                    errors.append(("NotSupportedChoice", field, "The value you selected is not a valid choice."))
            if errors:
                problems.append(
                    {
                        "request_id": request_id,
                        "errors": [{"code": c, "path": p, "detail": d} for c, p, d in errors],
                    }
                )
        if problems:
            return 400, {**_problem(400, "Bad Request", "Request validation failed"), "validation-errors": problems}
        answered = []
        for index, item in enumerate(items):
            changes = {k: v for k, v in item.items() if k not in ("id", "request_id")}
            lead = self.leads[item["id"]]
            before = lead["responsible_user_id"]
            lead = self.update_lead(item["id"], **changes)
            if lead["responsible_user_id"] != before:
                self.events.append(
                    {
                        "id": f"resp{lead['id']:x}{lead['updated_at']:x}",
                        "type": "entity_responsible_changed",
                        "entity_id": lead["id"],
                        "entity_type": "lead",
                        "created_by": 0,
                        "created_at": lead["updated_at"],
                        "account_id": ACCOUNT_ID,
                        "value_before": [{"responsible_user": {"id": before}}],
                        "value_after": [{"responsible_user": {"id": lead["responsible_user_id"]}}],
                    }
                )
            self.writes.append({"id": lead["id"], "changes": changes})
            answered.append(
                {
                    "id": lead["id"],
                    "updated_at": lead["updated_at"],
                    "request_id": str(item.get("request_id", index)),
                    "_links": {"self": {"href": f"{self.base_url}/api/v4/leads/{lead['id']}"}},
                }
            )
        links = {"self": {"href": f"{self.base_url}/api/v4/leads"}}
        if single:
            return 200, answered[0]
        return 200, {"_links": links, "_embedded": {"leads": answered}}

    def _href(self, raw_path: str, page: int | None = None) -> str:
        parts = urlsplit(raw_path)
        if page is None:
            return self.base_url + raw_path
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
        query.append(("page", str(page)))
        return f"{self.base_url}{parts.path}?{urlencode(query)}"


def _problem(status: int, title: str, detail: str = "") -> dict[str, Any]:
    return {"title": title, "type": "https://httpstatus.es/" + str(status), "status": status, "detail": detail}


def _handler_for(portal: AmoCRMPortal) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _serve(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            sent = self.rfile.read(int(headers.get("content-length") or 0))
            status, body = portal.handle(self.command, self.path, headers, sent)
            portal.requests.append((self.command, urlsplit(self.path).path, status))
            self.send_response(status)
            if body is None:
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
            ctype = "application/hal+json" if status == 200 else "application/problem+json"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

    return Handler


def main() -> None:
    """python -m demo.amocrm_portal [--world DIR | --size --today --seed] [--port] [--token]: serve until Ctrl-C.

    Prints the AMOCRM_BASE_URL and AMOCRM_ACCESS_TOKEN to export in another shell, e.g.
    `AMOCRM_BASE_URL=… AMOCRM_ACCESS_TOKEN=… .venv/bin/dagster asset materialize -m definitions
    --select 'tag:source=amocrm'`. Without --world it serves a world generated in memory from
    --size/--today/--seed (the defaults of `python -m demo generate`); to serve the very world the
    product's demo run uses, pass its folder (`DATA_DIR/demo/<size>-<seed>-<today>`).
    """
    import argparse
    from datetime import date

    parser = argparse.ArgumentParser(prog="python -m demo.amocrm_portal", description=main.__doc__)
    parser.add_argument("--world", help="a written demo world folder (default: generate one in memory)")
    parser.add_argument("--size", choices=("S", "M", "L"), default="M")
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="last day of the world (default: today)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args()
    if args.world:
        world = load_world(Path(args.world))
    else:
        world = generate(args.size, args.today or date.today(), args.seed)
    portal = AmoCRMPortal(world=world, token=args.token, port=args.port)
    url = portal.start()
    print(f"AMOCRM_BASE_URL={url}\nAMOCRM_ACCESS_TOKEN={args.token}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        portal.stop()


if __name__ == "__main__":
    main()
