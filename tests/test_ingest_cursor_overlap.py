"""No edit is lost to a whole-second cursor, on DuckDB and PostgreSQL.

Both CRMs stamp changes in whole seconds. For every timestamp-cursored resource of each source:
- a record edited, read, and edited again within the same second arrives with its last content on
  the next run (amoCRM's old boundary deduplication dropped it: same id, same second);
- a record edited in the second of the last read, but after the read, arrives (Bitrix24's old strict
  `>DATE_MODIFY` never asked for it again).
The demo portals stamp whole seconds like the vendors; `update_lead(at=…)` / `upsert(modified_at=…)`
make the second edit within a second already read.
"""

from __future__ import annotations

import shutil
from datetime import UTC

from assets.ingest.amocrm.source import amocrm_source
from assets.ingest.bitrix24.source import bitrix24_source
from demo.amocrm_portal import DEFAULT_TOKEN, LOST, WON, AmoCRMPortal
from resources.warehouse import Warehouse
from tests.support.worlds import both_warehouses, dlt_pipeline, s_world  # noqa: F401 - fixtures


def _one(wh: Warehouse, sql: str, params: list) -> object:
    rows = wh.query(sql, params).rows()
    assert len(rows) == 1, (sql, params, rows)
    return rows[0][0]


# --- amoCRM ------------------------------------------------------------------------------------
def test_amocrm_edits_within_the_second_of_the_last_read_arrive(s_world, warehouse, tmp_path):
    from demo.world import load_world

    portal = AmoCRMPortal(world=load_world(s_world), rate_limit=None)
    portal.start()
    try:
        pipe = dlt_pipeline("amocrm_overlap", warehouse, "raw_amocrm", tmp_path)

        def run() -> None:
            info = pipe.run(
                amocrm_source(base_url=portal.base_url, access_token=DEFAULT_TOKEN, max_rps=200, backoff_base=0.01)
            )
            assert not info.has_failed_jobs

        run()
        open_leads = [i for i, lead in sorted(portal.leads.items()) if lead["status_id"] not in (WON, LOST)]
        x, y = open_leads[:2]
        task, company, note = min(portal.tasks), min(portal.companies), min(portal.notes)

        # A manager edits lead x, a task, a company and a call in second s; the client reads them.
        s = portal.tick()
        portal.update_lead(x, at=s, price=111)
        portal.tasks[task].update(text="первая правка", updated_at=s)
        portal.companies[company].update(name="ООО «Первая»", updated_at=s)
        portal.notes[note]["params"]["duration"] = 11
        portal.notes[note]["updated_at"] = s
        run()
        assert _one(warehouse, "select price from raw_amocrm.leads where id = ?", [x]) == 111

        # Still in second s, after the read: a robot edits them again, and lead y is moved.
        portal.update_lead(x, at=s, price=222)
        moved_from = portal.leads[y]["status_id"]
        portal.update_lead(y, at=s, price=333, status_id=WON)
        portal.tasks[task].update(text="вторая правка", updated_at=s)
        portal.companies[company].update(name="ООО «Вторая»", updated_at=s)
        portal.notes[note]["params"]["duration"] = 22
        run()

        q = "select {} from raw_amocrm.{} where id = ?"
        assert _one(warehouse, q.format("price", "leads"), [x]) == 222
        assert _one(warehouse, q.format("price", "leads"), [y]) == 333
        assert _one(warehouse, q.format("text", "tasks"), [task]) == "вторая правка"
        assert _one(warehouse, q.format("name", "companies"), [company]) == "ООО «Вторая»"
        assert _one(warehouse, q.format("call_duration", "notes"), [note]) == 22
        # the status change of second s, recorded after the read of second s, is in the history
        assert warehouse.query(
            "select status_before_id, status_after_id from raw_amocrm.events "
            "where type = 'lead_status_changed' and entity_id = ? and created_at = ?",
            [y, s],
        ).rows() == [(moved_from, WON)]
        # and the overlap never doubles a row
        for table in ("leads", "tasks", "companies", "notes", "events"):
            assert warehouse.query(f"select count(*) - count(distinct id) from raw_amocrm.{table}").rows() == [(0,)]
    finally:
        portal.stop()


# --- Bitrix24 ----------------------------------------------------------------------------------
EDITS = {  # entity -> (id key, a text field to edit)
    "deals": ("ID", "TITLE"),
    "leads": ("ID", "TITLE"),
    "companies": ("ID", "TITLE"),
    "activities": ("ID", "SUBJECT"),
    "tasks": ("id", "title"),
}


