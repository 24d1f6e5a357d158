"""A small hand-made warehouse for the report tests: figures chosen by hand, expectations derived here.

Why a separate module: the browser test and the unit tests of assets/report.py share it, and a
person can build the report from it by hand (`python -m tests.report_world <file.duckdb>`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

# The company's own plan thresholds (dbt vars), not the defaults 80 / 100: the page must show the
# mart's colours and legend, never a copy of the rule (Иванов's 78 % is yellow here, red by default).
RED_BELOW_PCT = 70.0
GREEN_FROM_PCT = 95.0

TODAY = date(2026, 11, 20)  # latest as-of day in the ML tables: the report's "today"
MONTH = date(2026, 11, 1)
PREV_MONTH = date(2026, 10, 1)

# (month, dept_id, dept, manager_id, manager, pipeline_id, pipeline, plan, actual, won)
PLAN_FACT = [
    (MONTH, 1, "Отдел продаж Москва", 11, "Иванов Иван", 0, "Основная", 500_000.0, 450_000.0, 9),
    (MONTH, 1, "Отдел продаж Москва", 11, "Иванов Иван", 1, "Повторные", 100_000.0, 20_000.0, 1),
    (MONTH, 1, "Отдел продаж Москва", 12, "Петрова Анна", 0, "Основная", 400_000.0, 420_000.0, 7),
    (MONTH, 2, "Отдел продаж Казань", 13, "Сидоров Пётр", 0, "Основная", 250_000.0, 150_000.0, 3),
    # last month: must not leak into this month's figures
    (PREV_MONTH, 1, "Отдел продаж Москва", 11, "Иванов Иван", 0, "Основная", 999_000.0, 1_001_000.0, 20),
]

FORECAST = [
    # as_of_day, month, plan, actual_mtd, forecast, low, high, prob, ruler, model, history_days
    (
        date(2026, 11, 19),
        MONTH,
        1_250_000.0,
        1_000_000.0,
        1_280_000.0,
        1_150_000.0,
        1_400_000.0,
        0.55,
        1_578_947.0,
        "prophet",
        600,
    ),
    (TODAY, MONTH, 1_250_000.0, 1_040_000.0, 1_310_000.0, 1_180_000.0, 1_440_000.0, 0.62, 1_560_000.0, "prophet", 601),
]

ANOMALIES = [
    # as_of_day, manager_id, manager_name, score, is_anomaly, top_metric, metric_value, usual_value
    (TODAY, 13, "Сидоров Пётр", 0.91, True, "calls_out", 3.0, 38.0),
    (TODAY, 12, "Петрова Анна", 0.12, False, "won_rub", 60_000.0, 55_000.0),
    (date(2026, 11, 19), 11, "Иванов Иван", 0.88, True, "deals_created", 0.0, 6.0),
]

INSIGHTS = [
    (TODAY, 1, "Сидоров Пётр сделал 3 исходящих звонка вместо обычных 38: поговорите с ним сегодня.", "template"),
    (TODAY, 2, "До плана месяца осталось 210 000 ₽; прогноз выше плана с вероятностью 62 %.", "template"),
    (date(2026, 11, 19), 1, "Вчерашний инсайт, которого сегодня быть не должно.", "template"),
]


@dataclass(frozen=True)
class Expected:
    """What the page must show, computed from the rows above (not by the code under test)."""

    plan_rub: float
    actual_rub: float
    forecast_rub: float
    forecast_low_rub: float
    forecast_high_rub: float
    manager_colour: dict[str, str]


def expected() -> Expected:
    plan: dict[str, float] = {}
    actual: dict[str, float] = {}
    for month, _d, _dn, _m, manager, _p, _pn, p, a, _w in PLAN_FACT:
        if month == MONTH:
            plan[manager] = plan.get(manager, 0.0) + p
            actual[manager] = actual.get(manager, 0.0) + a

    def colour(pct: float) -> str:
        return "red" if pct < RED_BELOW_PCT else "yellow" if pct < GREEN_FROM_PCT else "green"

    latest = [f for f in FORECAST if f[0] == TODAY][0]
    return Expected(
        plan_rub=sum(plan.values()),
        actual_rub=sum(actual.values()),
        forecast_rub=latest[4],
        forecast_low_rub=latest[5],
        forecast_high_rub=latest[6],
        manager_colour={m: colour(actual[m] / plan[m] * 100) for m in plan},
    )


def _scored(plan: float, actual: float) -> tuple[float, str, float]:
    """What dbt's mart says of a plan and an actual: fulfilment %, colour (these thresholds), remaining."""
    pct = round(actual / plan * 100, 2)
    colour = "red" if pct < RED_BELOW_PCT else "yellow" if pct < GREEN_FROM_PCT else "green"
    return pct, colour, max(plan - actual, 0.0)


