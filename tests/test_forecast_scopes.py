"""The department and manager forecasts: the company's forecast allocated (assets/forecast/scopes.py),
on a hand-made world whose answers are worked out here.

As of 15 October 2025 the company has 500 ₽ month to date and forecasts 1 700 [1 600; 1 900]: 1 200 ₽
still to come, of which its open deals are expected to bring 400 (deal 1 of manager 11 in department 1:
300; deal 2 of manager 21 in department 2: 100) and the rest 800. The 90 days to the 15th (from 18 July)
hold won revenue 600 ₽ for manager 11 (2 deals), 200 for 12 (1 deal), 200 for 21 (2 deals): shares 0.6,
0.2, 0.2. (A 5 000 ₽ win of manager 21 on 1 July and a 9 999 ₽ win of 12 on 20 October fall outside.)
Leads assigned in the window: 10 to manager 11, 5 to 12, none to 21. Plans: 1 200, 300, 400.

manager 11: 300 to date + 300 pipeline + 0.6 × 800 = 1 080; the company's interval is −100/+200 around
  1 200 to come, i.e. ×11/12 and ×14/12 of it: [300 + 715; 300 + 910] = [1 015; 1 210];
  gap 1 200 − 1 080 = 120; a lead is worth 0.2 × 300 = 60 ₽ -> 2 leads;
manager 12: 0 + 0 + 0.2 × 800 = 160; gap 140; a lead is worth (1 / 5) × 200 = 40 ₽ -> 3.5 leads;
manager 21: 200 + 100 + 160 = 460 ≥ 400: no gap, no lead needed;
department 1 (11 and 12): 300 + 300 + 0.8 × 800 = 1 240, plan 1 500, gap 260; 3 deals, 800 ₽, 15 leads:
  a lead is worth 800 / 15 = 53.33 ₽ -> 4.875 leads; department 2 is manager 21.
Each kind of scope adds up to the company's 1 700.
"""

from dataclasses import replace
from datetime import date

import polars as pl
import pytest
from dagster import materialize

from assets.forecast.assets import forecast_month_end as forecast_asset
from assets.forecast.checks import CHECKS
from assets.forecast.model import MonthEndForecast
from assets.forecast.scopes import allocate
from resources.warehouse import Warehouse
from tests.test_forecast import AS_OF, _marts, warehouse  # noqa: F401  (the duckdb / PostgreSQL fixture)
from tests.test_forecast import weekday_series as weekdays

NAMES = {11: ("Иванов", 1, "Опт"), 12: ("Петров", 1, "Опт"), 21: ("Сидорова", 2, "Розница")}


def _company(
    mtd: float = 500.0, forecast: float = 1700.0, low: float = 1600.0, high: float = 1900.0
) -> MonthEndForecast:
    return MonthEndForecast(
        as_of_day=AS_OF,
        month=date(2025, 10, 1),
        scope="company",
        plan_rub=1900.0,
        actual_mtd_rub=mtd,
        forecast_rub=forecast,
        forecast_low_rub=low,
        forecast_high_rub=high,
        prob_reach_plan=None,
        ruler_rub=0.0,
        model="test",
        history_days=400,
    )


def _manager_days() -> pl.DataFrame:
    wins = [  # day, manager, won ₽, won deals, leads assigned
        (date(2025, 7, 1), 21, 5000.0, 1, 0),
        (date(2025, 7, 18), 12, 0.0, 0, 5),
        (date(2025, 8, 1), 11, 300.0, 1, 4),
        (date(2025, 9, 1), 12, 200.0, 1, 0),
        (date(2025, 10, 1), 21, 200.0, 2, 0),
        (date(2025, 10, 10), 11, 300.0, 1, 6),
        (date(2025, 10, 20), 12, 9999.0, 1, 50),
    ]
    return pl.DataFrame(
        [
            {
                "day": d,
                "manager_id": m,
                "manager_name": NAMES[m][0],
                "department_id": NAMES[m][1],
                "department_name": NAMES[m][2],
                "won_rub": rub,
                "won_count": n,
                "leads_assigned": leads,
            }
            for d, m, rub, n, leads in wins
        ]
    )


