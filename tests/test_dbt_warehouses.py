"""The same dbt project gives the same marts on DuckDB and PostgreSQL, and an incremental build the
same marts as a full refresh.

The S demo world goes through the real ingest assets (dlt, the demo Bitrix24 portal, the plan and
CBR files) into a DuckDB file and into a fresh PostgreSQL database; `dbt build` runs on each; then
every table in `marts` is compared row by row (floats to a relative 1e-9).
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from resources.warehouse import Warehouse
from tests.support.dbt import dbt
from tests.support.pg import temporary_database
from tests.test_dbt_models import load_raw_world, run_dbt_build

pytestmark = pytest.mark.slow  # whole graph, browser or PostgreSQL end to end: not in `make test-fast`

S_TODAY = date(2026, 3, 18)
INGEST_SOURCES = ("bitrix24", "plan", "cbr")  # the sources the marts read today


def _ingest_s_world(monkeypatch: pytest.MonkeyPatch, data_dir: Path, warehouse_url: str) -> None:
    """Materialize the S world's ingest assets into the warehouse, as `make run` would."""
    for name in (
        "BITRIX24_WEBHOOK_URL",
        "AMOCRM_BASE_URL",
        "AMOCRM_ACCESS_TOKEN",
        "CRM_EXPORT_DIR",
        "PLAN_FILE",
        "OPENAI_API_KEY",
        "TELEGRAM_BOT_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("DEMO_SIZE", "S")
    monkeypatch.setenv("DEMO_TODAY", S_TODAY.isoformat())
    monkeypatch.setenv("WAREHOUSE_URL", warehouse_url)
    from definitions import build_definitions

    defs = build_definitions()
    selection = dg.AssetSelection.tag("source", INGEST_SOURCES[0])
    for source in INGEST_SOURCES[1:]:
        selection = selection | dg.AssetSelection.tag("source", source)
    ingest = [
        a
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition) and any(spec.tags.get("source") in INGEST_SOURCES for spec in a.specs)
    ]
    result = dg.materialize(ingest, resources=defs.resources, selection=selection)
    assert result.success


def _cell(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _sort_key(row: tuple) -> tuple:
    # exact columns first (ids, days, names, flags), floats last and rounded: a stable order on both
    exact = tuple((v is None, str(v)) for v in row if not isinstance(v, float))
    approx = tuple(
        (v is None, round(v, 4) if v is not None and not math.isnan(v) else 0) for v in row if isinstance(v, float)
    )
    return exact + approx


def mart_rows(warehouse: Warehouse, table: str) -> tuple[list[str], list[tuple]]:
    frame = warehouse.query(f"select * from marts.{table}")
    rows = [tuple(_cell(v) for v in row) for row in frame.rows()]
    return frame.columns, sorted(rows, key=_sort_key)


def mart_tables(warehouse: Warehouse) -> list[str]:
    frame = warehouse.query(
        "select table_name from information_schema.tables where table_schema = 'marts' order by table_name"
    )
    return [r[0] for r in frame.rows()]


def assert_same_rows(table: str, left: tuple[list[str], list[tuple]], right: tuple[list[str], list[tuple]]) -> None:
    """Same columns, same rows; floats equal to a relative 1e-9 (sums may be added in another order)."""
    (lcols, lrows), (rcols, rrows) = left, right
    assert lcols == rcols, table
    assert len(lrows) == len(rrows), table
    for lrow, rrow in zip(lrows, rrows):
        for name, a, b in zip(lcols, lrow, rrow):
            if isinstance(a, float) or isinstance(b, float):
                assert (a is None) == (b is None), (table, name, lrow, rrow)
                if a is not None:
                    assert a == pytest.approx(b, rel=1e-9, abs=1e-6), (table, name, lrow, rrow)
            else:
                assert a == b, (table, name, lrow, rrow)


def assert_same_marts(left: Warehouse, right: Warehouse) -> None:
    tables = mart_tables(left)
    assert tables == mart_tables(right)
    for table in tables:
        assert_same_rows(table, mart_rows(left, table), mart_rows(right, table))


@pytest.fixture(scope="module")
def s_world_warehouses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Warehouse, Warehouse]]:
    tmp = tmp_path_factory.mktemp("s_world")
    with temporary_database(prefix="rop_s") as pg_url, pytest.MonkeyPatch.context() as mp:
        duck = Warehouse(url=f"duckdb:///{tmp / 'warehouse.duckdb'}")
        pg = Warehouse(url=pg_url)
        _ingest_s_world(mp, tmp / "data_duckdb", f"duckdb:///{tmp / 'warehouse.duckdb'}")
        _ingest_s_world(mp, tmp / "data_pg", pg_url)
        for name, warehouse in (("duckdb", duck), ("postgres", pg)):
            result = run_dbt_build(warehouse, tmp / name)
            assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        yield duck, pg


def test_duckdb_and_postgres_give_identical_marts_on_the_s_world(s_world_warehouses) -> None:
    duck, pg = s_world_warehouses
    tables = mart_tables(duck)
    for required in (
        "mart_plan_fact",
        "mart_missed_calls",
        "mart_same_date",
        "mart_revenue_daily",
        "mart_funnel",
        "mart_manager_daily",
        "mart_manager_ranking",
        "mart_channel",
        "mart_deals",
        "mart_forgotten",
        "mart_lost_reasons",
        "mart_reconciliation",
        "mart_alert_facts",
    ):
        assert required in tables
    for table in ("mart_plan_fact", "mart_deals", "mart_manager_daily", "mart_same_date", "mart_alert_facts"):
        assert duck.query(f"select count(*) as n from marts.{table}")["n"][0] > 0, table
    assert_same_marts(duck, pg)


