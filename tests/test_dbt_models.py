"""The dbt models turn a small hand-made raw world into the marts' figures a head of sales reads.

The raw tables imitate what dlt loads from Bitrix24 (lower-cased keys, string values, ISO times
as timestamptz), the plan sheet and CBR rates. Every expected figure below is worked out by hand
from that world, and the same build must give the same figures on DuckDB and on PostgreSQL.
"""
from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from resources.warehouse import Warehouse
from tests.support.pg import temporary_database

ROOT = Path(__file__).resolve().parent.parent
DBT_DIR = ROOT / "dbt_project"
DBT = ROOT / ".venv" / "bin" / "dbt"

# --- the hand-made raw world ---------------------------------------------------------------
# Departments 10 and 20 under the company (1); Anna (1) and Vera (3, inactive) sell in 10,
# Boris (2) in 20 (listed in 20 and 10: the first listed is his main department).
# Pipeline 0 ("Общая", not listed by crm.category.list) and 1 ("Тендеры").
# USD rates: Jan 10 100.00, Jan 13 101.50, Jan 31 99.00, Feb 1 98.00, Feb 14 97.00;
# CNY: Feb 3 135.50 for 10 yuan.
RAW_TABLES: dict[str, dict[str, str]] = {
    "raw_bitrix24.departments": {"id": "text", "name": "text", "parent": "text"},
    "raw_bitrix24.users": {"id": "text", "name": "text", "last_name": "text", "active": "boolean"},
    "raw_bitrix24.users__uf_department": {"value": "bigint", "_dlt_list_idx": "bigint"},
    "raw_bitrix24.pipelines": {"id": "bigint", "name": "text", "sort": "bigint"},
    "raw_bitrix24.stages": {
        "entity_id": "text", "status_id": "text", "name": "text", "sort": "text", "semantics": "text",
        "category_id": "text",
    },
    "raw_bitrix24.deals": {
        "id": "text", "title": "text", "category_id": "text", "stage_id": "text", "stage_semantic_id": "text",
        "opportunity": "text", "currency_id": "text", "assigned_by_id": "text", "lead_id": "text",
        "source_id": "text", "closed": "text", "date_create": "timestamptz", "date_modify": "timestamptz",
        "closedate": "timestamptz",
    },
    "raw_bitrix24.leads": {
        "id": "text", "title": "text", "status_id": "text", "source_id": "text", "assigned_by_id": "text",
        "date_create": "timestamptz", "date_modify": "timestamptz",
    },
    "raw_bitrix24.activities": {
        "id": "text", "type_id": "text", "direction": "text", "completed": "text", "responsible_id": "text",
        "owner_type_id": "text", "owner_id": "text", "created": "timestamptz", "start_time": "timestamptz",
        "end_time": "timestamptz", "deadline": "timestamptz",
    },
    "raw_plan.plan": {
        "month": "text", "manager_id": "bigint", "pipeline_id": "bigint", "amount_rub": "numeric(38, 9)",
        "deal_count": "bigint", "bonus_threshold_pct": "numeric(38, 9)", "bonus_rub": "numeric(38, 9)",
    },
    "raw_cbr.rates": {"date": "date", "char_code": "text", "nominal": "bigint", "value": "numeric(38, 9)"},
}

MSK = "+03:00"


def _deal(id_: int, manager: int, pipeline: int, semantic: str, amount: str, currency: str,
          created: str, closed: str | None) -> dict[str, Any]:
    prefix = "" if pipeline == 0 else f"C{pipeline}:"
    stage = {"S": "WON", "F": "LOSE", "P": "NEW"}[semantic]
    return {
        "id": str(id_), "title": f"Сделка {id_}", "category_id": str(pipeline), "stage_id": prefix + stage,
        "stage_semantic_id": semantic, "opportunity": amount, "currency_id": currency,
        "assigned_by_id": str(manager), "lead_id": "1" if id_ == 1 else None, "source_id": "CALL",
        "closed": "Y" if semantic in "SF" else "N", "date_create": created, "date_modify": closed or created,
        # open deals carry the *expected* close date in CLOSEDATE; it must not count as a close
        "closedate": closed or f"2025-03-31T00:00:00{MSK}",
    }


