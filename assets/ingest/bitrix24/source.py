"""The Bitrix24 dlt source (plain dlt, no Dagster): CRM deals, leads, activities and the dimensions around them.

Tables (dataset `raw_bitrix24`, names and columns lower snake case by dlt's naming convention):
- deals, leads, activities: incremental on the modification time (`filter[>DATE_MODIFY]=<cursor>`;
  activities carry LAST_UPDATED instead), `order[ID]=ASC`, merged on ID: a rerun fetches only what
  changed and never duplicates.
- users (+ child table users__uf_department: value, _dlt_parent_id -> users._dlt_id), departments,
  pipelines (crm.category.list, entityTypeId=2), stages (crm.status.list for DEAL_STAGE and
  DEAL_STAGE_<pipeline id>): small dimensions, replaced whole on every run so deletions show.

Values stay as Bitrix24 sends them (strings, UPPER_CASE keys turned lower snake case), except the
known date-time fields: `YYYY-MM-DDThh:mm:ss+03:00` lands as a UTC timestamp (timestamptz) and the
empty string Bitrix24 uses for "no date" lands as NULL.

Paging of the big CRM lists: keyset by default (`filter[>ID]=<last id>`, `order[ID]=ASC`,
`start=-1`), as Bitrix24's docs recommend for large portals: no row count per page (0.1 s instead
of tens of seconds on millions of rows) and no skipped rows when records are deleted mid-load, which
shifts offsets. `paging="offset"` uses `start`/`next` instead. Small lists (users, departments,
stages) always use `start`/`next`.

The webhook URL is a secret (`dlt.secrets.value`: `SOURCES__BITRIX24__WEBHOOK_URL` or secrets.toml).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Literal

import dlt
from dlt.sources import DltResource

from assets.ingest.bitrix24.client import Bitrix24Client

# Cursor start for a first load: earlier than any CRM record.
DEFAULT_MODIFIED_SINCE = "2000-01-01T00:00:00+03:00"

# Date-time fields per entity (Bitrix24 field names). Declared as timestamps so the column type does not
# depend on which value dlt happens to see first (an empty string would otherwise make it text).
DATE_FIELDS: dict[str, tuple[str, ...]] = {
    "deals": ("DATE_CREATE", "DATE_MODIFY", "BEGINDATE", "CLOSEDATE", "MOVED_TIME", "LAST_ACTIVITY_TIME"),
    "leads": ("DATE_CREATE", "DATE_MODIFY", "DATE_CLOSED", "MOVED_TIME", "LAST_ACTIVITY_TIME"),
    "activities": ("CREATED", "LAST_UPDATED", "START_TIME", "END_TIME", "DEADLINE"),
}

# Standard text fields downstream models rely on. Declared so each column exists even when a portal (or a
# small demo world) has no value in it yet: dlt skips columns it has only seen as null.
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "deals": ("ID", "TITLE", "TYPE_ID", "CATEGORY_ID", "STAGE_ID", "STAGE_SEMANTIC_ID", "OPPORTUNITY", "CURRENCY_ID",
              "CLOSED", "ASSIGNED_BY_ID", "CREATED_BY_ID", "COMPANY_ID", "CONTACT_ID", "LEAD_ID", "SOURCE_ID",
              "IS_RETURN_CUSTOMER", "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM"),
    "leads": ("ID", "TITLE", "STATUS_ID", "STATUS_SEMANTIC_ID", "SOURCE_ID", "OPPORTUNITY", "CURRENCY_ID",
              "ASSIGNED_BY_ID", "CREATED_BY_ID", "COMPANY_ID", "CONTACT_ID", "IS_RETURN_CUSTOMER",
              "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM"),
    "activities": ("ID", "OWNER_ID", "OWNER_TYPE_ID", "TYPE_ID", "PROVIDER_ID", "PROVIDER_TYPE_ID", "DIRECTION",
                   "SUBJECT", "COMPLETED", "STATUS", "RESPONSIBLE_ID"),
    "users": ("ID", "NAME", "LAST_NAME", "SECOND_NAME", "WORK_POSITION", "TIME_ZONE"),
    "departments": ("ID", "NAME", "SORT", "PARENT", "UF_HEAD"),
    "stages": ("ENTITY_ID", "STATUS_ID", "NAME", "SORT", "SEMANTICS", "CATEGORY_ID"),
}

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
    paging: Literal["offset", "keyset"] = "keyset",
    max_retries: int = 6,
    backoff_base: float = 0.5,
) -> Sequence[DltResource]:
    """Bitrix24 CRM through an incoming webhook (`https://<portal>/rest/<user>/<code>/`)."""
    client = Bitrix24Client(webhook_url, max_retries=max_retries, backoff_base=backoff_base)

    def modified_rows(method: str, entity: str, cursor: Any, select: list[str] | None) -> Iterator[list[dict]]:
        """Rows of `method` modified after the cursor, ID ascending, page by page."""
# Strictly after the cursor (Bitrix24 stamps have whole seconds), so a rerun fetches nothing.
        params: dict[str, Any] = {"filter": {f">{cursor.cursor_path}": cursor.last_value}, "order": {"ID": "ASC"}}
        if select:
            params["select"] = select
        pages = client.pages_by_id(method, params) if paging == "keyset" else client.pages(method, params)
        for rows in pages:
            yield _blank_dates_to_null(rows, DATE_FIELDS[entity])

    @dlt.resource(name="deals", primary_key="ID", write_disposition="merge", columns=_hints("deals"))
    def deals(
        updated: dlt.sources.incremental[str] = dlt.sources.incremental(
            "DATE_MODIFY", initial_value=modified_since, last_value_func=latest, range_start="open"
        ),
    ) -> Iterator[list[dict]]:
        """CRM deals (crm.deal.list, all fields incl. UF_*), incremental on DATE_MODIFY, merged on ID."""
        yield from modified_rows("crm.deal.list", "deals", updated, ["*", "UF_*"])

    @dlt.resource(name="leads", primary_key="ID", write_disposition="merge", columns=_hints("leads"))
    def leads(
        updated: dlt.sources.incremental[str] = dlt.sources.incremental(
            "DATE_MODIFY", initial_value=modified_since, last_value_func=latest, range_start="open"
        ),
    ) -> Iterator[list[dict]]:
        """CRM leads (crm.lead.list, all fields incl. UF_*), incremental on DATE_MODIFY, merged on ID."""
        yield from modified_rows("crm.lead.list", "leads", updated, ["*", "UF_*"])

    @dlt.resource(
        name="activities", primary_key="ID", write_disposition="merge", columns=_hints("activities")
    )
    def activities(
        # crm.activity.list has no DATE_MODIFY: its modification time is LAST_UPDATED.
        updated: dlt.sources.incremental[str] = dlt.sources.incremental(
            "LAST_UPDATED", initial_value=modified_since, last_value_func=latest, range_start="open"
        ),
    ) -> Iterator[list[dict]]:
        """CRM activities: calls, meetings, emails, tasks (crm.activity.list), incremental on LAST_UPDATED."""
        yield from modified_rows("crm.activity.list", "activities", updated, None)

    @dlt.resource(name="users", primary_key="ID", write_disposition="replace", columns=_hints("users"))
    def users() -> Iterator[list[dict]]:
        """Portal users (user.get); UF_DEPARTMENT lands in users__uf_department."""
        yield from client.pages("user.get", {})

    @dlt.resource(name="departments", primary_key="ID", write_disposition="replace", columns=_hints("departments"))
    def departments() -> Iterator[list[dict]]:
        """Company structure (department.get): ID, NAME, PARENT, UF_HEAD."""
        yield from client.pages("department.get", {})

    def categories() -> list[dict[str, Any]]:
        return [row for page in client.pages("crm.category.list", {"entityTypeId": DEAL_ENTITY_TYPE_ID},
                                             items_key="categories") for row in page]

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

    return deals, leads, activities, users, departments, pipelines, stages
