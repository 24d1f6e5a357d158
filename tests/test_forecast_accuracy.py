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
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from dagster import materialize

from assets.forecast.accuracy import score
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