DEALS = pl.DataFrame(
    {
        "deal_id": [1, 2],
        "expected_rub": [300.0, 100.0],
        "manager_id": [11, 21],
        "department_id": [1, 2],
        "pipeline_id": [1, 2],
    }
)
PLANS = pl.DataFrame(
    {
        "manager_id": [11, 12, 21],
        "department_id": [1, 1, 2],
        "pipeline_id": [1, 1, 2],
        "plan_rub": [1200.0, 300.0, 400.0],
    }
)


def _by_scope(frame: pl.DataFrame) -> dict[tuple[str, int], dict]:
    return {(r["scope_type"], r["scope_id"]): r for r in frame.iter_rows(named=True)}


def test_each_manager_and_department_by_hand() -> None:
    rows = _by_scope(allocate(_company(), DEALS, _manager_days(), PLANS))
    assert set(rows) == {("manager", 11), ("manager", 12), ("manager", 21), ("department", 1), ("department", 2)}
    m11 = rows[("manager", 11)]
    assert (m11["actual_mtd_rub"], m11["open_deals_expected_rub"], m11["new_revenue_rub"]) == (300.0, 300.0, 480.0)
    assert m11["forecast_rub"] == 1080.0
    assert (m11["forecast_low_rub"], m11["forecast_high_rub"]) == (1015.0, 1210.0)
    assert m11["gap_rub"] == 120.0 and m11["leads_needed"] == 2.0
    assert m11["scope_name"] == "Иванов" and m11["department_id"] == 1 and m11["open_deals"] == 1
    # P(plan): a normal through the interval; 1 200 is (1 200 − 1 080) / (195 / 2 / 1.2816) = 1.577 sd above
    assert m11["prob_reach_plan"] == pytest.approx(1 - 0.9426, abs=0.002)
    m12 = rows[("manager", 12)]
    assert m12["forecast_rub"] == 160.0 and m12["gap_rub"] == 140.0 and m12["leads_needed"] == 3.5
    m21 = rows[("manager", 21)]
    assert m21["forecast_rub"] == 460.0 and m21["gap_rub"] == 0.0 and m21["leads_needed"] == 0.0
    d1 = rows[("department", 1)]
    assert d1["forecast_rub"] == 1240.0 and d1["plan_rub"] == 1500.0 and d1["gap_rub"] == 260.0
    assert d1["leads_needed"] == pytest.approx(4.9) and d1["scope_name"] == "Опт"
    assert rows[("department", 2)]["forecast_rub"] == 460.0
    for kind in ("manager", "department"):
        assert sum(r["forecast_rub"] for (k, _), r in rows.items() if k == kind) == pytest.approx(1700.0)


def test_each_pipeline_by_hand() -> None:
    """Pipeline 1 «Продажи» won 300 + 100 + 300 (3 deals; 300 of them in October), pipeline 2 «Тендеры»
    100 + 200 (3 deals; 200 in October): shares 0.7 and 0.3 of the 1 000 won in the window.
    Pipeline 1: 300 + 300 (deal 1) + 0.7 × 800 = 1 160 against a plan of 1 200 + 300: gap 340. Leads are
    not assigned to pipelines: the company's rate (0.25 here) and the pipeline's average deal 700 / 3, so a
    lead is worth 58.33 ₽ -> 5.83 leads. Pipeline 2: 200 + 100 + 240 = 540 ≥ 400: none."""
    wins = [(date(2025, 8, 1), 1, 300.0, 1), (date(2025, 9, 1), 1, 100.0, 1), (date(2025, 10, 10), 1, 300.0, 1)]
    wins += [(date(2025, 9, 15), 2, 100.0, 1), (date(2025, 10, 1), 2, 200.0, 2), (date(2025, 10, 16), 2, 5e6, 9)]
    pipeline_days = pl.DataFrame(
        [
            {"day": d, "pipeline_id": p, "pipeline_name": {1: "Продажи", 2: "Тендеры"}[p], "won_rub": r, "won_count": n}
            for d, p, r, n in wins
        ]
    )
    company = replace(_company(), lead_to_won_rate=0.25)
    rows = _by_scope(allocate(company, DEALS, _manager_days(), PLANS, pipeline_days))
    p1, p2 = rows[("pipeline", 1)], rows[("pipeline", 2)]
    assert (p1["scope_name"], p1["forecast_rub"], p1["plan_rub"], p1["gap_rub"]) == ("Продажи", 1160.0, 1500.0, 340.0)
    assert p1["leads_needed"] == pytest.approx(5.8) and p1["lead_to_won_rate"] == 0.25
    assert (p2["forecast_rub"], p2["gap_rub"], p2["leads_needed"]) == (540.0, 0.0, 0.0)
    assert sum(r["forecast_rub"] for (k, _), r in rows.items() if k == "pipeline") == pytest.approx(1700.0)


