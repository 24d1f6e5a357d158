"""Past forecasts scored against the realised month, by horizon, model beside its parts and the ruler.

The hand-made history: August made 1 000, September 2 000. On the 15th the forecasts said

    month  model (interval)       Prophet  CatBoost  pipeline  ruler
    Aug    1 100 (900 … 1 200)    1 200    900       —         800
    Sep    1 800 (1 850 … 1 950)  2 000    1 500     2 100     2 400

so, worked out by hand: model errors +10 %, -10 % (MAPE 10 %, bias 0, August inside its interval
and September not: coverage 50 %, widths 30 % and 5 %: 17.5 %); Prophet +20 %, 0 (MAPE 10 %,
bias +10 %); CatBoost -10 %, -25 % (17.5 %, -17.5 %); the pipeline only in September, +5 %; the ruler
-20 %, +20 % (MAPE 20 %, bias 0). A forecast made on the 14th (not a horizon), one of October (not
ended on 15 October) and a department's row are not scored.
P(plan): August's plan 1 050 was missed (said 0.3), September's 1 900 reached (said 0.6): Brier
(0.3² + 0.4²) / 2 = 0.125; the base rate (1 of 2 reached) says 0.5 each time: 0.25.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from dagster import materialize

from assets.forecast.accuracy import brier, score, score_scopes
from assets.forecast.assets import forecast_accuracy
from resources.warehouse import Warehouse

AS_OF = date(2025, 10, 15)
AUG, SEP, OCT = date(2025, 8, 1), date(2025, 9, 1), date(2025, 10, 1)


def forecasts() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "as_of_day": [
                date(2025, 8, 15),
                date(2025, 9, 15),
                date(2025, 9, 14),
                date(2025, 10, 5),
                date(2025, 9, 15),
            ],
            "month": [AUG, SEP, SEP, OCT, SEP],
            "scope": ["company", "company", "company", "company", "department:1"],
            "forecast_rub": [1100.0, 1800.0, 5000.0, 5000.0, 5000.0],
            "forecast_low_rub": [900.0, 1850.0, 0.0, 0.0, 0.0],
            "forecast_high_rub": [1200.0, 1950.0, 9e9, 9e9, 9e9],
            "prophet_rub": [1200.0, 2000.0, 5000.0, 5000.0, 5000.0],
            "catboost_rub": [900.0, 1500.0, 5000.0, 5000.0, 5000.0],
            "pipeline_rub": [None, 2100.0, 5000.0, 5000.0, 5000.0],
            "last_year_rub": [None, None, 5000.0, 5000.0, 5000.0],  # no month a year before: not scored
            "ruler_rub": [800.0, 2400.0, 5000.0, 5000.0, 5000.0],
            "plan_rub": [1050.0, 1900.0, 1.0, 1.0, 1.0],
            "prob_reach_plan": [0.3, 0.6, 0.0, 0.0, 0.0],
        }
    )


def by_method(frame: pl.DataFrame, horizon: int = 15) -> dict[str, dict]:
    return {r["method"]: r for r in frame.filter(pl.col("horizon_day") == horizon).iter_rows(named=True)}


def test_each_method_scored_by_hand() -> None:
    got = score(forecasts(), {AUG: 1000.0, SEP: 2000.0, OCT: 100.0}, AS_OF)
    assert set(got["horizon_day"].to_list()) == {15}  # the 14th and October's 5th are not scored
    m = by_method(got)
    assert m["model"]["mape"] == pytest.approx(0.10) and m["model"]["bias"] == pytest.approx(0.0)
    assert m["model"]["interval_coverage"] == pytest.approx(0.5)
    assert m["model"]["interval_width"] == pytest.approx(0.175)
    assert m["model"]["months"] == 2 and (m["model"]["first_month"], m["model"]["last_month"]) == (AUG, SEP)
    assert (m["prophet"]["mape"], m["prophet"]["bias"]) == (pytest.approx(0.10), pytest.approx(0.10))
    assert (m["catboost"]["mape"], m["catboost"]["bias"]) == (pytest.approx(0.175), pytest.approx(-0.175))
    assert m["pipeline"]["months"] == 1 and m["pipeline"]["mape"] == pytest.approx(0.05)
    assert (m["ruler"]["mape"], m["ruler"]["bias"]) == (pytest.approx(0.20), pytest.approx(0.0))
    assert m["ruler"]["interval_coverage"] is None  # the interval is the model's
    assert (m["model"]["plan_months"], m["model"]["brier"]) == (2, pytest.approx(0.125))
    assert m["model"]["brier_base_rate"] == pytest.approx(0.25) and m["ruler"]["brier"] is None
    assert "last_year" not in m


def test_nothing_ended_yet_scores_nothing() -> None:
    assert score(forecasts(), {AUG: 1000.0, SEP: 2000.0}, date(2025, 8, 31)).is_empty()


def test_the_asset_scores_the_table_against_the_revenue_mart(tmp_path) -> None:
    warehouse = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    revenue = pl.DataFrame(
        {
            "day": [date(2025, 8, 1), date(2025, 8, 20), date(2025, 9, 10), date(2025, 10, 2)],
            "department_id": [1, 1, 1, 1],
            "won_rub": [400.0, 600.0, 2000.0, 100.0],
        }
    )
    warehouse.replace_rows("marts", "mart_revenue_daily", revenue, where={})
    warehouse.replace_rows("ml", "forecast_month_end", forecasts(), where={})
    result = materialize([forecast_accuracy], partition_key=AS_OF.isoformat(), resources={"warehouse": warehouse})
    assert result.success
    rows = warehouse.query("select * from ml.forecast_accuracy where as_of_day = ?", [AS_OF])
    m = by_method(rows)
    assert m["model"]["mape"] == pytest.approx(0.10) and m["ruler"]["mape"] == pytest.approx(0.20)
    meta = result.asset_materializations_for_node("forecast_accuracy")[0].metadata
    assert meta["dagster/row_count"].value == rows.height == 5
    assert [c.name for c in meta["dagster/column_schema"].value.columns] == rows.columns
    assert "| 15 | ruler | 2 | 20.0% | +0.0% | — |" in meta["accuracy"].value


def test_the_asset_scores_the_scopes_against_the_manager_mart(tmp_path) -> None:
    """_scope_rows' departments in ml.forecast_scopes, their months' revenue in mart_manager_daily (two
    managers of department 1 in August, 70 + 50; one day in September 160; department 2 50 in August):
    the same figures as scored by hand, in ml.forecast_scope_accuracy."""
    warehouse = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    revenue = pl.DataFrame({"day": [date(2025, 8, 1)], "department_id": [1], "won_rub": [1.0]})
    warehouse.replace_rows("marts", "mart_revenue_daily", revenue, where={})
    warehouse.replace_rows("ml", "forecast_month_end", forecasts(), where={})
    warehouse.replace_rows("ml", "forecast_scopes", _scope_rows(), where={})
    manager_days = pl.DataFrame(
        {
            "day": [date(2025, 8, 4), date(2025, 8, 20), date(2025, 9, 9), date(2025, 8, 5), date(2025, 10, 1)],
            "manager_id": [11, 12, 11, 21, 21],
            "department_id": [1, 1, 1, 2, 2],
            "won_rub": [70.0, 50.0, 160.0, 50.0, 999.0],
        }
    )
    warehouse.replace_rows("marts", "mart_manager_daily", manager_days, where={})
    result = materialize([forecast_accuracy], partition_key=AS_OF.isoformat(), resources={"warehouse": warehouse})
    assert result.success
    rows = warehouse.query("select * from ml.forecast_scope_accuracy where as_of_day = ?", [AS_OF])
    assert rows.height == 1
    r = rows.row(0, named=True)
    assert (r["scope_months"], r["mape"], r["brier"]) == (3, pytest.approx(0.138889, abs=1e-6), pytest.approx(0.14))
    meta = result.asset_materializations_for_node("forecast_accuracy")[0].metadata
    assert "| 15 | department | 3 | 13.9% | 67% | 0.140 (0.222) |" in meta["scope_accuracy"].value


def test_brier_by_hand() -> None:
    """Said 0.9, 0.2, 0.6, 0.5; reached, missed, missed, reached: (0.01 + 0.04 + 0.36 + 0.25) / 4 = 0.165;
    the base rate 0.5: 0.25 each time."""
    assert brier([0.9, 0.2, 0.6, 0.5], [True, False, False, True]) == (pytest.approx(0.165), pytest.approx(0.25))
    assert brier([], []) is None


def _scope_rows() -> pl.DataFrame:
    """Departments 1 and 2 forecast on the 15th of August and September (and on 14 September and 15 October,
    not scored):
        dept 1 Aug: 100 [90; 110], actual 120 (+ under: error −16.7 %, outside), plan 110 said 0.5, reached
        dept 1 Sep: 200 [150; 250], actual 160 (+25 %, inside), plan 170 said 0.4, missed
        dept 2 Aug: 50 [40; 60], actual 50 (0 %, inside), no plan
        dept 2 Sep: 80 [70; 90], no revenue (left out of MAPE; plan 100 said 0.1, missed)
    MAPE (1/6 + 1/4 + 0) / 3 = 0.1389, bias (−1/6 + 1/4 + 0) / 3 = 0.0278, coverage 2 of 3, width
    (20/120 + 100/160 + 20/50) / 3 = 0.3972; Brier (0.25 + 0.16 + 0.01) / 3 = 0.14, base rate 1/3:
    ((2/3)² + (1/3)² + (1/3)²) / 3 = 0.2222."""
    rows = [
        (date(2025, 8, 15), AUG, 1, 110.0, 100.0, 90.0, 110.0, 0.5),
        (date(2025, 9, 15), SEP, 1, 170.0, 200.0, 150.0, 250.0, 0.4),
        (date(2025, 8, 15), AUG, 2, None, 50.0, 40.0, 60.0, None),
        (date(2025, 9, 15), SEP, 2, 100.0, 80.0, 70.0, 90.0, 0.1),
        (date(2025, 9, 14), SEP, 1, 1.0, 9e9, 0.0, 1.0, 1.0),
        (date(2025, 10, 15), OCT, 1, 1.0, 9e9, 0.0, 1.0, 1.0),
    ]
    columns = ["as_of_day", "month", "scope_id", "plan_rub", "forecast_rub", "forecast_low_rub", "forecast_high_rub"]
    return pl.DataFrame(rows, schema=[*columns, "prob_reach_plan"], orient="row").with_columns(
        pl.lit("department").alias("scope_type")
    )


def test_scopes_scored_by_hand() -> None:
    actuals = pl.DataFrame(
        {
            "month": [AUG, SEP, AUG],
            "scope_type": ["department"] * 3,
            "scope_id": [1, 1, 2],
            "actual_rub": [120.0, 160.0, 50.0],
        }
    )
    got = score_scopes(_scope_rows(), actuals, AS_OF)
    assert got.height == 1
    r = got.row(0, named=True)
    assert (r["horizon_day"], r["scope_type"], r["scopes"], r["scope_months"]) == (15, "department", 2, 3)
    assert r["mape"] == pytest.approx(0.138889, abs=1e-6) and r["bias"] == pytest.approx(0.027778, abs=1e-6)
    assert r["interval_coverage"] == pytest.approx(2 / 3) and r["interval_width"] == pytest.approx(0.397222, abs=1e-6)
    assert (r["plan_months"], r["brier"], r["brier_base_rate"]) == (3, pytest.approx(0.14), pytest.approx(2 / 9))