RAW_ROWS: dict[str, list[dict[str, Any]]] = {
    "raw_bitrix24.departments": [
        {"id": "1", "name": "Компания", "parent": None},
        {"id": "10", "name": "Отдел продаж 1", "parent": "1"},
        {"id": "20", "name": "Отдел продаж 2", "parent": "1"},
    ],
    "raw_bitrix24.users": [
        {"id": "1", "name": "Анна", "last_name": "Иванова", "active": True, "_dlt_id": "u1"},
        {"id": "2", "name": "Борис", "last_name": "Петров", "active": True, "_dlt_id": "u2"},
        {"id": "3", "name": "Вера", "last_name": "Сидорова", "active": False, "_dlt_id": "u3"},
    ],
    "raw_bitrix24.users__uf_department": [
        {"value": 10, "_dlt_list_idx": 0, "_dlt_parent_id": "u1"},
        {"value": 20, "_dlt_list_idx": 0, "_dlt_parent_id": "u2"},
        {"value": 10, "_dlt_list_idx": 1, "_dlt_parent_id": "u2"},
        {"value": 10, "_dlt_list_idx": 0, "_dlt_parent_id": "u3"},
    ],
    "raw_bitrix24.pipelines": [{"id": 1, "name": "Тендеры", "sort": 200}],
    "raw_bitrix24.stages": [
        {"entity_id": "DEAL_STAGE", "status_id": "NEW", "name": "Новая", "sort": "10", "semantics": None, "category_id": "0"},
        {"entity_id": "DEAL_STAGE", "status_id": "WON", "name": "Успех", "sort": "60", "semantics": "S", "category_id": "0"},
        {"entity_id": "DEAL_STAGE", "status_id": "LOSE", "name": "Провал", "sort": "70", "semantics": "F", "category_id": "0"},
        {"entity_id": "DEAL_STAGE_1", "status_id": "C1:NEW", "name": "Заявка", "sort": "10", "semantics": None, "category_id": "1"},
        {"entity_id": "DEAL_STAGE_1", "status_id": "C1:WON", "name": "Выигран", "sort": "60", "semantics": "S", "category_id": "1"},
        {"entity_id": "DEAL_STAGE_1", "status_id": "C1:LOSE", "name": "Проигран", "sort": "70", "semantics": "F", "category_id": "1"},
        {"entity_id": "STATUS", "status_id": "NEW", "name": "Не обработан", "sort": "10", "semantics": None, "category_id": None},
        {"entity_id": "SOURCE", "status_id": "CALL", "name": "Звонок", "sort": "10", "semantics": None, "category_id": None},
    ],
    "raw_bitrix24.deals": [
        # Anna, January, pipeline 0: 100 000 RUB + 1 000 USD closed on Sunday Jan 12 (last rate Jan 10: 100)
        _deal(1, 1, 0, "S", "100000.00", "RUB", f"2025-01-10T10:00:00{MSK}", f"2025-01-15T10:00:00{MSK}"),
        _deal(2, 1, 0, "S", "1000", "USD", f"2025-01-05T10:00:00{MSK}", f"2025-01-12T12:00:00{MSK}"),
        # closed 2025-01-31 22:30 UTC = 2025-02-01 01:30 in Moscow: a February sale
        _deal(3, 1, 0, "S", "50000", "RUB", f"2025-01-20T10:00:00{MSK}", "2025-01-31T22:30:00+00:00"),
        # Boris, pipeline 1: 500.50 USD won Feb 14 at 97.00 = 48 548.50; a lost January deal
        _deal(4, 2, 1, "S", "500.50", "USD", f"2025-02-01T10:00:00{MSK}", f"2025-02-14T12:00:00{MSK}"),
        _deal(5, 2, 1, "F", "70000", "RUB", f"2025-01-08T10:00:00{MSK}", f"2025-01-20T12:00:00{MSK}"),
        # open CNY deal created Feb 3: 1 000 yuan at 135.50 / 10 = 13 550.00 RUB
        _deal(6, 2, 0, "P", "1000", "CNY", f"2025-02-03T12:00:00{MSK}", None),
        # Vera (inactive), no plan: 20 000 RUB won Jan 20
        _deal(7, 3, 0, "S", "20000", "RUB", f"2025-01-18T10:00:00{MSK}", f"2025-01-20T15:00:00{MSK}"),
    ],
    "raw_bitrix24.leads": [
        {"id": "1", "title": "Лид 1", "status_id": "CONVERTED", "source_id": "CALL", "assigned_by_id": "1",
         "date_create": f"2025-01-14T09:00:00{MSK}", "date_modify": f"2025-01-14T09:00:00{MSK}"},
        {"id": "2", "title": "Лид 2", "status_id": "NEW", "source_id": "WEB", "assigned_by_id": "1",
         # 21:30 UTC on Jan 14 is 00:30 on Jan 15 in Moscow
         "date_create": "2025-01-14T21:30:00+00:00", "date_modify": "2025-01-14T21:30:00+00:00"},
    ],
    "raw_bitrix24.activities": [
        # Anna's Jan 15 (Moscow): outgoing call 5.5 min, incoming call 2 min, e-mail, meeting,
        # a task done and a task still open; then an outgoing call at 00:30 Moscow on Jan 16.
        {"id": "1", "type_id": "2", "direction": "2", "completed": "Y", "responsible_id": "1", "owner_type_id": "2",
         "owner_id": "1", "created": f"2025-01-15T10:00:00{MSK}", "start_time": f"2025-01-15T10:00:00{MSK}",
         "end_time": f"2025-01-15T10:05:30{MSK}", "deadline": None},
        {"id": "2", "type_id": "2", "direction": "1", "completed": "Y", "responsible_id": "1", "owner_type_id": "1",
         "owner_id": "2", "created": f"2025-01-15T11:00:00{MSK}", "start_time": f"2025-01-15T11:00:00{MSK}",
         "end_time": f"2025-01-15T11:02:00{MSK}", "deadline": None},
        {"id": "3", "type_id": "4", "direction": "2", "completed": "Y", "responsible_id": "1", "owner_type_id": "2",
         "owner_id": "1", "created": f"2025-01-15T12:00:00{MSK}", "start_time": f"2025-01-15T12:00:00{MSK}",
         "end_time": f"2025-01-15T12:00:00{MSK}", "deadline": None},
        {"id": "4", "type_id": "1", "direction": "2", "completed": "Y", "responsible_id": "1", "owner_type_id": "2",
         "owner_id": "1", "created": f"2025-01-14T12:00:00{MSK}", "start_time": f"2025-01-15T14:00:00{MSK}",
         "end_time": f"2025-01-15T15:00:00{MSK}", "deadline": f"2025-01-15T15:00:00{MSK}"},
        {"id": "5", "type_id": "3", "direction": "0", "completed": "Y", "responsible_id": "1", "owner_type_id": "2",
         "owner_id": "1", "created": f"2025-01-15T16:00:00{MSK}", "start_time": f"2025-01-15T16:00:00{MSK}",
         "end_time": f"2025-01-15T17:00:00{MSK}", "deadline": f"2025-01-15T18:00:00{MSK}"},
        {"id": "6", "type_id": "3", "direction": "0", "completed": "N", "responsible_id": "1", "owner_type_id": "2",
         "owner_id": "1", "created": f"2025-01-15T16:30:00{MSK}", "start_time": f"2025-01-15T16:30:00{MSK}",
         "end_time": f"2025-01-16T17:00:00{MSK}", "deadline": f"2025-01-16T18:00:00{MSK}"},
        {"id": "7", "type_id": "2", "direction": "2", "completed": "Y", "responsible_id": "1", "owner_type_id": "2",
         "owner_id": "1", "created": "2025-01-15T21:30:00+00:00", "start_time": "2025-01-15T21:30:00+00:00",
         "end_time": "2025-01-15T21:33:00+00:00", "deadline": None},
    ],
    "raw_plan.plan": [
        {"month": "2025-01", "manager_id": 1, "pipeline_id": 0, "amount_rub": 250000.0},
        {"month": "2025-02", "manager_id": 1, "pipeline_id": 0, "amount_rub": 40000.0},
        {"month": "2025-01", "manager_id": 2, "pipeline_id": 1, "amount_rub": 100000.0},
        {"month": "2025-02", "manager_id": 2, "pipeline_id": 1, "amount_rub": 50000.0},
        {"month": "2025-02", "manager_id": 2, "pipeline_id": 0, "amount_rub": 0.0},
    ],
    "raw_cbr.rates": [
        {"date": date(2025, 1, 10), "char_code": "USD", "nominal": 1, "value": 100.0},
        {"date": date(2025, 1, 13), "char_code": "USD", "nominal": 1, "value": 101.5},
        {"date": date(2025, 1, 31), "char_code": "USD", "nominal": 1, "value": 99.0},
        {"date": date(2025, 2, 1), "char_code": "USD", "nominal": 1, "value": 98.0},
        {"date": date(2025, 2, 14), "char_code": "USD", "nominal": 1, "value": 97.0},
        {"date": date(2025, 2, 3), "char_code": "CNY", "nominal": 10, "value": 135.5},
    ],
}
for row in RAW_ROWS["raw_plan.plan"]:
    row.update(deal_count=2, bonus_threshold_pct=100.0, bonus_rub=10000.0)