def test_a_pipeline_above_what_the_company_expects_is_scaled_down() -> None:
    """The weights put only 300 ₽ still to come, under the 400 the open deals are expected to bring:
    each deal's part × 300 / 400, nothing for deals not yet created."""
    rows = _by_scope(allocate(_company(forecast=800.0, low=700.0, high=900.0), DEALS, _manager_days(), PLANS))
    assert rows[("manager", 11)]["forecast_rub"] == 300.0 + 225.0
    assert rows[("manager", 12)]["forecast_rub"] == 0.0
    assert rows[("manager", 21)]["forecast_rub"] == 200.0 + 75.0
    assert all(r["forecast_low_rub"] <= r["forecast_rub"] <= r["forecast_high_rub"] for r in rows.values())


def test_the_asset_writes_every_department_and_manager_and_their_deals(warehouse: Warehouse) -> None:
    """tests/test_forecast.py's world (70 ₽ a weekday in department 1 by manager 11, 30 in department 2 by
    manager 21, October plans 1 500 and 1 000), no open deal: each scope's month end is its own month to
    date + its 90-day share (0.7 / 0.3) of what the company still expects."""
    _marts(warehouse)
    frames = []
    for manager, per_day in ((11, 70.0), (21, 30.0)):
        name, department, department_name = NAMES[manager]
        frames.append(
            weekdays(date(2025, 7, 1), date(2025, 11, 30), per_day=per_day).select(
                "day",
                pl.lit(manager).alias("manager_id"),
                pl.lit(name).alias("manager_name"),
                pl.lit(department).alias("department_id"),
                pl.col("revenue_rub").alias("won_rub"),
                pl.lit(1).alias("won_count"),
                pl.lit(2).alias("leads_assigned"),
            )
        )
    warehouse.replace_rows("marts", "mart_manager_daily", pl.concat(frames), where={})
    result = materialize([forecast_asset, *CHECKS], partition_key=AS_OF.isoformat(), resources={"warehouse": warehouse})
    assert result.success
    # the checks pass, "every scope present" among them: both departments and managers have October plans
    assert [e.check_name for e in result.get_asset_check_evaluations() if not e.passed] == []
    company = warehouse.query("select * from ml.forecast_month_end").row(0, named=True)
    rows = _by_scope(warehouse.query("select * from ml.forecast_scopes where as_of_day = ?", [AS_OF]))
    assert set(rows) == {("department", 1), ("department", 2), ("manager", 11), ("manager", 21)}
    to_come = company["forecast_rub"] - company["actual_mtd_rub"]
    d1 = rows[("department", 1)]
    assert d1["scope_name"] == "Опт" and d1["plan_rub"] == 1500.0 and rows[("manager", 21)]["plan_rub"] == 1000.0
    assert d1["actual_mtd_rub"] == pytest.approx(70.0 * 11)  # 11 weekdays of October to the 15th
    assert d1["won_share_90d"] == pytest.approx(0.7)
    assert d1["forecast_rub"] == pytest.approx(770.0 + 0.7 * to_come, abs=0.02)
    # 64 weekdays in the window, one 70 ₽ deal and 2 leads each: a lead is worth 35 ₽
    assert d1["leads_needed"] == pytest.approx(max(1500.0 - d1["forecast_rub"], 0) / 35.0, abs=0.06)
    for kind in ("department", "manager"):
        assert sum(r["forecast_rub"] for (k, _), r in rows.items() if k == kind) == pytest.approx(
            company["forecast_rub"], abs=0.05
        )