def _dbt(warehouse: Warehouse, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return dbt(warehouse, tmp, *args, timeout=300)


def _snapshot(warehouse: Warehouse) -> dict[str, tuple[list[str], list[tuple]]]:
    return {t: mart_rows(warehouse, t) for t in mart_tables(warehouse)}


INCREMENTAL_TABLES = ("activity", "call", "stage_history")


def intermediate_rows(warehouse: Warehouse, table: str) -> tuple[list[str], list[tuple]]:
    frame = warehouse.query(f"select * from intermediate.{table}")
    rows = [tuple(_cell(v) for v in row) for row in frame.rows()]
    return frame.columns, sorted(rows, key=_sort_key)


def test_incremental_build_gives_the_same_marts_as_a_full_refresh(tmp_path: Path) -> None:
    """New and changed activities, the portal's first telephony statistics and a new stage entry of an
    existing deal arrive in a later dlt load; the incremental activity, call and stage_history models
    merge them, and every mart (and those intermediate tables) equals what a full refresh computes."""
    warehouse = Warehouse(url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    load_raw_world(warehouse)
    first = _dbt(warehouse, tmp_path, "build")
    assert first.returncode == 0, first.stdout[-3000:]
    before = _snapshot(warehouse)

    with warehouse.connect() as con:
        # Anna finishes her open task 6 (dlt's merge replaces the row, with the new load's id) ...
        con.execute("update raw_bitrix24.activities set completed = 'Y', _dlt_load_id = '1700000900.0' where id = '6'")
        # ... and calls Boris's forgotten deal 8 on Feb 12
        con.execute(
            "insert into raw_bitrix24.activities (id, type_id, direction, completed, responsible_id, owner_type_id,"
            " owner_id, created, start_time, end_time, _dlt_load_id, _dlt_id) values ('13', '2', '2', 'Y', '2', '2',"
            " '8', '2025-02-12 10:00:00+03', '2025-02-12 10:00:00+03', '2025-02-12 10:04:00+03', '1700000900.0', 'n13')"
        )
        # the portal's telephony statistics land for the first time: the call source switches from the
        # CRM's call activities to voximplant, and no CRM call may stay behind
        con.execute(
            "create table raw_bitrix24.calls (id text, call_id text, portal_user_id text, crm_entity_type text,"
            " crm_entity_id text, call_type text, call_failed_code text, call_duration text,"
            " phone_number_hash text, call_start_date timestamptz, _dlt_load_id text, _dlt_id text)"
        )
        con.execute(
            "insert into raw_bitrix24.calls values"
            " ('1', 'ext1', '1', 'DEAL', '6', '2', '304', '0', 'h1', '2025-02-10 11:00:00+03', '1700000900.0', 'c1'),"
            " ('2', 'ext2', '2', 'DEAL', '8', '1', '200', '240', 'h2', '2025-02-12 10:00:00+03', '1700000900.0', 'c2')"
        )
        # deal 5 went through Подготовка on Jan 10 (a late entry): its Заявка entry now left on Jan 10
        con.execute(
            "insert into raw_bitrix24.stage_history_deals (id, type_id, owner_id, created_time, category_id,"
            " stage_semantic_id, stage_id, _dlt_load_id, _dlt_id) values ('6', '2', '5', '2025-01-10 10:00:00+03',"
            " '1', 'P', 'C1:PREPARE', '1700000900.0', 's6')"
        )
    incremental = _dbt(warehouse, tmp_path, "build")
    assert incremental.returncode == 0, incremental.stdout[-3000:]
    for model in ("activity", "call", "stage_history"):
        assert f"incremental model intermediate.{model}" in incremental.stdout, model
    after_incremental = _snapshot(warehouse)
    for table in INCREMENTAL_TABLES:
        after_incremental[table] = intermediate_rows(warehouse, table)
    assert warehouse.query("select count(*) as n from intermediate.activity")["n"][0] == 13
    calls = warehouse.query("select call_id from intermediate.call order by call_id")
    assert list(calls["call_id"]) == ["bitrix24_call:1", "bitrix24_call:2"]
    deal5 = warehouse.query(
        "select entry_number, stage_id, left_at from intermediate.stage_history where deal_id = 5 order by entry_number"
    )
    assert list(deal5["stage_id"]) == ["C1:NEW", "C1:PREPARE", "C1:LOSE"]

    refresh = _dbt(warehouse, tmp_path, "build", "--full-refresh")
    assert refresh.returncode == 0, refresh.stdout[-3000:]
    after_refresh = _snapshot(warehouse)
    for table in INCREMENTAL_TABLES:
        after_refresh[table] = intermediate_rows(warehouse, table)

    assert set(after_incremental) == set(after_refresh)
    for table in after_refresh:
        assert_same_rows(table, after_incremental[table], after_refresh[table])
    # and the delta did reach the marts: deal 8 is no longer forgotten, Anna's Jan 15 task counts
    assert after_incremental["mart_forgotten"][1] != before["mart_forgotten"][1]
    forgotten = warehouse.query("select entity_id, is_forgotten from marts.mart_forgotten where entity_type = 'deal'")
    assert dict(forgotten.rows()) == {6: False}  # deal 8: touched, and it still has its open task
    points = warehouse.query(
        "select activity_points from marts.mart_manager_daily where day = '2025-01-15' and manager_id = 1"
    )
    assert points["activity_points"][0] == 12  # 11 + the task now done