# (month, manager, pipeline) -> (plan, actual, won_count, fulfilment %, colour, remaining), by hand:
EXPECTED_PLAN_FACT = {
    # 100 000 + 1 000 USD x 100.00 = 200 000 of 250 000 = 80 % exactly -> yellow, 50 000 to go
    (date(2025, 1, 1), 1, 0): (250000.0, 200000.0, 2, 80.0, "yellow", 50000.0),
    # the deal closed at 01:30 Moscow on Feb 1: 50 000 of 40 000 = 125 % -> green, nothing to go
    (date(2025, 2, 1), 1, 0): (40000.0, 50000.0, 1, 125.0, "green", 0.0),
    # only a lost deal: 0 % -> red
    (date(2025, 1, 1), 2, 1): (100000.0, 0.0, 0, 0.0, "red", 100000.0),
    # 500.50 USD x 97.00 = 48 548.50 of 50 000 = 97.097 % -> yellow, 1 451.50 to go
    (date(2025, 2, 1), 2, 1): (50000.0, 48548.5, 1, 97.1, "yellow", 1451.5),
    # a zero plan has no fulfilment and no colour
    (date(2025, 2, 1), 2, 0): (0.0, 0.0, 0, None, None, 0.0),
    # a sale without a plan line still counts
    (date(2025, 1, 1), 3, 0): (0.0, 20000.0, 1, None, None, 0.0),
}