def test_the_asset_learns_each_departments_interval_from_its_past_months(warehouse: Warehouse) -> None:
    """The world above, with the departments' forecasts of the 15th of July, August and September already
    in ml.forecast_scopes, missing their realised months (mart_manager_daily) by +10 %, −10 %, +10 %
    (department 1) and +40 %, −40 %, +40 % (department 2); no manager has a past forecast.
    By hand (scope_intervals' rules): the departments' mean |error| is 1.5 / 6 = 0.25; scales
    (0.3 + 6 × 0.25) / 9 = 0.2 and (1.2 + 1.5) / 9 = 0.3; shifts 0.1 / 5 = 0.02 and 0.4 / 5 = 0.08. Each
    error less its shift over its scale, both without it: department 1's +0.1: 0.1 / 0.2125 = 0.470588
    (twice), −0.1: (−0.1 − 0.2 / 4) / 0.2125 = −0.705882; department 2's +0.4: 0.4 / 0.2875 = 1.391304
    (twice), −0.4: (−0.4 − 0.8 / 4) / 0.2875 = −2.086957. Six errors: the interval spans the extremes. So
    department 1's is its forecast × [1.02 − 0.2 × 2.086957; 1.02 + 0.2 × 1.391304] = × [0.602609; 1.298261],
    department 2's × [0.453913; 1.497391] but never below its 330 ₽ to date; the managers keep the company's
    interval shared out."""
    _marts(warehouse)
    frames = []
    for manager, per_day in ((11, 70.0), (21, 30.0)):
        name, department, _ = NAMES[manager]
        frames.append(
            weekdays(date(2025, 7, 1), date(2025, 11, 30), per_day=per_day).select(
                "day",
                pl.lit(manager).alias("manager_id"),
                pl.lit(name).alias("manager_name"),
                pl.lit(department).alias("department_id"),
                pl.col("revenue_rub").alias("won_rub"),
                pl.lit(1).alias("won_count"),
                pl.lit(2).alias("leads_assigned"),
            )
        )
    days = pl.concat(frames)
    warehouse.replace_rows("marts", "mart_manager_daily", days, where={})
    months = [date(2025, 7, 1), date(2025, 8, 1), date(2025, 9, 1)]
    past = []
    for department, errors in ((1, (0.1, -0.1, 0.1)), (2, (0.4, -0.4, 0.4))):
        for month, error in zip(months, errors):
            actual = float(
                days.filter((pl.col("department_id") == department) & (pl.col("day").dt.truncate("1mo") == month))[
                    "won_rub"
                ].sum()
            )
            past.append((month.replace(day=15), month, "department", department, actual / (1 + error)))
    warehouse.replace_rows(
        "ml",
        "forecast_scopes",
        pl.DataFrame(past, schema=["as_of_day", "month", "scope_type", "scope_id", "forecast_rub"], orient="row"),
        where={},
    )
    result = materialize([forecast_asset, *CHECKS], partition_key=AS_OF.isoformat(), resources={"warehouse": warehouse})
    assert result.success
    assert [e.check_name for e in result.get_asset_check_evaluations() if not e.passed] == []
    rows = _by_scope(warehouse.query("select * from ml.forecast_scopes where as_of_day = ?", [AS_OF]))
    for department, (low, high) in ((1, (0.602609, 1.298261)), (2, (0.453913, 1.497391))):
        r = rows[("department", department)]
        assert r["forecast_low_rub"] == pytest.approx(max(r["forecast_rub"] * low, r["actual_mtd_rub"]), abs=0.02)
        assert r["forecast_high_rub"] == pytest.approx(r["forecast_rub"] * high, abs=0.02)
        assert r["interval_months"] == 3 and r["interval_method"].startswith("learned")
    assert rows[("department", 2)]["actual_mtd_rub"] == 330.0
    # department 1's plan of 1 500 against its month ending at forecast × (1.02 + 0.2 r) for the six pooled r
    d1 = rows[("department", 1)]
    pooled = [-2.086957, -0.705882, 0.470588, 0.470588, 1.391304, 1.391304]
    reached = sum(d1["forecast_rub"] * (1.02 + 0.2 * r) >= 1500.0 for r in pooled) / 6
    assert d1["prob_reach_plan"] == pytest.approx(reached)
    m11 = rows[("manager", 11)]
    assert m11["interval_months"] == 0 and m11["interval_method"].startswith("the company's")
