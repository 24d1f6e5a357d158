"""The Bitrix24 dlt source (plain dlt, no Dagster): the whole CRM, its telephony log and tasks.

Tables (dataset `raw_bitrix24`, names and columns lower snake case by dlt's naming convention):
- deals, leads, activities, companies: incremental on the modification time
  (`filter[>=DATE_MODIFY]=<cursor - overlap>`; activities carry LAST_UPDATED instead), merged on ID: a
  rerun fetches what changed (and the overlap again) and never duplicates. Deals, leads and companies also carry
  `is_deleted` / `deleted_at`: a cheap ID-only scan (`select=[ID]`, 2,500 IDs a request), at most
  once per `deletion_scan_every_hours`, compares the portal's IDs with the live ones loaded, and a
  record gone from the portal is merged back with is_deleted = true (it is never kept as live; a
  record restored from the recycle bin comes back with a new DATE_MODIFY and is live again).
- stage_history_deals, stage_history_leads: `crm.stagehistory.list` (entityTypeId 2 / 1),
  append-only, incremental on ID (`filter[>ID]=<last loaded>`), merged on ID.
- calls: `voximplant.statistic.get` (uppercase FILTER/SORT/ORDER), incremental on CALL_START_DATE
  with a look-back window (a call is logged when it ends, so a long call can appear after a shorter
  later one was loaded), merged on ID.
- tasks: `tasks.task.list` (lowerCamel rows under result.tasks), incremental on changedDate
  (`>=CHANGED_DATE`, with the overlap), merged on id; ufCrmTask lands in tasks__uf_crm_task.

Cursors on a modification time: Bitrix24 stamps whole seconds, so a record modified in the second of
the last row read, but after the read, carries the cursor's own stamp; a strict `>` never asks for it
again. Each of these resources keeps its newest stamp in its resource state (`modified_cursor`) and
asks from that stamp minus `cursor_overlap_seconds` (settings' INGEST_CURSOR_OVERLAP_SECONDS, default
60), inclusive; there is no boundary deduplication: the merge on the record's ID keeps one row each.
- users (+ child table users__uf_department: value, _dlt_parent_id -> users._dlt_id), departments,
  pipelines (crm.category.list, entityTypeId=2), stages (crm.status.list for DEAL_STAGE and
  DEAL_STAGE_<pipeline id>): small dimensions, replaced whole on every run so deletions show.

Values stay as Bitrix24 sends them (strings, UPPER_CASE keys turned lower snake case), except the
known date-time fields: `YYYY-MM-DDThh:mm:ss+03:00` lands as a UTC timestamp (timestamptz) and the
empty string Bitrix24 uses for "no date" lands as NULL.

Paging of the big lists: through `batch` by default (`paging="batch"`): up to 50 pages of 50 rows in
one request, keyset between requests (`filter[>ID]=<last id seen>`) and offsets inside one, so a
first load runs at the rate limit's 2 requests/s x 2,500 rows (Bitrix24Client.batched_pages).
`paging="keyset"` walks single pages with `start=-1` (no count), `paging="offset"` follows
`start`/`next`. Small lists (users, departments, stages) always use `start`/`next`.

Fault tolerance: 429/5xx/QUERY_LIMIT_EXCEEDED and timeouts are retried by the client (pacing itself
with the portal's own leaky bucket); a page whose result is not a list of records, or a record
without a usable ID or modification time, goes to `raw_bitrix24.quarantine` (source, position with
the method, reason, raw payload, time) and the rest of the load goes on. New UF_* custom fields
arrive as new columns (dlt evolves the schema). A run killed mid-load leaves its cursor unmoved
(dlt commits state with the load package), so a rerun reloads the window and merge keeps every row
once.

The webhook URL is a secret (`dlt.secrets.value`: `SOURCES__BITRIX24__WEBHOOK_URL` or secrets.toml).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import dlt
from dlt.sources import DltResource

from assets.ingest.bitrix24.client import Bitrix24Client, Page
from assets.ingest.quarantine import quarantined
from assets.ingest.telephony.source import hash_phone  # one hash for a client's number across sources

log = logging.getLogger(__name__)
SOURCE = "bitrix24"

# Cursor start for a first load: earlier than any CRM record.
DEFAULT_MODIFIED_SINCE = "2000-01-01T00:00:00+03:00"

# Date-time fields per entity (Bitrix24 field names). Declared as timestamps so the column type does not
# depend on which value dlt happens to see first (an empty string would otherwise make it text).
DATE_FIELDS: dict[str, tuple[str, ...]] = {
    "deals": ("DATE_CREATE", "DATE_MODIFY", "BEGINDATE", "CLOSEDATE", "MOVED_TIME", "LAST_ACTIVITY_TIME"),
    "leads": ("DATE_CREATE", "DATE_MODIFY", "DATE_CLOSED", "MOVED_TIME", "LAST_ACTIVITY_TIME"),
    "activities": ("CREATED", "LAST_UPDATED", "START_TIME", "END_TIME", "DEADLINE"),
    "companies": ("DATE_CREATE", "DATE_MODIFY"),
    "stage_history_deals": ("CREATED_TIME",),
    "stage_history_leads": ("CREATED_TIME",),
    "calls": ("CALL_START_DATE",),
    "tasks": ("createdDate", "changedDate", "closedDate", "deadline"),
}

# Standard text fields downstream models rely on. Declared so each column exists even when a portal (or a
# small demo world) has no value in it yet: dlt skips columns it has only seen as null.
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "deals": (
        "ID",
        "TITLE",
        "TYPE_ID",
        "CATEGORY_ID",
        "STAGE_ID",
        "STAGE_SEMANTIC_ID",
        "OPPORTUNITY",
        "CURRENCY_ID",
        "CLOSED",
        "ASSIGNED_BY_ID",
        "CREATED_BY_ID",
        "COMPANY_ID",
        "CONTACT_ID",
        "LEAD_ID",
        "SOURCE_ID",
        "IS_RETURN_CUSTOMER",
        "UTM_SOURCE",
        "UTM_MEDIUM",
        "UTM_CAMPAIGN",
        "UTM_CONTENT",
        "UTM_TERM",
    ),
    "leads": (
        "ID",
        "TITLE",
        "STATUS_ID",
        "STATUS_SEMANTIC_ID",
        "SOURCE_ID",
        "OPPORTUNITY",
        "CURRENCY_ID",
        "ASSIGNED_BY_ID",
        "CREATED_BY_ID",
        "COMPANY_ID",
        "CONTACT_ID",
        "IS_RETURN_CUSTOMER",
        "UTM_SOURCE",
        "UTM_MEDIUM",
        "UTM_CAMPAIGN",
        "UTM_CONTENT",
        "UTM_TERM",
    ),
    "activities": (
        "ID",
        "OWNER_ID",
        "OWNER_TYPE_ID",
        "TYPE_ID",
        "PROVIDER_ID",
        "PROVIDER_TYPE_ID",
        "DIRECTION",
        "SUBJECT",
        "COMPLETED",
        "STATUS",
        "RESPONSIBLE_ID",
    ),
    "users": ("ID", "NAME", "LAST_NAME", "SECOND_NAME", "WORK_POSITION", "TIME_ZONE"),
    "departments": ("ID", "NAME", "SORT", "PARENT", "UF_HEAD"),
    "stages": ("ENTITY_ID", "STATUS_ID", "NAME", "SORT", "SEMANTICS", "CATEGORY_ID"),
    "companies": ("ID", "TITLE", "COMPANY_TYPE", "INDUSTRY", "ASSIGNED_BY_ID"),
    "stage_history_deals": ("STAGE_ID", "STAGE_SEMANTIC_ID"),
    "stage_history_leads": ("STATUS_ID", "STATUS_SEMANTIC_ID"),
    "calls": (
        "CALL_ID",
        "CALL_TYPE",
        "CALL_FAILED_CODE",
        "CALL_DURATION",
        "PORTAL_USER_ID",
        "PHONE_NUMBER_HASH",
        "CRM_ENTITY_TYPE",
        "CRM_ENTITY_ID",
        "CRM_ACTIVITY_ID",
    ),
    "tasks": ("id", "title", "status", "responsibleId", "createdBy"),
}
# Integer columns (stage history answers typed numbers)
BIGINT_FIELDS: dict[str, tuple[str, ...]] = {
    "stage_history_deals": ("ID", "TYPE_ID", "OWNER_ID", "CATEGORY_ID"),
    "stage_history_leads": ("ID", "TYPE_ID", "OWNER_ID"),
}
# Entities whose deletions are looked for (CRM records a manager can delete)
DELETABLE = ("deals", "leads", "companies")
DELETION_HINTS = {
    "IS_DELETED": {"data_type": "bool", "nullable": True},
    "DELETED_AT": {"data_type": "timestamp", "nullable": True},
}
CALLS_LOOKBACK = timedelta(hours=2)

# Deal stages live in crm.status.list under ENTITY_ID DEAL_STAGE (pipeline 0) and DEAL_STAGE_<id>.
DEAL_ENTITY_TYPE_ID = 2


def latest(values: Sequence[str | datetime]) -> str | datetime:
    """`max` by instant, not by text: cursors compare correctly across UTC offsets (DST portals)."""
    return max(values, key=_instant)


def _instant(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _hints(entity: str) -> dict[str, Any]:
    """Column hints (fresh dicts: dlt writes into them) for the known text and date-time fields."""
    hints: dict[str, Any] = {f: {"data_type": "text", "nullable": True} for f in TEXT_FIELDS.get(entity, ())}
    hints.update({f: {"data_type": "timestamp", "nullable": True} for f in DATE_FIELDS.get(entity, ())})
    hints.update({f: {"data_type": "bigint", "nullable": True} for f in BIGINT_FIELDS.get(entity, ())})
    if entity in DELETABLE:
        hints.update({k: dict(v) for k, v in DELETION_HINTS.items()})
    return hints


def _blank_dates_to_null(rows: list[dict[str, Any]], fields: Sequence[str]) -> list[dict[str, Any]]:
    for row in rows:
        for field in fields:
            if row.get(field) == "":
                row[field] = None
    return rows


@dlt.source(name="bitrix24", max_table_nesting=1)
def bitrix24_source(
    webhook_url: str = dlt.secrets.value,
    modified_since: str = DEFAULT_MODIFIED_SINCE,
    paging: Literal["batch", "offset", "keyset"] = "batch",
    max_retries: int = 6,
    backoff_base: float = 0.5,
    rate: float | None = 2.0,
    burst: int = 50,
    read_timeout: float = 65.0,
    deletion_scan: Literal["auto", "always", "never"] = "auto",
    deletion_scan_every_hours: float = 1.0,
    phone_hash_salt: str | None = None,
    cursor_overlap_seconds: float = 60.0,
) -> Sequence[DltResource]:
    """Bitrix24 CRM through an incoming webhook (`https://<portal>/rest/<user>/<code>/`).

    `rate`/`burst`: the portal's request limit the client paces itself by (2/s, 50: standard plans;
    Enterprise 5/s, 250). `deletion_scan`: "auto" every `deletion_scan_every_hours`, or always / never.
    `phone_hash_salt`: calls' PHONE_NUMBER is replaced on arrival by PHONE_NUMBER_HASH =
    sha256("<salt>:<digits as 7XXXXXXXXXX>"), the telephony export's hash, so one client matches
    across sources; the number itself is never stored (without a salt the hash is left empty).
    `cursor_overlap_seconds`: how far before each modification-time cursor a run reads again.
    """
    overlap = timedelta(seconds=max(0.0, float(cursor_overlap_seconds)))
    client = Bitrix24Client(
        webhook_url,
        max_retries=max_retries,
        backoff_base=backoff_base,
        rate=rate,
        burst=burst,
        read_timeout=read_timeout,
    )

    def pages(
        method: str,
        params: dict[str, Any],
        *,
        filter_key: str = "filter",
        order: dict | None = None,
        items_key: str | None = None,
        id_key: str = "ID",
    ) -> Iterator[Page]:
        """Pages of a big list, ID ascending, through the configured paging."""
        if paging == "batch":
            yield from client.batched_pages(
                method, params, filter_key=filter_key, order=order, items_key=items_key, id_of=lambda r: r[id_key]
            )
            return
        order = order or {"order": {"ID": "ASC"}}
        if paging == "keyset":
            base_filter = dict(params.get(filter_key) or {})
            last = 0
            while True:
                query = {**params, filter_key: {**base_filter, ">ID": last}, **order, "start": -1}
                body = client.call(method, query, position=f"ID>{last}")
                page = _page_rows(method, f"ID>{last}", body.get("result"), items_key)
                yield page
                ids = [int(r[id_key]) for r in page.rows if _int_or_none(r.get(id_key)) is not None]
                if len(page.rows) < 50 or not ids:
                    return
                last = max(ids)
        for rows in client.pages(method, {**params, **order}, items_key=items_key):
            yield Page(method, "", rows)

    def checked(entity: str, pages_: Iterator[Page], cursor_field: str | None, id_key: str = "ID") -> Iterator[Any]:
        """Good rows (blank dates -> NULL) page by page; malformed pages and records to quarantine."""
        for page in pages_:
            if page.problem:
                yield quarantined(SOURCE, f"{page.method} {page.position}", page.problem, page.raw)
                continue
            good: list[dict[str, Any]] = []
            for n, row in enumerate(page.rows):
                if entity == "calls" and isinstance(row, dict):
                    row = hide_phone(row)
                reason = _invalid(row, id_key, cursor_field, DATE_FIELDS.get(entity, ()))
                if reason:
                    yield quarantined(SOURCE, f"{page.method} {page.position} row {n}", reason, _json(row))
                    continue
                good.append(row)
            if good:
                if entity in DELETABLE:
                    for row in good:
                        row["IS_DELETED"] = False
                        row["DELETED_AT"] = None
                yield _blank_dates_to_null(good, DATE_FIELDS.get(entity, ()))

    def hide_phone(row: dict[str, Any]) -> dict[str, Any]:
        number = row.pop("PHONE_NUMBER", None)
        digest = None
        if phone_hash_salt and number not in (None, ""):
            try:
                digest = hash_phone(number, phone_hash_salt)
            except ValueError:
                digest = None
        row["PHONE_NUMBER_HASH"] = digest
        return row

    def deletion_marks(entity: str, method: str) -> Iterator[Any]:
        """Rows loaded earlier whose ID the portal no longer lists, merged back as deleted."""
        state = dlt.current.resource_state()
        now = time.time()
        due = deletion_scan == "always" or (
            deletion_scan == "auto"
            and now - float(state.get("deletion_scan_at", 0)) >= deletion_scan_every_hours * 3600
        )
        if not due:
            return
        stored = _live_rows(entity)
        state["deletion_scan_at"] = now
        if not stored:
            return
        on_portal: set[int] = set()
        for page in client.batched_pages(method, {"select": ["ID"]}):
            if page.problem:  # an unreadable page: its IDs are unknown, so nothing may be called deleted
                yield quarantined(SOURCE, f"{method} {page.position} (deletion scan)", page.problem, page.raw)
                return
            on_portal.update(int(r["ID"]) for r in page.rows if _int_or_none(r.get("ID")) is not None)
        stamp = datetime.now(UTC)
        gone = [row for rid, row in stored.items() if rid not in on_portal]
        if gone:
            log.info("Bitrix24 %s: %d records deleted on the portal, marked is_deleted", entity, len(gone))
            for row in gone:
                row["is_deleted"], row["deleted_at"] = True, stamp
            yield gone

    def since_cursor(field: str, filter_field: str, read: Any) -> Iterator[Any]:
        """`read(filter)` with `filter_field` >= the stored cursor minus the overlap; the newest stamp
        seen becomes the cursor (kept in the resource state, committed with the load like dlt's own)."""
        state = dlt.current.resource_state()
        # a cursor dlt's incremental kept before (state "incremental") carries on
        last = state.get("modified_cursor") or (state.get("incremental") or {}).get(field, {}).get("last_value")
        last = last or modified_since
        start = max(_instant(last) - overlap, _instant(modified_since))
        began, newest = datetime.now(UTC).replace(microsecond=0), last
        for item in read({f">={filter_field}": start.isoformat()}):
            if isinstance(item, list):
                stamps = [r[field] for r in item if r.get(field)]
                if stamps:
                    newest = latest([newest, *stamps])
            yield item
        # Pages go by ID: a record edited while a long read goes on may already be behind it while a
        # later one carries a newer stamp. The cursor never passes the moment this read began, so the
        # next run reads the window the read spanned again (the overlap covers the clocks' skew).
        if _instant(newest) > began:
            newest = began.astimezone(_instant(newest).tzinfo)
        state["modified_cursor"] = newest if isinstance(newest, str) else newest.isoformat()

    def modified(entity: str, method: str, field: str, select: list[str] | None) -> Iterator[Any]:
        """Rows of `method` modified since the cursor minus the overlap (Bitrix24 stamps whole seconds)."""
        if entity in DELETABLE:
            yield from deletion_marks(entity, method)

        def read(filter_: dict[str, Any]) -> Iterator[Any]:
            params: dict[str, Any] = {"filter": filter_}
            if select:
                params["select"] = select
            return checked(entity, pages(method, params), field)

        yield from since_cursor(field, field, read)

    @dlt.resource(name="deals", primary_key="ID", write_disposition="merge", columns=_hints("deals"))
    def deals() -> Iterator[Any]:
        """CRM deals (crm.deal.list, all fields incl. UF_*), incremental on DATE_MODIFY, merged on ID; deletions marked."""
        yield from modified("deals", "crm.deal.list", "DATE_MODIFY", ["*", "UF_*"])

    @dlt.resource(name="leads", primary_key="ID", write_disposition="merge", columns=_hints("leads"))
    def leads() -> Iterator[Any]:
        """CRM leads (crm.lead.list, all fields incl. UF_*), incremental on DATE_MODIFY, merged on ID; deletions marked."""
        yield from modified("leads", "crm.lead.list", "DATE_MODIFY", ["*", "UF_*"])

    @dlt.resource(name="companies", primary_key="ID", write_disposition="merge", columns=_hints("companies"))
    def companies() -> Iterator[Any]:
        """CRM companies (crm.company.list, all fields incl. UF_*), incremental on DATE_MODIFY; deletions marked."""
        yield from modified("companies", "crm.company.list", "DATE_MODIFY", ["*", "UF_*"])

    @dlt.resource(name="activities", primary_key="ID", write_disposition="merge", columns=_hints("activities"))
    def activities() -> Iterator[Any]:
        """CRM activities: calls, meetings, emails, tasks (crm.activity.list), incremental on LAST_UPDATED."""
        # crm.activity.list has no DATE_MODIFY: its modification time is LAST_UPDATED.
        yield from modified("activities", "crm.activity.list", "LAST_UPDATED", None)

    def history(entity: str, entity_type_id: int, cursor: Any) -> Iterator[Any]:
        params = {"entityTypeId": entity_type_id, "filter": {}}
        last = int(cursor.last_value or 0)
        if paging == "batch":
            gen = client.batched_pages("crm.stagehistory.list", params, items_key="items", after_id=last)
        else:
            gen = pages("crm.stagehistory.list", {**params, "filter": {">ID": last}}, items_key="items")
        yield from checked(entity, gen, None)

    def after_id(values: Sequence[Any]) -> Any:
        return max(values, key=lambda v: int(v))

    @dlt.resource(
        name="stage_history_deals", primary_key="ID", write_disposition="merge", columns=_hints("stage_history_deals")
    )
    def stage_history_deals(
        last: dlt.sources.incremental[int] = dlt.sources.incremental(
            "ID", initial_value=0, last_value_func=after_id, range_start="open", on_cursor_value_missing="include"
        ),
    ) -> Iterator[Any]:
        """Deal stage history (crm.stagehistory.list?entityTypeId=2): append-only, incremental on ID."""
        yield from history("stage_history_deals", 2, last)

    @dlt.resource(
        name="stage_history_leads", primary_key="ID", write_disposition="merge", columns=_hints("stage_history_leads")
    )
    def stage_history_leads(
        last: dlt.sources.incremental[int] = dlt.sources.incremental(
            "ID", initial_value=0, last_value_func=after_id, range_start="open", on_cursor_value_missing="include"
        ),
    ) -> Iterator[Any]:
        """Lead status history (crm.stagehistory.list?entityTypeId=1): append-only, incremental on ID."""
        yield from history("stage_history_leads", 1, last)

    @dlt.resource(name="calls", primary_key="ID", write_disposition="merge", columns=_hints("calls"))
    def calls() -> Iterator[Any]:
        """Telephony log (voximplant.statistic.get), incremental on CALL_START_DATE with a look-back, merged on ID."""
        state = dlt.current.resource_state()
        cursor = state.get("call_start_date") or modified_since
        since_ts = _instant(cursor) - CALLS_LOOKBACK
        params = {"FILTER": {">=CALL_START_DATE": since_ts.isoformat()}}
        newest = cursor
        for item in checked(
            "calls",
            pages("voximplant.statistic.get", params, filter_key="FILTER", order={"SORT": "ID", "ORDER": "ASC"}),
            "CALL_START_DATE",
        ):
            if isinstance(item, list):
                newest = latest([newest] + [r["CALL_START_DATE"] for r in item])
            yield item
        state["call_start_date"] = newest if isinstance(newest, str) else newest.isoformat()

    @dlt.resource(name="tasks", primary_key="id", write_disposition="merge", columns=_hints("tasks"))
    def tasks() -> Iterator[Any]:
        """Tasks (tasks.task.list) with deadlines and status, incremental on CHANGED_DATE, merged on id."""
        select = [
            "ID",
            "TITLE",
            "STATUS",
            "PRIORITY",
            "RESPONSIBLE_ID",
            "CREATED_BY",
            "CREATED_DATE",
            "CHANGED_DATE",
            "CLOSED_DATE",
            "DEADLINE",
            "GROUP_ID",
            "UF_CRM_TASK",
        ]

        def read(filter_: dict[str, Any]) -> Iterator[Any]:
            params = {"filter": filter_, "select": select}
            return checked(
                "tasks", pages("tasks.task.list", params, items_key="tasks", id_key="id"), "changedDate", id_key="id"
            )

        yield from since_cursor("changedDate", "CHANGED_DATE", read)

    @dlt.resource(name="users", primary_key="ID", write_disposition="replace", columns=_hints("users"))
    def users() -> Iterator[list[dict]]:
        """Portal users (user.get); UF_DEPARTMENT lands in users__uf_department."""
        yield from client.pages("user.get", {})

    @dlt.resource(name="departments", primary_key="ID", write_disposition="replace", columns=_hints("departments"))
    def departments() -> Iterator[list[dict]]:
        """Company structure (department.get): ID, NAME, PARENT, UF_HEAD."""
        yield from client.pages("department.get", {})

    def categories() -> list[dict[str, Any]]:
        return [
            row
            for page in client.pages("crm.category.list", {"entityTypeId": DEAL_ENTITY_TYPE_ID}, items_key="categories")
            for row in page
        ]

    @dlt.resource(name="pipelines", primary_key="id", write_disposition="replace")
    def pipelines() -> Iterator[list[dict]]:
        """Deal pipelines (crm.category.list, entityTypeId=2): id, name, sort, …"""
        yield categories()

    @dlt.resource(
        name="stages",
        primary_key=("ENTITY_ID", "STATUS_ID"),
        write_disposition="replace",
        columns=_hints("stages"),  # SEMANTICS is null for every in-progress stage
    )
    def stages() -> Iterator[list[dict]]:
        """Deal stages of every pipeline (crm.status.list, ENTITY_ID DEAL_STAGE / DEAL_STAGE_<id>)."""
        entity_ids = ["DEAL_STAGE"] + [f"DEAL_STAGE_{c['id']}" for c in categories() if int(c["id"]) != 0]
        for entity_id in entity_ids:
            yield from client.pages("crm.status.list", {"filter": {"ENTITY_ID": entity_id}, "order": {"SORT": "ASC"}})

    return (
        deals,
        leads,
        activities,
        companies,
        stage_history_deals,
        stage_history_leads,
        calls,
        tasks,
        users,
        departments,
        pipelines,
        stages,
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _invalid(row: Any, id_key: str, cursor_field: str | None, date_fields: Sequence[str]) -> str | None:
    """Why a record cannot be loaded (None if it can)."""
    if not isinstance(row, dict):
        return f"not a record: {type(row).__name__}"
    if _int_or_none(row.get(id_key)) is None:
        return f"{id_key} is missing or not a number: {row.get(id_key)!r}"
    for field in date_fields:
        value = row.get(field)
        if value in (None, ""):
            if field == cursor_field:
                return f"{field} is empty"
            continue
        if not isinstance(value, str):
            return f"{field} is not a date-time: {value!r}"
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return f"{field} is not a date-time: {value!r}"
    return None


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


def _page_rows(method: str, position: str, result: Any, items_key: str | None) -> Page:
    from assets.ingest.bitrix24.client import _page

    return _page(method, position, result, items_key)


def _live_rows(table: str) -> dict[int, dict[str, Any]]:
    """The rows of `table` the warehouse holds as live, by ID (empty before the first load)."""
    try:
        pipeline = dlt.current.pipeline()
        with pipeline.sql_client() as sql:
            name = sql.make_qualified_table_name(table)
            with sql.execute_query(f"select * from {name} where is_deleted is null or not is_deleted") as cur:
                columns = [c[0] for c in cur.description]
                rows = cur.fetchall()
    except Exception as exc:  # no table yet (first load) or no destination: nothing to compare with
        log.debug("Bitrix24 %s: no loaded rows to compare (%s)", table, type(exc).__name__)
        return {}
    out: dict[int, dict[str, Any]] = {}
    for values in rows:
        row = {c: v for c, v in zip(columns, values) if not c.startswith("_dlt_")}
        rid = _int_or_none(row.get("id"))
        if rid is not None:
            out[rid] = row
    return out
