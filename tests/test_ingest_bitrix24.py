"""Bitrix24 -> raw_bitrix24 through the demo portal: complete first load, idempotent reruns, exact increments."""
from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path

import dlt
import pytest

from assets.ingest.bitrix24.source import bitrix24_source
from resources.warehouse import Warehouse

S_TODAY = date(2025, 6, 15)
SEED = 7
INCREMENTAL = ("deals", "leads", "activities")


@pytest.fixture(scope="module")
def s_world(tmp_path_factory) -> Path:
    from demo.world import ensure_world

    return Path(ensure_world(tmp_path_factory.getbasetemp() / "world_S", "S", S_TODAY, SEED))


def _records(world: Path, entity: str) -> list[dict]:
    return json.loads((world / "bitrix24" / f"{entity}.json").read_text(encoding="utf-8"))


@pytest.fixture
def portal(s_world, tmp_path) -> Iterator:
    """The demo portal serving a private copy of the S world (tests mutate it)."""
    from demo.portal import DemoPortal

    world = tmp_path / "world"
    shutil.copytree(s_world, world)
    p = DemoPortal(world)
    p.start()
    try:
        yield p
    finally:
        p.stop()


def _pipeline(tmp_path: Path) -> tuple[dlt.Pipeline, Warehouse]:
    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    pipe = dlt.pipeline(pipeline_name="bitrix24", destination=wh.dlt_destination(), dataset_name="raw_bitrix24",
                        pipelines_dir=str(tmp_path / "pipelines"))
    return pipe, wh


def _count(wh: Warehouse, table: str) -> int:
    return int(wh.query(f"select count(*) as n from raw_bitrix24.{table}")["n"][0])


def _loaded(pipe: dlt.Pipeline) -> dict[str, int]:
    counts = pipe.last_trace.last_normalize_info.row_counts
    return {t: counts.get(t, 0) for t in INCREMENTAL}


def test_first_load_matches_the_world_and_a_rerun_adds_nothing(portal, s_world, tmp_path):
    pipe, wh = _pipeline(tmp_path)
    pipe.run(bitrix24_source(webhook_url=portal.webhook_url))

    for table in ("deals", "leads", "activities", "users", "departments"):
        assert _count(wh, table) == len(_records(s_world, table)), table
    assert _count(wh, "pipelines") == len(_records(s_world, "categories"))
    deal_stages = [s for s in _records(s_world, "statuses") if s["ENTITY_ID"].startswith("DEAL_STAGE")]
    assert _count(wh, "stages") == len(deal_stages)
    assert _count(wh, "users__uf_department") == sum(len(u["UF_DEPARTMENT"]) for u in _records(s_world, "users"))

    # Money and ids keep Bitrix24's text; the sum of deal amounts per currency matches the file.
    deals = _records(s_world, "deals")
    rub_file = sum(float(d["OPPORTUNITY"]) for d in deals if d["CURRENCY_ID"] == "RUB")
    rub_wh = wh.query("select sum(cast(opportunity as double)) as s from raw_bitrix24.deals where currency_id = 'RUB'")
    assert rub_wh["s"][0] == pytest.approx(rub_file, rel=1e-12)

    # +03:00 timestamps land as the same instants in UTC.
    sample = deals[len(deals) // 2]
    got = wh.query("select date_modify, date_create from raw_bitrix24.deals where id = ?", [sample["ID"]])
    assert got["date_modify"][0].astimezone(timezone.utc) == datetime.fromisoformat(sample["DATE_MODIFY"]).astimezone(timezone.utc)
    assert got["date_create"][0].astimezone(timezone.utc) == datetime.fromisoformat(sample["DATE_CREATE"]).astimezone(timezone.utc)

    # Rerun: the cursors hold, nothing new is fetched, no row is duplicated.
    pipe.run(bitrix24_source(webhook_url=portal.webhook_url))
    assert _loaded(pipe) == {"deals": 0, "leads": 0, "activities": 0}
    for table in INCREMENTAL:
        dup = wh.query(f"select count(*) - count(distinct id) as d from raw_bitrix24.{table}")["d"][0]
        assert dup == 0 and _count(wh, table) == len(_records(s_world, table)), table


def test_an_incremental_run_brings_exactly_the_new_and_the_changed_deal(portal, s_world, tmp_path):
    pipe, wh = _pipeline(tmp_path)
    pipe.run(bitrix24_source(webhook_url=portal.webhook_url))
    before = _count(wh, "deals")

    changed_id = _records(s_world, "deals")[5]["ID"]
    new_id = _mutate(portal, changed_id)

    pipe.run(bitrix24_source(webhook_url=portal.webhook_url))
    assert _loaded(pipe) == {"deals": 2, "leads": 0, "activities": 0}
    assert _count(wh, "deals") == before + 1
    got = wh.query("select id, opportunity from raw_bitrix24.deals where id in (?, ?) order by id",
                   [changed_id, new_id])
    assert dict(got.rows()) == {changed_id: "123456.78", new_id: "99000.00"}


def test_a_burst_of_503_from_the_portal_is_retried(portal, s_world, tmp_path):
    pipe, wh = _pipeline(tmp_path)
    _fail_next(portal, 3)
    pipe.run(bitrix24_source(webhook_url=portal.webhook_url, backoff_base=0.01).with_resources("users", "departments"))
    assert _count(wh, "users") == len(_records(s_world, "users"))
    assert _count(wh, "departments") == len(_records(s_world, "departments"))
    assert [m for m, _ in portal.calls].count("user.get") == 4  # three refusals, then the answer


def _mutate(portal, changed_id: str) -> str:
    """Add a deal and change another deal's amount through the portal's API; returns the new deal's id."""
    portal.upsert("deals", {"ID": changed_id, "OPPORTUNITY": "123456.78"})
    template = {k: v for k, v in portal.records("deals")[0].items() if k != "ID"}
    return portal.upsert("deals", {**template, "OPPORTUNITY": "99000.00"})["ID"]


def _fail_next(portal, n: int) -> None:
    portal.fail_next(n, status=503, error="QUERY_LIMIT_EXCEEDED")
