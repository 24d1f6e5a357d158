"""The amoCRM (API v4) dlt source (plain dlt, no Dagster): leads and the dimensions and history around them.

Tables (dataset `raw_amocrm`; times stay amoCRM's Unix seconds, UTC; staging makes them timestamptz):
- leads: incremental on `updated_at` (`filter[updated_at][from]=<cursor>`, `order[updated_at]=asc`,
  `with=loss_reason`, each page asked from the last `updated_at` seen: AmoCRMClient.keyset_pages), merged on id. Flattened beside amoCRM's own fields: `company_id` (first of
  `_embedded.companies`), `loss_reason_name`, and one column `cf_<field_id>` per custom field (its
  values joined by "; "), so a field created tomorrow becomes a new column instead of an error; the raw
  `custom_fields_values` and `tags` stay as JSON. Deletions: amoCRM never lists a deleted lead in
  `/api/v4/leads`, so every run also reads the `lead_deleted` events since the cursor and merges the
  lead's stored row back with `is_deleted` = true and `updated_at` = the deletion time (a lead the
  warehouse never held is not invented; one restored and listed again in the same run stays live).
- events: `lead_status_changed` (the stage history: status/pipeline before and after, flattened) and
  `lead_deleted`, incremental on `created_at`, merged on id.
- notes: calls (`call_in`/`call_out`) with duration, call_status, result, link flattened; the phone
  number is hashed on arrival (`phone_hash`, SHA-256) and never stored in clear. Incremental on
  `updated_at`, merged on id.
- tasks, companies: incremental on `updated_at`, merged on id.
- pipelines, statuses (`_embedded.statuses` of each pipeline; status 142 won, 143 lost in every
  pipeline, so key on pipeline_id + id), users, loss_reasons, custom_fields: small dimensions,
  replaced whole on every run. `/api/v4/users` is for administrators only: a token without the right
  (403) keeps the users already loaded (none on a first load), says so once, and the load goes on
  (managers not listed are named from the leads' responsible_user_id downstream).

Cursors: amoCRM stamps whole seconds, so a record edited in the second of the last read (after the
read, or edited, read and edited again within it) carries the same `updated_at` as the cursor. Every
timestamp cursor therefore re-reads `cursor_overlap_seconds` before it (dlt `lag`; the setting
INGEST_CURSOR_OVERLAP_SECONDS, default 60) with dlt's boundary deduplication off (it would drop a
changed row whose id and second were seen before); the merge on id keeps one row per record.

A page that stays malformed after one retry, and a record without a whole-number id or cursor
time, go to `raw_amocrm.quarantine` (source, position: endpoint, page and row, reason, raw text); the
rest of the load goes on.

The token is a secret (`dlt.secrets.value`: SOURCES__AMOCRM__ACCESS_TOKEN or secrets.toml).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import dlt
from dlt.sources import DltResource

from assets.ingest.amocrm.client import AmoCRMClient, AmoCRMError, MalformedPage
from assets.ingest.quarantine import quarantined

log = logging.getLogger(__name__)

EVENT_TYPES = ("lead_status_changed", "lead_deleted")
CALL_NOTE_TYPES = ("call_in", "call_out")


def _hints(
    ints: Sequence[str] = (), texts: Sequence[str] = (), bools: Sequence[str] = (), jsons: Sequence[str] = ()
) -> dict[str, Any]:
    hints: dict[str, Any] = {c: {"data_type": "bigint", "nullable": True} for c in ints}
    hints.update({c: {"data_type": "json", "nullable": True} for c in jsons})
    hints.update({c: {"data_type": "text", "nullable": True} for c in texts})
    hints.update({c: {"data_type": "bool", "nullable": True} for c in bools})
    return hints


LEAD_HINTS = dict(
    ints=(
        "id",
        "price",
        "responsible_user_id",
        "group_id",
        "status_id",
        "pipeline_id",
        "loss_reason_id",
        "source_id",
        "created_by",
        "updated_by",
        "created_at",
        "updated_at",
        "closed_at",
        "closest_task_at",
        "company_id",
        "account_id",
    ),
    texts=("name", "loss_reason_name"),
    bools=("is_deleted",),
    jsons=("custom_fields_values", "tags"),
)


_LEAD_COLUMNS = frozenset(_hints(**LEAD_HINTS))


def _newest_wins(hints: dict[str, Any], field: str = "updated_at") -> dict[str, Any]:
    """A record read twice in one load (keyset paging meets an edited record again) merges as its newest."""
    hints[field] = {**hints.get(field, {"data_type": "bigint", "nullable": True}), "dedup_sort": "desc"}
    return hints


def custom_field_value(field: dict[str, Any]) -> str | None:
    values = [v.get("value") for v in field.get("values") or [] if isinstance(v, dict)]
    texts = [str(v) for v in values if v not in (None, "")]
    return "; ".join(texts) or None


def flatten_lead(lead: dict[str, Any]) -> dict[str, Any]:
    # Fields amoCRM sends as null and this source does not declare (score, labor_cost, …) are left out
    # rather than reported by dlt as untyped on every load; they appear once a value does.
    row = {k: v for k, v in lead.items() if k not in ("_embedded", "_links") and (v is not None or k in _LEAD_COLUMNS)}
    embedded = lead.get("_embedded") or {}
    companies = embedded.get("companies") or []
    row["company_id"] = companies[0].get("id") if companies else None
    reasons = embedded.get("loss_reason") or []
    row["loss_reason_name"] = reasons[0].get("name") if reasons else None
    row["tags"] = [t.get("name") for t in embedded.get("tags") or []] or None
    for field in lead.get("custom_fields_values") or []:
        row[f"cf_{field['field_id']}"] = custom_field_value(field)
    return row


def flatten_event(event: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in event.items() if k not in ("_embedded", "_links")}
    for side in ("before", "after"):
        values = event.get(f"value_{side}") or []
        status = next((v["lead_status"] for v in values if isinstance(v, dict) and "lead_status" in v), None)
        row[f"status_{side}_id"] = status.get("id") if status else None
        row[f"pipeline_{side}_id"] = status.get("pipeline_id") if status else None
    return row


def flatten_note(note: dict[str, Any]) -> dict[str, Any]:
    params = dict(note.get("params") or {})
    phone = params.pop("phone", None)
    row = {k: v for k, v in note.items() if k not in ("params", "_embedded", "_links")}
    row.update(
        {
            "call_uniq": params.get("uniq"),
            "call_duration": params.get("duration"),
            "call_status": params.get("call_status"),
            "call_result": params.get("call_result"),
            "call_link": params.get("link"),
            "call_source": params.get("source"),
            "call_responsible": params.get("call_responsible"),
            "phone_hash": hashlib.sha256(str(phone).encode()).hexdigest() if phone else None,
        }
    )
    return row


def _record_problem(row: Any, cursor_field: str | None) -> str | None:
    """Why a record cannot be merged (no whole-number id, or no whole-number cursor time), else None."""
    if not isinstance(row, dict):
        return "not an object"
    if not isinstance(row.get("id"), (int, str)) or isinstance(row.get("id"), bool) or row.get("id") in ("", None):
        return f"id {row.get('id')!r} is missing or not an id"
    if cursor_field and (not isinstance(row.get(cursor_field), int) or isinstance(row.get(cursor_field), bool)):
        return f"{cursor_field} {row.get(cursor_field)!r} is not Unix seconds"
    return None


def checked(
    pages: Iterable[list[dict[str, Any]] | MalformedPage],
    path: str,
    flatten: Callable[[dict], dict],
    cursor_field: str | None = None,
) -> Iterator[Any]:
    """Flattened rows page by page; a malformed page or record becomes a quarantine row instead."""
    for page_no, page in enumerate(pages, start=1):
        if isinstance(page, MalformedPage):
            yield quarantined("amocrm", f"GET {page.path} page {page.page}", page.reason, page.raw)
            continue
        good = []
        for n, row in enumerate(page, start=1):
            problem = _record_problem(row, cursor_field)
            if problem:
                yield quarantined(
                    "amocrm",
                    f"GET {path} page {page_no} row {n}",
                    problem,
                    json.dumps(row, ensure_ascii=False, default=str),
                )
            else:
                good.append(flatten(row))
        if good:
            yield good


def _since(field: str, initial: int, overlap: float) -> Any:
    # quarantine rows have no cursor field: they pass the cursor untouched. `lag` re-reads the overlap;
    # primary_key=() turns boundary deduplication off (also with no overlap): merge on id dedups instead.
    return dlt.sources.incremental(
        field,
        initial_value=initial,
        on_cursor_value_missing="include",
        lag=max(0.0, float(overlap)) or None,
        primary_key=(),
    )


def _without(*keys: str) -> Callable[[dict], dict]:
    return lambda row: {k: v for k, v in row.items() if k not in keys}


@dlt.source(name="amocrm", max_table_nesting=0)
def amocrm_source(
    base_url: str = dlt.config.value,
    access_token: str = dlt.secrets.value,
    updated_since: int = 0,
    max_rps: float = 7.0,
    max_retries: int = 6,
    backoff_base: float = 0.5,
    read_timeout: float = 60.0,
    cursor_overlap_seconds: float = 60.0,
) -> Sequence[DltResource]:
    """amoCRM account `base_url` (https://<subdomain>.amocrm.ru) read with a long-lived token.

    `cursor_overlap_seconds`: how far before each stored cursor a run reads again (settings'
    INGEST_CURSOR_OVERLAP_SECONDS); the merge on id keeps one row per record.
    """
    overlap = cursor_overlap_seconds
    client = AmoCRMClient(
        base_url,
        access_token,
        max_rps=max_rps,
        max_retries=max_retries,
        backoff_base=backoff_base,
        timeout=(10, read_timeout),
    )

    def changed(
        path: str, key: str, cursor: Any, flatten: Callable[[dict], dict], extra: dict[str, Any] | None = None
    ) -> Iterator[Any]:
        pages = client.keyset_pages(path, extra, key=key, field="updated_at", start=int(cursor.last_value))
        yield from checked(pages, path, flatten, "updated_at")

    def deletions(since: int) -> list[dict[str, Any]]:
        """Stored rows of leads deleted since `since` (lead_deleted events), marked deleted at that time."""
        params = {"filter[type]": "lead_deleted", "filter[entity]": "lead", "filter[created_at][from]": since}
        deleted_at: dict[int, int] = {}
        for page in client.pages("/api/v4/events", params, key="events", limit=100):
            if isinstance(page, MalformedPage):
                continue  # leads on an unreadable page stay unmarked here; stg_amocrm__deleted_leads still drops them
            for event in page:
                if isinstance(event.get("entity_id"), int) and isinstance(event.get("created_at"), int):
                    lead_id = event["entity_id"]
                    deleted_at[lead_id] = max(event["created_at"], deleted_at.get(lead_id, 0))
        marks = []
        for row in _stored_rows("leads", deleted_at):
            if row.get("is_deleted") and row.get("updated_at") == deleted_at[row["id"]]:
                continue  # marked already
            if isinstance(row.get("updated_at"), int) and row["updated_at"] > deleted_at[row["id"]]:
                continue  # changed after the deletion: restored
            marks.append({**row, "is_deleted": True, "updated_at": deleted_at[row["id"]]})
        return marks

    @dlt.resource(name="leads", primary_key="id", write_disposition="merge", columns=_newest_wins(_hints(**LEAD_HINTS)))
    def leads(updated=_since("updated_at", updated_since, overlap)) -> Iterator[Any]:
        """Leads (amoCRM's deals) with status, pipeline, price, loss reason, company and custom fields;
        leads deleted since the cursor (lead_deleted events) merged back marked is_deleted."""
        # deletions first, the list after: a lead restored meanwhile is listed live and wins
        first_load = int(updated.last_value) <= updated_since  # nothing stored that could be marked
        marks = [] if first_load else deletions(int(updated.last_value))
        listed: set[int] = set()
        for item in changed("/api/v4/leads", "leads", updated, flatten_lead, {"with": "loss_reason"}):
            if isinstance(item, list):
                listed.update(row["id"] for row in item)
            yield item
        marks = [row for row in marks if row["id"] not in listed]
        if marks:
            log.info("amoCRM leads: %d deleted in the account, marked is_deleted", len(marks))
            yield marks

    @dlt.resource(
        name="companies",
        primary_key="id",
        write_disposition="merge",
        columns=_newest_wins(
            _hints(
                ints=("id", "responsible_user_id", "created_at", "updated_at"), texts=("name",), bools=("is_deleted",)
            )
        ),
    )
    def companies(updated=_since("updated_at", updated_since, overlap)) -> Iterator[Any]:
        """Companies (for repeat sales), incremental on updated_at."""
        yield from changed("/api/v4/companies", "companies", updated, _without("_embedded", "_links"))

    @dlt.resource(
        name="events",
        primary_key="id",
        write_disposition="merge",
        columns=_hints(
            ints=(
                "entity_id",
                "created_by",
                "created_at",
                "status_before_id",
                "pipeline_before_id",
                "status_after_id",
                "pipeline_after_id",
            ),
            texts=("id", "type", "entity_type"),
        ),
    )
    def events(created=_since("created_at", updated_since, overlap)) -> Iterator[Any]:
        """Lead status changes (stage history) and lead deletions, incremental on created_at."""
        params = {
            "filter[type]": ",".join(EVENT_TYPES),
            "filter[entity]": "lead",
            "filter[created_at][from]": int(created.last_value),
        }
        yield from checked(
            client.pages("/api/v4/events", params, key="events", limit=100),
            "/api/v4/events",
            flatten_event,
            "created_at",
        )

    @dlt.resource(
        name="notes",
        primary_key="id",
        write_disposition="merge",
        columns=_newest_wins(
            _hints(
                ints=(
                    "id",
                    "entity_id",
                    "created_by",
                    "responsible_user_id",
                    "created_at",
                    "updated_at",
                    "call_duration",
                    "call_status",
                    "call_responsible",
                ),
                texts=("note_type", "call_uniq", "call_result", "call_link", "phone_hash"),
            )
        ),
    )
    def notes(updated=_since("updated_at", updated_since, overlap)) -> Iterator[Any]:
        """Calls, read as lead notes call_in/call_out; the phone number hashed."""
        pages = client.keyset_pages(
            "/api/v4/leads/notes",
            {"filter[note_type][]": list(CALL_NOTE_TYPES)},
            key="notes",
            field="updated_at",
            start=int(updated.last_value),
        )
        yield from checked(pages, "/api/v4/leads/notes", flatten_note, "updated_at")

    @dlt.resource(
        name="tasks",
        primary_key="id",
        write_disposition="merge",
        columns=_newest_wins(
            _hints(
                ints=(
                    "id",
                    "entity_id",
                    "responsible_user_id",
                    "task_type_id",
                    "complete_till",
                    "created_at",
                    "updated_at",
                ),
                texts=("entity_type", "text"),
                bools=("is_completed",),
            )
        ),
    )
    def tasks(updated=_since("updated_at", updated_since, overlap)) -> Iterator[Any]:
        """Tasks with deadline (complete_till) and completion, incremental on updated_at."""
        yield from changed("/api/v4/tasks", "tasks", updated, _without("_embedded", "_links"))

    def pipeline_list() -> list[dict[str, Any]]:
        body = client.get("/api/v4/leads/pipelines") or {}
        return list(body.get("_embedded", {}).get("pipelines", []))

    @dlt.resource(
        name="pipelines",
        primary_key="id",
        write_disposition="replace",
        columns=_hints(ints=("id", "sort"), texts=("name",), bools=("is_main", "is_archive")),
    )
    def pipelines() -> Iterator[list[dict]]:
        """Lead pipelines (GET /api/v4/leads/pipelines)."""
        yield [{k: v for k, v in p.items() if k not in ("_embedded", "_links")} for p in pipeline_list()]

    @dlt.resource(
        name="statuses",
        primary_key=("pipeline_id", "id"),
        write_disposition="replace",
        columns=_hints(ints=("id", "pipeline_id", "sort", "type"), texts=("name", "color"), bools=("is_editable",)),
    )
    def statuses() -> Iterator[list[dict]]:
        """Statuses of every pipeline (_embedded.statuses); 142 won and 143 lost repeat in each pipeline."""
        yield [
            {k: v for k, v in s.items() if k != "_links"}
            for p in pipeline_list()
            for s in p.get("_embedded", {}).get("statuses", [])
        ]

    @dlt.resource(
        name="users",
        primary_key="id",
        write_disposition="replace",
        columns=_hints(ints=("id",), texts=("name", "email")),
    )
    def users() -> Iterator[Any]:
        """Account users (managers); rights.is_active flattened to is_active. Administrators only: a
        token without the right (403) keeps the users loaded before and the load goes on."""
        try:
            rows = list(
                checked(
                    client.pages("/api/v4/users", key="users"),
                    "/api/v4/users",
                    lambda u: {
                        **{k: v for k, v in u.items() if k not in ("_embedded", "_links", "rights")},
                        "is_active": (u.get("rights") or {}).get("is_active"),
                    },
                )
            )
        except AmoCRMError as exc:
            if exc.status != 403:
                raise
            kept = list(_stored_rows("users"))
            log.warning(
                "amoCRM /api/v4/users answered 403: the token is not an administrator's, so user names "
                "are not read (%d loaded earlier kept); managers are named from the leads' "
                "responsible_user_id. Use an administrator's token to read them.",
                len(kept),
            )
            rows = [kept] if kept else []
        yield from rows

    @dlt.resource(
        name="loss_reasons",
        primary_key="id",
        write_disposition="replace",
        columns=_hints(ints=("id", "sort"), texts=("name",)),
    )
    def loss_reasons() -> Iterator[Any]:
        """Loss reasons of the account (GET /api/v4/leads/loss_reasons)."""
        yield from checked(
            client.pages("/api/v4/leads/loss_reasons", key="loss_reasons"),
            "/api/v4/leads/loss_reasons",
            _without("_links"),
        )

    @dlt.resource(
        name="custom_fields",
        primary_key="id",
        write_disposition="replace",
        columns=_hints(ints=("id",), texts=("name", "code", "type")),
    )
    def custom_fields() -> Iterator[Any]:
        """Lead custom field definitions: what each cf_<id> column of leads means."""
        fields = ("id", "name", "code", "type", "entity_type", "sort")
        yield from checked(
            client.pages("/api/v4/leads/custom_fields", key="custom_fields"),
            "/api/v4/leads/custom_fields",
            lambda f: {k: v for k, v in f.items() if k in fields},
        )

    return leads, pipelines, statuses, events, notes, tasks, users, loss_reasons, companies, custom_fields


_JSON_COLUMNS = ("custom_fields_values", "tags")


def _stored_rows(table: str, ids: Iterable[int] | None = None) -> Iterator[dict[str, Any]]:
    """Rows of `table` the warehouse holds (only those with `ids`, if given); none before a first load."""
    wanted = sorted({int(i) for i in ids}) if ids is not None else None
    if wanted is not None and not wanted:
        return
    try:
        with dlt.current.pipeline().sql_client() as sql:
            name = sql.make_qualified_table_name(table)
            where = f" where id in ({', '.join(str(i) for i in wanted)})" if wanted is not None else ""
            with sql.execute_query(f"select * from {name}{where}") as cur:
                columns = [c[0] for c in cur.description]
                found = cur.fetchall()
    except Exception as exc:  # no table yet (first load) or no destination: nothing stored
        log.debug("amoCRM %s: no stored rows (%s)", table, type(exc).__name__)
        return
    for values in found:
        row = {c: v for c, v in zip(columns, values) if not c.startswith("_dlt_") and v is not None}
        for column in _JSON_COLUMNS:
            if isinstance(row.get(column), str):
                row[column] = json.loads(row[column])
        yield row