def build_warehouse(path: Path, with_ml: bool = True) -> Path:
    """Create marts.* (and, if `with_ml`, ml.*) tables in a fresh DuckDB file at `path`."""
    import duckdb

    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts; create schema ml")
        con.execute(
            """create table marts.mart_plan_fact (month date, department_id bigint, department_name text,
            manager_id bigint, manager_name text, pipeline_id bigint, pipeline_name text, plan_rub double,
            actual_rub double, won_count bigint, fulfilment_pct double, colour text, remaining_rub double,
            manager_plan_rub double, manager_actual_rub double, manager_won_count bigint,
            manager_fulfilment_pct double, manager_colour text, manager_remaining_rub double,
            company_plan_rub double, company_actual_rub double, company_fulfilment_pct double,
            company_colour text, company_remaining_rub double, plan_red_below_pct double,
            plan_green_from_pct double)"""
        )
        for row in PLAN_FACT:
            mine = [r for r in PLAN_FACT if r[0] == row[0] and r[3] == row[3]]
            ours = [r for r in PLAN_FACT if r[0] == row[0]]
            mine_plan, mine_actual = sum(r[7] for r in mine), sum(r[8] for r in mine)
            our_plan, our_actual = sum(r[7] for r in ours), sum(r[8] for r in ours)
            con.execute(
                "insert into marts.mart_plan_fact values (" + ", ".join(["?"] * 26) + ")",
                [
                    *row,
                    *_scored(row[7], row[8]),
                    mine_plan,
                    mine_actual,
                    sum(r[9] for r in mine),
                    *_scored(mine_plan, mine_actual),
                    our_plan,
                    our_actual,
                    *_scored(our_plan, our_actual),
                    RED_BELOW_PCT,
                    GREEN_FROM_PCT,
                ],
            )
        con.execute(
            """create table marts.mart_revenue_daily (day date, department_id bigint, department_name text,
            won_rub double, won_count bigint)"""
        )
        for day in range(1, TODAY.day + 1):
            con.execute(
                "insert into marts.mart_revenue_daily values (?, 1, 'Отдел продаж Москва', ?, 1), (?, 2, 'Отдел продаж Казань', ?, 0)",
                [date(2026, 11, day), 40_000.0 + day * 500, date(2026, 11, day), 7_500.0],
            )
        # the other marts the pages read: empty here (the S world's browser test fills them)
        for mart in (
            "mart_same_date",
            "mart_deals",
            "mart_forgotten",
            "mart_missed_calls",
            "mart_call_load_hourly",
            "mart_manager_ranking",
            "mart_manager_daily",
            "mart_funnel_stages",
            "mart_lost_reasons",
            "mart_channel_monthly",
            "mart_reconciliation",
            "mart_open_invoices",
        ):
            con.execute(f"create table marts.{mart} (day date)")
        if with_ml:
            write_ml_tables(con)
    finally:
        con.close()
    return path


def write_ml_tables(con: duckdb.DuckDBPyConnection, today: date = TODAY) -> None:
    """ml.* tables of the rows above, moved so that their latest as-of day is `today`."""
    shift = today - TODAY
    con.execute("create schema if not exists ml")
    con.execute(
        """create table ml.forecast_month_end (as_of_day date, month date, plan_rub double,
        actual_mtd_rub double, forecast_rub double, forecast_low_rub double, forecast_high_rub double,
        prob_reach_plan double, ruler_rub double, model text, history_days bigint)"""
    )
    con.executemany(
        "insert into ml.forecast_month_end values (?,?,?,?,?,?,?,?,?,?,?)",
        [(r[0] + shift, date(today.year, today.month, 1), *r[2:]) for r in FORECAST],
    )
    con.execute(
        """create table ml.manager_anomalies (as_of_day date, manager_id bigint, manager_name text,
        score double, is_anomaly boolean, top_metric text, metric_value double, usual_value double)"""
    )
    con.executemany(
        "insert into ml.manager_anomalies values (?,?,?,?,?,?,?,?)", [(r[0] + shift, *r[1:]) for r in ANOMALIES]
    )
    con.execute("create table ml.insights (as_of_day date, rank bigint, text text, source text)")
    con.executemany("insert into ml.insights values (?,?,?,?)", [(r[0] + shift, *r[1:]) for r in INSIGHTS])


if __name__ == "__main__":
    print(build_warehouse(Path(sys.argv[1])))