def create_raw_world(execute: Callable[[str, list[Any] | None], Any], placeholder: str) -> None:
    """Create and fill the raw_* tables with dlt-like names and types through `execute(sql, params)`."""
    for qualified, columns in RAW_TABLES.items():
        schema = qualified.split(".")[0]
        execute(f"create schema if not exists {schema}", None)
        cols = {**columns, "_dlt_load_id": "text", "_dlt_id": "text"}
        if qualified.endswith("__uf_department"):
            cols["_dlt_parent_id"] = "text"
        execute(f"create table {qualified} ({', '.join(f'{c} {t}' for c, t in cols.items())})", None)
        for i, row in enumerate(RAW_ROWS[qualified]):
            values = {c: row.get(c) for c in cols}
            values["_dlt_load_id"] = "1700000000.0"
            values["_dlt_id"] = row.get("_dlt_id") or f"{qualified}-{i}"
            marks = ", ".join([placeholder] * len(values))
            execute(f"insert into {qualified} ({', '.join(values)}) values ({marks})", list(values.values()))


def load_raw_world(warehouse: Warehouse) -> None:
    """Write the raw world into an empty warehouse (DuckDB file or PostgreSQL database)."""
    with warehouse.connect() as con:
        if warehouse.kind == "duckdb":
            create_raw_world(lambda sql, params: con.execute(sql, params or []), "?")
        else:
            cur = con.cursor()
            create_raw_world(lambda sql, params: cur.execute(sql, params), "%s")


