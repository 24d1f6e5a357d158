"""Bitrix24 -> raw_bitrix24 through the demo portal: complete first load, idempotent reruns, exact
increments (new, modified, deleted), error bursts, malformed pages and records, new custom fields,
a full refresh, and a load killed with SIGKILL and rerun (every row exactly once)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dlt
import pytest

from assets.ingest.bitrix24.source import bitrix24_source
from resources.warehouse import Warehouse

S_TODAY = date(2025, 6, 15)
SEED = 7
INCREMENTAL = ("deals", "leads", "activities", "companies", "stage_history_deals", "stage_history_leads", "tasks")
LISTS = INCREMENTAL + ("calls",)  # world entity name == table name
ROOT = Path(__file__).resolve().parents[1]
OVERLAP = 60  # the source's default cursor overlap (INGEST_CURSOR_OVERLAP_SECONDS), seconds
MODIFIED = {
    "deals": "DATE_MODIFY",
    "leads": "DATE_MODIFY",
    "activities": "LAST_UPDATED",
    "companies": "DATE_MODIFY",
    "tasks": "changedDate",
}


@pytest.fixture(scope="module")
def s_world(tmp_path_factory) -> Path:
    from demo.world import ensure_world

    return Path(ensure_world(tmp_path_factory.getbasetemp() / "world_S", "S", S_TODAY, SEED))


def _records(world: Path, entity: str) -> list[dict]:
    return json.loads((world / "bitrix24" / f"{entity}.json").read_text(encoding="utf-8"))


@pytest.fixture
def portal(s_world, tmp_path) -> Iterator:
    """The demo portal serving a private copy of the S world (tests mutate it); no rate limit unless asked."""
    from demo.portal import DemoPortal

    world = tmp_path / "world"
    shutil.copytree(s_world, world)
    p = DemoPortal(world, rate_limit=None)
    p.start()
    try:
        yield p
    finally:
        p.stop()


SALT = "test-salt"


def _source(portal, **kwargs):
    return bitrix24_source(
        webhook_url=portal.webhook_url, **{"rate": None, "backoff_base": 0.01, "phone_hash_salt": SALT, **kwargs}
    )


def _pipeline(tmp_path: Path) -> tuple[dlt.Pipeline, Warehouse]:
    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    pipe = dlt.pipeline(
        pipeline_name="bitrix24",
        destination=wh.dlt_destination(),
        dataset_name="raw_bitrix24",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    return pipe, wh


def _count(wh: Warehouse, table: str, where: str = "") -> int:
    return int(wh.query(f"select count(*) as n from raw_bitrix24.{table} {where}")["n"][0])


def _ids(wh: Warehouse, table: str) -> list[int]:
    return sorted(int(r[0]) for r in wh.query(f"select id from raw_bitrix24.{table}").rows())


def _loaded(pipe: dlt.Pipeline) -> dict[str, int]:
    counts = pipe.last_trace.last_normalize_info.row_counts
    return {t: counts.get(t, 0) for t in INCREMENTAL}


def _overlap(records: list[dict], entity: str) -> set[int]:
    """IDs a run reads again: stamped within the overlap before the newest stamp (the cursor)."""
    field = MODIFIED[entity]
    stamps = {int(r.get("ID", r.get("id"))): datetime.fromisoformat(r[field]) for r in records if r.get(field)}
    cursor = max(stamps.values())
    return {i for i, at in stamps.items() if at >= cursor - timedelta(seconds=OVERLAP)}


def _overlap_counts(portal) -> dict[str, int]:
    """What a rerun with nothing changed loads: the overlap of each modification-time cursor, no more."""
    return {t: len(_overlap(portal.records(t), t)) if t in MODIFIED else 0 for t in INCREMENTAL}


def _quarantine(wh: Warehouse) -> list[tuple]:
    try:
        return wh.query("select source, position, reason, raw from raw_bitrix24.quarantine order by position").rows()
    except Exception:  # no table: nothing was ever quarantined
        return []


def _assert_exactly_the_world(wh: Warehouse, portal) -> None:
    for table in LISTS:
        expected = sorted(int(r.get("ID", r.get("id"))) for r in portal.records(table))
        assert _ids(wh, table) == expected, table


def test_first_load_matches_the_world_and_a_rerun_adds_nothing(portal, s_world, tmp_path):
    pipe, wh = _pipeline(tmp_path)
    pipe.run(_source(portal))

    for table in LISTS + ("users", "departments"):
        assert _count(wh, table) == len(_records(s_world, table)), table
    _assert_exactly_the_world(wh, portal)
    assert _count(wh, "pipelines") == len(_records(s_world, "categories"))
    deal_stages = [s for s in _records(s_world, "statuses") if s["ENTITY_ID"].startswith("DEAL_STAGE")]
    assert _count(wh, "stages") == len(deal_stages)
    assert _count(wh, "users__uf_department") == sum(len(u["UF_DEPARTMENT"]) for u in _records(s_world, "users"))
    assert _count(wh, "deals", "where is_deleted") == 0 and _quarantine(wh) == []
    # lists went through batch: many pages a request
    methods = [m for m, _ in portal.calls]
    assert "batch" in methods and "crm.deal.list" not in methods

    # Money and ids keep Bitrix24's text; the sum of deal amounts per currency matches the file.
    deals = _records(s_world, "deals")
    rub_file = sum(float(d["OPPORTUNITY"]) for d in deals if d["CURRENCY_ID"] == "RUB")
    rub_wh = wh.query("select sum(cast(opportunity as double)) as s from raw_bitrix24.deals where currency_id = 'RUB'")
    assert rub_wh["s"][0] == pytest.approx(rub_file, rel=1e-12)

    # +03:00 timestamps land as the same instants in UTC, in every new table too.
    sample = deals[len(deals) // 2]
    got = wh.query("select date_modify, date_create from raw_bitrix24.deals where id = ?", [sample["ID"]])
    assert got["date_modify"][0].astimezone(UTC) == datetime.fromisoformat(sample["DATE_MODIFY"]).astimezone(UTC)
    assert got["date_create"][0].astimezone(UTC) == datetime.fromisoformat(sample["DATE_CREATE"]).astimezone(UTC)
    call = _records(s_world, "calls")[7]
    got = wh.query(
        "select call_start_date, call_failed_code, phone_number_hash from raw_bitrix24.calls where id = ?", [call["ID"]]
    )
    assert got["call_start_date"][0] == datetime.fromisoformat(call["CALL_START_DATE"])
    assert got["call_failed_code"][0] == call["CALL_FAILED_CODE"]
    # the client's number is hashed on arrival, as the telephony export's is; never stored
    from assets.ingest.telephony.source import hash_phone

    assert got["phone_number_hash"][0] == hash_phone(call["PHONE_NUMBER"], SALT)
    assert "phone_number" not in wh.query("select * from raw_bitrix24.calls limit 1").columns
    task = next(t for t in _records(s_world, "tasks") if t["ufCrmTask"])
    got = wh.query("select deadline, status, responsible_id from raw_bitrix24.tasks where id = ?", [task["id"]])
    assert got.rows() == [(datetime.fromisoformat(task["deadline"]), task["status"], task["responsibleId"])]
    assert _count(wh, "tasks__uf_crm_task") == sum(len(t["ufCrmTask"]) for t in _records(s_world, "tasks"))
    hist = wh.query("select stage_id, type_id from raw_bitrix24.stage_history_deals where id = 1").rows()
    first = _records(s_world, "stage_history_deals")[0]
    assert hist == [(first["STAGE_ID"], first["TYPE_ID"])]

    # Rerun: the cursors hold, only the overlap before each time cursor is fetched again, no row is duplicated.
    pipe.run(_source(portal))
    assert _loaded(pipe) == _overlap_counts(portal)
    for table in LISTS:
        dup = wh.query(f"select count(*) - count(distinct id) as d from raw_bitrix24.{table}")["d"][0]
        assert dup == 0 and _count(wh, table) == len(_records(s_world, table)), table


def test_an_incremental_run_brings_exactly_the_new_the_changed_and_the_deleted(portal, s_world, tmp_path):
    pipe, wh = _pipeline(tmp_path)
    pipe.run(_source(portal))
    before = _count(wh, "deals")
    again = {t: _overlap(portal.records(t), t) for t in MODIFIED}

    changed_id = _records(s_world, "deals")[5]["ID"]
    new_id = _mutate(portal, changed_id)
    gone_deal, gone_lead = _records(s_world, "deals")[9]["ID"], _records(s_world, "leads")[3]["ID"]
    assert portal.delete("deals", gone_deal) and portal.delete("leads", gone_lead)
    template = portal.records("stage_history_deals")[-1]
    portal.upsert("stage_history_deals", {**template, "ID": None, "OWNER_ID": int(new_id), "TYPE_ID": 1})
    task = portal.upsert("tasks", {**portal.records("tasks")[0], "id": None, "status": "2", "title": "Новая задача"})
    company = portal.upsert("companies", {**portal.records("companies")[0], "ID": None, "TITLE": "ООО «Новая»"})

    pipe.run(_source(portal, deletion_scan="always"))
    loaded = _loaded(pipe)
    # the changed, the new, and the deleted deal merged back with its mark; the overlap read again
    assert loaded == {
        "deals": len(again["deals"] | {int(changed_id), int(new_id), int(gone_deal)}),
        "leads": len(again["leads"] | {int(gone_lead)}),
        "activities": len(again["activities"]),
        "companies": len(again["companies"] | {int(company["ID"])}),
        "stage_history_deals": 1,
        "stage_history_leads": 0,
        "tasks": len(again["tasks"] | {int(task["id"])}),
    }
    assert _count(wh, "deals") == before + 1
    got = wh.query(
        "select id, opportunity from raw_bitrix24.deals where id in (?, ?) order by id", [changed_id, new_id]
    )
    assert dict(got.rows()) == {changed_id: "123456.78", new_id: "99000.00"}
    deleted = wh.query(
        "select id, is_deleted, deleted_at is not null, title is not null from raw_bitrix24.deals where is_deleted"
    ).rows()
    assert deleted == [(gone_deal, True, True, True)]  # marked, the rest of the row kept
    assert wh.query("select id from raw_bitrix24.leads where is_deleted").rows() == [(gone_lead,)]
    assert _count(wh, "deals", "where not is_deleted") == len(portal.records("deals"))
    assert task["id"] in {str(i) for i in _ids(wh, "tasks")} and int(company["ID"]) in _ids(wh, "companies")

    # the next scan finds nothing new to mark; a full refresh reloads the portal as it is now
    pipe.run(_source(portal, deletion_scan="always"))
    assert _loaded(pipe)["deals"] == len(_overlap(portal.records("deals"), "deals"))
    assert _count(wh, "deals", "where is_deleted") == 1
    pipe.run(_source(portal).with_resources("deals"), refresh="drop_resources")
    assert _ids(wh, "deals") == sorted(int(d["ID"]) for d in portal.records("deals"))
    assert _count(wh, "deals", "where is_deleted") == 0


def test_an_error_burst_of_429_503_500_and_a_timeout_is_ridden_out(portal, s_world, tmp_path):
    pipe, wh = _pipeline(tmp_path)
    portal.fail_next(1, status=429, error="OPERATION_TIME_LIMIT", description="Method is blocked")
    portal.fail_next(2, status=503, error="QUERY_LIMIT_EXCEEDED")
    portal.fail_next(1, status=500, error="INTERNAL_SERVER_ERROR", description="Internal error")
    portal.fail_next(1, status=200, delay=1.5)  # slower than the read timeout below: a timeout
    pipe.run(_source(portal, read_timeout=0.5).with_resources("users", "deals", "calls", "tasks"))
    for table in ("deals", "calls", "tasks"):
        assert _ids(wh, table) == sorted(int(r.get("ID", r.get("id"))) for r in portal.records(table)), table
    assert _count(wh, "users") == len(_records(s_world, "users"))
    assert len(portal.calls) >= 5 + 4  # every refusal was answered by a retry
    assert _quarantine(wh) == []


def test_a_malformed_page_and_a_malformed_record_are_quarantined_and_the_rest_loads(portal, s_world, tmp_path):
    pipe, wh = _pipeline(tmp_path)
    deals = portal.records("deals")
    bad = deals[120]
    portal.upsert("deals", {"ID": bad["ID"], "DATE_CREATE": "31.02.2025 25:61"}, modified_at=bad["DATE_MODIFY"])
    portal.malform_next(2, method="crm.activity.list")  # the first page, and its one retry
    pipe.run(_source(portal).with_resources("deals", "activities", "leads", "tasks"))

    rows = _quarantine(wh)
    assert len(rows) == 2
    page = next(r for r in rows if "crm.activity.list" in r[1])
    assert page[0] == "bitrix24" and "malformed page" in page[2] and "502" in page[3]
    record = next(r for r in rows if "crm.deal.list" in r[1])
    assert "DATE_CREATE" in record[2] and bad["ID"] in record[3]
    # the rest went on: every other deal; activities after the lost page
    assert _ids(wh, "deals") == sorted(int(d["ID"]) for d in deals if d["ID"] != bad["ID"])
    acts = sorted(int(a["ID"]) for a in portal.records("activities"))
    assert _ids(wh, "activities") == acts[50:]
    for table in ("leads", "tasks"):
        assert _count(wh, table) == len(portal.records(table))


def test_a_new_custom_field_evolves_the_schema(portal, tmp_path):
    pipe, wh = _pipeline(tmp_path)
    pipe.run(_source(portal).with_resources("deals"))
    deal = portal.records("deals")[3]
    portal.upsert("deals", {"ID": deal["ID"], "UF_CRM_DELIVERY_CITY": "Казань"})
    pipe.run(_source(portal).with_resources("deals"))
    got = wh.query("select id, uf_crm_delivery_city from raw_bitrix24.deals where uf_crm_delivery_city is not null")
    assert got.rows() == [(deal["ID"], "Казань")]
    assert _count(wh, "deals") == len(portal.records("deals"))


_CHILD = """
import sys, dlt
from assets.ingest.bitrix24.source import bitrix24_source
from resources.warehouse import Warehouse
url, base = sys.argv[1], sys.argv[2]
wh = Warehouse(url=f"duckdb:///{base}/wh.duckdb")
pipe = dlt.pipeline(pipeline_name="bitrix24", destination=wh.dlt_destination(), dataset_name="raw_bitrix24",
                    pipelines_dir=f"{base}/pipelines")
pipe.run(bitrix24_source(webhook_url=url, rate=4.0, burst=4))
print("finished")
"""


def test_a_load_killed_mid_way_and_rerun_has_every_row_exactly_once(portal, tmp_path):
    portal.rate_limit = (4.0, 4)  # slow enough to be caught in the middle (S world: ~30 requests)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, portal.webhook_url, str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while portal.requests < 12 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child.poll() is None, child.stdout.read().decode()[-2000:]  # still loading: kill it now
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    portal.rate_limit = None
    pipe, wh = _pipeline(tmp_path)
    pipe.run(_source(portal))
    _assert_exactly_the_world(wh, portal)
    for table in LISTS:
        assert _count(wh, table) == len(portal.records(table)), table


def _mutate(portal, changed_id: str) -> str:
    """Add a deal and change another deal's amount through the portal's API; returns the new deal's id."""
    portal.upsert("deals", {"ID": changed_id, "OPPORTUNITY": "123456.78"})
    template = {k: v for k, v in portal.records("deals")[0].items() if k != "ID"}
    return portal.upsert("deals", {**template, "OPPORTUNITY": "99000.00"})["ID"]