def test_bitrix24_edits_within_the_second_of_the_last_read_arrive(s_world, warehouse, tmp_path):
    from demo.portal import DemoPortal

    world = tmp_path / "world"
    shutil.copytree(s_world, world)
    portal = DemoPortal(world, rate_limit=None)
    portal.start()
    try:
        pipe = dlt_pipeline("bitrix24_overlap", warehouse, "raw_bitrix24", tmp_path)

        def run() -> None:
            info = pipe.run(bitrix24_source(webhook_url=portal.webhook_url, rate=None, backoff_base=0.01))
            assert not info.has_failed_jobs

        run()
        picked: dict[str, tuple[str, str, str]] = {}  # entity -> (x id, y id, the second of the read)
        for entity, (key, field) in EDITS.items():
            records = portal.records(entity)
            x, y = records[3][key], records[4][key]
            stored = portal.upsert(entity, {key: x, field: "первая правка"})  # stamped a new second
            picked[entity] = (
                x,
                y,
                stored[{"activities": "LAST_UPDATED", "tasks": "changedDate"}.get(entity, "DATE_MODIFY")],
            )
        run()
        for entity, (_key, field) in EDITS.items():
            x = picked[entity][0]
            assert (
                _one(warehouse, f"select {field.lower()} from raw_bitrix24.{entity} where id = ?", [x])
                == "первая правка"
            ), entity

        # Still in that second, after the read: x edited again, y edited for the first time.
        for entity, (key, field) in EDITS.items():
            x, y, second = picked[entity]
            portal.upsert(entity, {key: x, field: "вторая правка"}, modified_at=second)
            portal.upsert(entity, {key: y, field: "правка той же секунды"}, modified_at=second)
        run()
        for entity, (_key, field) in EDITS.items():
            x, y, _ = picked[entity]
            sql = f"select {field.lower()} from raw_bitrix24.{entity} where id = ?"
            assert _one(warehouse, sql, [x]) == "вторая правка", entity
            assert _one(warehouse, sql, [y]) == "правка той же секунды", entity
            assert warehouse.query(f"select count(*) - count(distinct id) from raw_bitrix24.{entity}").rows() == [
                (0,)
            ], entity
    finally:
        portal.stop()


# --- a record edited while a long read pages on --------------------------------------------------
def test_amocrm_a_lead_edited_between_two_pages_of_a_first_load_is_not_skipped(s_world, warehouse, tmp_path):
    """Page numbers in updated_at order would slide the 251st lead onto page 1, already read, when a
    lead of page 1 is edited (it moves to the end); keyset paging asks page 2 from the last time seen."""
    from demo.world import load_world

    portal = AmoCRMPortal(world=load_world(s_world), rate_limit=None)
    assert len(portal.leads) > 250  # more than one page
    first = min(portal.leads.values(), key=lambda lead: (lead["updated_at"], lead["id"]))["id"]
    asked: list[dict] = []

    def edit_between_pages(path: str, query: dict) -> None:
        if path == "/api/v4/leads":
            asked.append(query)
            if len(asked) == 2:  # page 1 was read: a manager edits its first lead now
                portal.update_lead(first, price=424242)

    portal.before_answer = edit_between_pages
    portal.start()
    try:
        pipe = dlt_pipeline("amocrm_paging", warehouse, "raw_amocrm", tmp_path)
        info = pipe.run(
            amocrm_source(
                base_url=portal.base_url, access_token=DEFAULT_TOKEN, max_rps=200, backoff_base=0.01
            ).with_resources("leads")
        )
        assert not info.has_failed_jobs
        assert sorted(i for (i,) in warehouse.query("select id from raw_amocrm.leads").rows()) == sorted(portal.leads)
        assert _one(warehouse, "select price from raw_amocrm.leads where id = ?", [first]) == 424242
        assert all(q.get("page") == "1" for q in asked[:2])  # keyset: each page asked from the last time
    finally:
        portal.stop()


def test_bitrix24_a_deal_edited_behind_a_long_read_is_read_next_time(s_world, warehouse, tmp_path):
    """Pages go by ID: deal A (first page, already read) is edited, then deal B (last page, not yet read)
    a minute later; B's stamp would carry the cursor past A's. The cursor stops at the moment the read
    began, so the next run reads A."""
    from datetime import datetime, timedelta

    from demo.portal import DemoPortal

    world = tmp_path / "world"
    shutil.copytree(s_world, world)
    portal = DemoPortal(world, rate_limit=None)
    deals = portal.records("deals")
    a, b = deals[0]["ID"], deals[-1]["ID"]
    handle, pages = portal.handle, []

    def edit_behind_the_read(path: str, query: str, body: bytes, content_type: str):
        answer = handle(path, query, body, content_type)
        if path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json") == "crm.deal.list":
            pages.append(path)
            if len(pages) == 1:
                now = datetime.now(UTC)
                portal.upsert(
                    "deals", {"ID": a, "TITLE": "правка позади чтения"}, modified_at=now + timedelta(seconds=1)
                )
                portal.upsert("deals", {"ID": b, "TITLE": "правка впереди"}, modified_at=now + timedelta(seconds=70))
        return answer

    portal.handle = edit_behind_the_read
    portal.start()
    try:
        pipe = dlt_pipeline("bitrix24_paging", warehouse, "raw_bitrix24", tmp_path)

        def run() -> None:
            info = pipe.run(
                bitrix24_source(
                    webhook_url=portal.webhook_url, rate=None, backoff_base=0.01, paging="keyset"
                ).with_resources("deals")
            )
            assert not info.has_failed_jobs

        run()
        assert len(pages) > 1
        sql = "select title from raw_bitrix24.deals where id = ?"
        assert _one(warehouse, sql, [b]) == "правка впереди"  # read in this run, on a later page
        run()
        assert _one(warehouse, sql, [a]) == "правка позади чтения"
    finally:
        portal.stop()