def run_dbt_build(warehouse: Warehouse, tmp_path: Path, timezone: str = "Europe/Moscow") -> subprocess.CompletedProcess:
    """`dbt build` the whole project against the warehouse, as a person or CI would."""
    env = {**os.environ, **warehouse.dbt_env(), "COMPANY_TIMEZONE": timezone,
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.run(
        [str(DBT), "build", "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
         "--target-path", str(tmp_path / "dbt_target"), "--log-path", str(tmp_path / "dbt_logs")],
        env=env, capture_output=True, text=True, timeout=300,
    )


def plan_fact(warehouse: Warehouse) -> dict[tuple[date, int, int], tuple]:
    rows = warehouse.query(
        "select month, manager_id, pipeline_id, plan_rub, actual_rub, won_count, fulfilment_pct, colour,"
        " remaining_rub, manager_name, department_name, pipeline_name from marts.mart_plan_fact"
    ).rows(named=True)
    return {(r["month"], r["manager_id"], r["pipeline_id"]): r for r in rows}


def assert_marts_match_the_hand_made_world(warehouse: Warehouse) -> None:
    """Every figure a head of sales sees, against the hand calculation above."""
    got = plan_fact(warehouse)
    assert set(got) == set(EXPECTED_PLAN_FACT)
    for key, (plan, actual, won, pct, colour, remaining) in EXPECTED_PLAN_FACT.items():
        row = got[key]
        assert row["plan_rub"] == pytest.approx(plan), key
        assert row["actual_rub"] == pytest.approx(actual), key
        assert row["won_count"] == won, key
        if pct is None:
            assert row["fulfilment_pct"] is None, key
        else:
            assert row["fulfilment_pct"] == pytest.approx(pct, abs=0.005), key
        assert row["colour"] == colour, key
        assert row["remaining_rub"] == pytest.approx(remaining), key
    anna_jan = got[(date(2025, 1, 1), 1, 0)]
    assert (anna_jan["manager_name"], anna_jan["department_name"], anna_jan["pipeline_name"]) == (
        "Анна Иванова", "Отдел продаж 1", "Общая")
    boris_feb = got[(date(2025, 2, 1), 2, 1)]
    assert (boris_feb["department_name"], boris_feb["pipeline_name"]) == ("Отдел продаж 2", "Тендеры")

    # deals in rubles: last published rate on or before the close day, creation day while open
    deals = {r["deal_id"]: r for r in warehouse.query(
        "select deal_id, amount_rub, closed_day, is_won, is_closed from core.deal").rows(named=True)}
    assert float(deals[2]["amount_rub"]) == pytest.approx(100000.00)   # Sunday close -> Friday's rate
    assert float(deals[4]["amount_rub"]) == pytest.approx(48548.50)
    assert float(deals[6]["amount_rub"]) == pytest.approx(13550.00)    # open CNY deal, nominal 10
    assert deals[3]["closed_day"] == date(2025, 2, 1)
    assert deals[6]["closed_day"] is None and not deals[6]["is_closed"]  # expected close date is no close

    # daily revenue: dense days x staffed departments, Moscow days, sums to all won deals
    daily = warehouse.query(
        "select day, department_id, won_rub, won_count from marts.mart_revenue_daily order by day, department_id")
    assert daily["day"].min() == date(2025, 1, 5) and daily["day"].max() == date(2025, 2, 14)
    assert daily.height == 41 * 2  # Jan 5 .. Feb 14, departments 10 and 20
    by_key = {(r["day"], r["department_id"]): (r["won_rub"], r["won_count"]) for r in daily.rows(named=True)}
    assert by_key[(date(2025, 1, 31), 10)] == (0.0, 0)
    assert by_key[(date(2025, 2, 1), 10)] == (50000.0, 1)
    assert by_key[(date(2025, 1, 20), 10)] == (20000.0, 1)      # Vera's deal stays in her department
    assert by_key[(date(2025, 2, 14), 20)] == pytest.approx((48548.5, 1))
    assert daily["won_rub"].sum() == pytest.approx(100000 + 100000 + 50000 + 48548.5 + 20000)

    # a manager's day
    md = {(r["day"], r["manager_id"]): r for r in warehouse.query(
        "select * from marts.mart_manager_daily").rows(named=True)}
    jan15 = md[(date(2025, 1, 15), 1)]
    assert {k: jan15[k] for k in ("leads_assigned", "deals_created", "won_count", "calls_out", "calls_in",
                                   "emails", "meetings", "tasks_done", "activities_total")} == {
        "leads_assigned": 1, "deals_created": 0, "won_count": 1, "calls_out": 1, "calls_in": 1,
        "emails": 1, "meetings": 1, "tasks_done": 1, "activities_total": 5}
    assert jan15["call_minutes"] == pytest.approx(7.5)
    assert jan15["won_rub"] == pytest.approx(100000.0)
    assert md[(date(2025, 1, 14), 1)]["leads_assigned"] == 1
    assert md[(date(2025, 1, 16), 1)]["calls_out"] == 1 and md[(date(2025, 1, 16), 1)]["call_minutes"] == pytest.approx(3)
    assert md[(date(2025, 2, 10), 1)]["activities_total"] == 0        # a quiet day is a row of zeros
    vera_days = sorted(d for d, m in md if m == 3)                   # inactive: only her own span
    assert vera_days == [date(2025, 1, 18), date(2025, 1, 19), date(2025, 1, 20)]
    assert md[(date(2025, 1, 5), 1)]["deals_created"] == 1


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        yield Warehouse(url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    else:
        with temporary_database(prefix=f"rop_dbt_{uuid.uuid4().hex[:4]}") as url:
            yield Warehouse(url=url)


def test_dbt_build_gives_the_hand_computed_marts(warehouse: Warehouse, tmp_path: Path) -> None:
    load_raw_world(warehouse)
    result = run_dbt_build(warehouse, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "ERROR=0" in result.stdout and "WARN=0" in result.stdout
    assert_marts_match_the_hand_made_world(warehouse)
    for schema in ("staging", "core", "marts"):
        assert warehouse.table_exists(schema, {"staging": "stg_bitrix24__deals", "core": "deal",
                                               "marts": "mart_plan_fact"}[schema])
