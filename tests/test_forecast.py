"""The month-end forecast: right figures on a series whose month is known, no peeking, honest fallbacks.

Expected figures are counted by hand from the synthetic series (weekdays in October 2025 etc.),
never taken from the code under test.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from dagster import materialize

from assets.forecast.assets import forecast_month_end as forecast_asset
from assets.forecast.model import forecast_month_end
from resources.warehouse import Warehouse
from tests.support.pg import temporary_database

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2025, 10, 15)  # a Wednesday; October 2025 has no Russian public holidays
# October 2025: the 1st is a Wednesday -> 23 weekdays; through the 15th: 1-3, 6-10, 13-15 = 11.
OCT_WEEKDAYS, OCT_WEEKDAYS_TO_15 = 23, 11


def weekday_series(start: date, end: date, per_day: float = 100.0, noise: float = 0.0, seed: int = 7) -> pl.DataFrame:
    """`per_day` on Monday-Friday, nothing at weekends (days with no sales are simply absent)."""
    rng = np.random.default_rng(seed)
    days, values = [], []
    d = start
    while d <= end:
        if d.weekday() < 5:
            days.append(d)
            values.append(per_day + (rng.normal(0, noise) if noise else 0.0))
        d += timedelta(days=1)
    return pl.DataFrame({"day": days, "revenue_rub": values})


@pytest.fixture(scope="module")
def steady() -> pl.DataFrame:
    """~22 months of 100 a weekday with a little noise, through the end of October 2025."""
    return weekday_series(date(2024, 1, 1), date(2025, 10, 31), noise=5.0)


def test_forecast_of_a_steady_month_is_near_its_known_total(steady: pl.DataFrame) -> None:
    mtd = float(steady.filter((pl.col("day") >= date(2025, 10, 1)) & (pl.col("day") <= AS_OF))["revenue_rub"].sum())
    # what is known on the 15th: the MTD actual, then 100 on each of the 12 weekdays left
    expected_total = mtd + 100.0 * (OCT_WEEKDAYS - OCT_WEEKDAYS_TO_15)

    f = forecast_month_end(steady, AS_OF, plan_rub=2000.0)

    assert f.model == "prophet+catboost+last_year"  # 22 months: October 2024 is there to compare with
    assert f.month == date(2025, 10, 1)
    assert f.actual_mtd_rub == pytest.approx(mtd, abs=0.01)
    assert f.forecast_rub == pytest.approx(expected_total, rel=0.03)
    assert f.forecast_low_rub <= expected_total <= f.forecast_high_rub
    assert f.forecast_low_rub <= f.forecast_rub <= f.forecast_high_rub
    # the ruler counts weekends as selling days: MTD / 15 × 31, below the true pace here
    assert f.ruler_rub == pytest.approx(mtd / 15 * 31, abs=0.01)
    assert f.history_days == (AS_OF - date(2024, 1, 1)).days + 1
    # 2000 is 300 below a steady month, 3000 is 700 above: near-certain either way
    assert f.prob_reach_plan is not None and f.prob_reach_plan > 0.9
    assert forecast_month_end(steady, AS_OF, plan_rub=3000.0).prob_reach_plan < 0.1


def test_ruler_by_hand_on_an_exact_series() -> None:
    exact = weekday_series(date(2025, 9, 1), date(2025, 10, 31))
    f = forecast_month_end(exact, AS_OF, plan_rub=None)
    assert f.actual_mtd_rub == 100.0 * OCT_WEEKDAYS_TO_15
    assert f.ruler_rub == pytest.approx(1100.0 / 15 * 31, abs=0.01)  # 2273.33
    assert f.prob_reach_plan is None  # no plan, no probability


def test_data_after_the_as_of_day_changes_nothing(steady: pl.DataFrame) -> None:
    cut = steady.filter(pl.col("day") <= AS_OF)
    # the future, had it leaked, would scream: a hundredfold
    poisoned = pl.concat([cut, weekday_series(AS_OF + timedelta(days=1), date(2025, 12, 31), per_day=10_000.0)])
    assert forecast_month_end(poisoned, AS_OF, 2300.0) == forecast_month_end(cut, AS_OF, 2300.0)


def test_short_history_falls_back_to_the_ruler_and_says_so() -> None:
    short = weekday_series(date(2025, 9, 26), AS_OF)  # 20 days of history
    f = forecast_month_end(short, AS_OF, plan_rub=2300.0)
    assert f.history_days == 20
    assert f.model.startswith("ruler")
    assert f.forecast_rub == pytest.approx(1100.0 / 15 * 31, abs=0.01)
    assert f.forecast_rub == f.ruler_rub
    assert f.forecast_low_rub <= f.forecast_rub <= f.forecast_high_rub


def test_a_history_that_stopped_long_ago_forecasts_nothing_more() -> None:
    """A company whose sales ended a year before the as-of day (an old export): no crash, the month
    adds nothing to its (empty) month to date, and the interval is the point."""
    old = weekday_series(date(2023, 1, 2), date(2024, 9, 30))
    f = forecast_month_end(old, AS_OF, plan_rub=1000.0)
    assert f.actual_mtd_rub == 0.0
    assert f.forecast_rub == pytest.approx(0.0, abs=1.0)
    assert f.forecast_low_rub <= f.forecast_rub <= f.forecast_high_rub
    assert f.prob_reach_plan is not None and f.prob_reach_plan < 0.05


def test_last_day_of_month_is_the_actual_total(steady: pl.DataFrame) -> None:
    f = forecast_month_end(steady, date(2025, 10, 31), plan_rub=2000.0)
    october = float(steady.filter(pl.col("day") >= date(2025, 10, 1))["revenue_rub"].sum())
    assert f.forecast_rub == f.forecast_low_rub == f.forecast_high_rub == pytest.approx(october, abs=0.01)
    assert f.prob_reach_plan == 1.0


# --- the Dagster asset on a hand-made warehouse ----------------------------------------------
def _marts(warehouse: Warehouse) -> tuple[float, float]:
    """Revenue in two departments (70 + 30 a weekday since 1 July 2025) and an October plan of 2 500."""
    a = weekday_series(date(2025, 7, 1), date(2025, 11, 30), per_day=70.0)
    b = weekday_series(date(2025, 7, 1), date(2025, 11, 30), per_day=30.0)
    revenue = pl.concat(
        [
            a.select(
                pl.col("day"),
                pl.lit(1).alias("department_id"),
                pl.lit("Опт").alias("department_name"),
                pl.col("revenue_rub").alias("won_rub"),
                pl.lit(1).alias("won_count"),
            ),
            b.select(
                pl.col("day"),
                pl.lit(2).alias("department_id"),
                pl.lit("Розница").alias("department_name"),
                pl.col("revenue_rub").alias("won_rub"),
                pl.lit(1).alias("won_count"),
            ),
        ]
    )
    warehouse.replace_rows("marts", "mart_revenue_daily", revenue, where={})
    plan = pl.DataFrame(
        {
            "month": [date(2025, 10, 1), date(2025, 10, 1), date(2025, 11, 1)],
            "department_id": [1, 2, 1],
            "manager_id": [11, 21, 11],
            "pipeline_id": [0, 0, 0],
            "plan_rub": [1500.0, 1000.0, 9999.0],
            "actual_rub": [0.0, 0.0, 0.0],
        }
    )
    warehouse.replace_rows("marts", "mart_plan_fact", plan, where={})
    return 100.0 * OCT_WEEKDAYS_TO_15, 2500.0


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path):
    if request.param == "duckdb":
        yield Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    else:
        with temporary_database() as url:
            yield Warehouse(url=url)


def test_asset_writes_one_row_per_as_of_day_and_reruns_replace(warehouse: Warehouse) -> None:
    mtd, plan = _marts(warehouse)
    for _ in range(2):  # the second run must replace, not duplicate
        result = materialize([forecast_asset], partition_key=AS_OF.isoformat(), resources={"warehouse": warehouse})
        assert result.success
    rows = warehouse.query("select * from ml.forecast_month_end")
    assert rows.height == 1
    row = rows.row(0, named=True)
    assert row["as_of_day"] == AS_OF and row["month"] == date(2025, 10, 1) and row["scope"] == "company"
    assert row["plan_rub"] == plan
    assert row["actual_mtd_rub"] == pytest.approx(mtd)
    assert row["ruler_rub"] == pytest.approx(mtd / 15 * 31, abs=0.01)
    assert row["forecast_rub"] == pytest.approx(100.0 * OCT_WEEKDAYS, rel=0.05)
    assert row["history_days"] == (AS_OF - date(2025, 7, 1)).days + 1
    assert {
        "as_of_day",
        "month",
        "plan_rub",
        "actual_mtd_rub",
        "forecast_rub",
        "forecast_low_rub",
        "forecast_high_rub",
        "prob_reach_plan",
        "ruler_rub",
        "model",
        "history_days",
    } <= set(rows.columns)
    meta = result.asset_materializations_for_node("forecast_month_end")[0].metadata
    assert meta["plan_rub"].value == plan
    assert meta["forecast_rub"].value == pytest.approx(row["forecast_rub"])
    # the catalog's table metadata: the day's one row, the table's columns in the warehouse's order
    assert meta["dagster/row_count"].value == 1
    assert [c.name for c in meta["dagster/column_schema"].value.columns] == rows.columns


def test_a_range_runs_once_and_writes_each_day(tmp_path) -> None:
    """What `dagster asset materialize --partition-range` does: one run over several as-of days."""
    warehouse = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    _marts(warehouse)
    tags = {"dagster/asset_partition_range_start": "2025-10-13", "dagster/asset_partition_range_end": "2025-10-15"}
    result = materialize([forecast_asset], tags=tags, resources={"warehouse": warehouse})
    assert result.success
    assert len(result.asset_materializations_for_node("forecast_month_end")) == 3
    rows = warehouse.query("select as_of_day, actual_mtd_rub from ml.forecast_month_end order by as_of_day")
    assert rows["as_of_day"].to_list() == [date(2025, 10, 13), date(2025, 10, 14), date(2025, 10, 15)]
    # weekdays through the 13th: 9, 14th: 10, 15th: 11 — each day sees only its own past
    assert rows["actual_mtd_rub"].to_list() == pytest.approx([900.0, 1000.0, 1100.0])


def test_asset_adds_the_open_pipeline_and_learns_its_weights_from_earlier_forecasts(tmp_path) -> None:
    """Revenue 100 a weekday since January; earlier forecasts (written as a backfill would have) made on
    the 15th of March … September: the pipeline model hit each month exactly, Prophet and CatBoost
    missed by different amounts, so the weights go all to the pipeline and the interval closes on it.
    The pipeline on 15 October: deal 30 (500, open since 1 October). On 15 September deal 20 was open
    and won by month end, so an open deal's probability is 1 (every example won). No deal won after
    the 15th was created after it: the new deals' share is 0. Forecast = 1 100 (11 weekdays) + 500."""
    warehouse = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    revenue = weekday_series(date(2025, 1, 1), date(2025, 11, 30)).select(
        pl.col("day"),
        pl.lit(1).alias("department_id"),
        pl.lit("Опт").alias("department_name"),
        pl.col("revenue_rub").alias("won_rub"),
        pl.lit(1).alias("won_count"),
    )
    warehouse.replace_rows("marts", "mart_revenue_daily", revenue, where={})
    plan = pl.DataFrame(
        {
            "month": [date(2025, 10, 1)],
            "department_id": [1],
            "manager_id": [11],
            "pipeline_id": [0],
            "plan_rub": [1500.0],
        }
    )
    warehouse.replace_rows("marts", "mart_plan_fact", plan, where={})
    deals = pl.DataFrame(
        {
            "deal_id": [20, 30, 40],
            "pipeline_id": [1, 1, 1],
            "created_day": [date(2025, 9, 1), date(2025, 10, 1), date(2025, 10, 20)],  # 40: after the day
            "closed_day": [date(2025, 9, 20), None, date(2025, 10, 25)],
            "is_won": [True, False, True],
            "amount_rub": [1000.0, 500.0, 1e9],
            "manager_id": [11, 12, 11],
            "department_id": [1, 2, 1],
        }
    )
    warehouse.replace_rows("marts", "mart_deals", deals, where={})
    stages = pl.DataFrame(
        {
            "deal_id": [20, 30],
            "stage_id": ["A", "A"],
            "entered_day": [date(2025, 9, 1), date(2025, 10, 1)],
            "stage_semantic": ["open", "open"],
        }
    )
    warehouse.replace_rows("intermediate", "stage_history", stages, where={})
    months = [date(2025, m, 1) for m in range(3, 10)]
    weekdays = {m: weekday_series(m, date(m.year, m.month + 1, 1) - timedelta(days=1)).height for m in months}
    to_15 = {m: weekday_series(m, m.replace(day=15)).height for m in months}
    past = pl.DataFrame(
        {
            "as_of_day": [m.replace(day=15) for m in months],
            "month": months,
            "scope": ["company"] * 7,
            "actual_mtd_rub": [100.0 * to_15[m] for m in months],
            "forecast_rub": [100.0 * weekdays[m] for m in months],
            "prophet_rub": [100.0 * weekdays[m] + 10.0 * i * i for i, m in enumerate(months, 1)],
            "catboost_rub": [100.0 * weekdays[m] - 5.0 * i for i, m in enumerate(months, 1)],
            "pipeline_rub": [100.0 * weekdays[m] for m in months],
        }
    )
    warehouse.replace_rows("ml", "forecast_month_end", past, where={})

    result = materialize([forecast_asset], partition_key=AS_OF.isoformat(), resources={"warehouse": warehouse})
    assert result.success
    row = warehouse.query("select * from ml.forecast_month_end where as_of_day = ?", [AS_OF]).row(0, named=True)
    assert row["open_deals"] == 1
    assert row["open_deals_expected_rub"] == pytest.approx(500.0)
    assert row["new_deals_share"] == pytest.approx(0.0)
    assert row["pipeline_rub"] == pytest.approx(1600.0)
    assert row["forecast_rub"] == pytest.approx(1600.0, abs=0.01)
    assert row["forecast_low_rub"] == pytest.approx(1600.0, abs=0.01) == row["forecast_high_rub"]
    assert row["prob_reach_plan"] == 1.0
    assert "learned on 7 months" in row["model"]
    # the earlier months' rows are left as they were
    assert warehouse.query("select count(*) as n from ml.forecast_month_end")["n"][0] == 8
    # the forecast down to deals: deal 30, certain (every earlier example was won); not deal 40 (later)
    expected = warehouse.query("select * from ml.forecast_deals where as_of_day = ?", [AS_OF])
    assert expected.select("deal_id", "stage_id", "age_days", "amount_rub", "probability", "expected_rub").rows() == [
        (30, "A", 14, 500.0, 1.0, 500.0)
    ]
    # with its owner, so a manager's or department's forecast can list its own deals
    assert expected.select("deal_id", "manager_id", "department_id").rows() == [(30, 12, 2)]


@pytest.mark.parametrize(("value", "first"), [(None, "2024-01-01"), ("2014-02-01", "2014-02-01")])
def test_the_first_as_of_day_is_a_setting(value: str | None, first: str) -> None:
    """AS_OF_START_DATE moves the partitions' first day (Superstore's history starts in 2014), so a
    backfill can replay forecasts over any history; unset, it stays 2024-01-01. (A subprocess: the
    partitioning is made when its module is imported.)"""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "AS_OF_START_DATE"}
    if value:
        env["AS_OF_START_DATE"] = value
    probe = "from assets.partitions import as_of_days; print(as_of_days.get_first_partition_key())"
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == first


def test_a_bad_first_as_of_day_names_the_setting() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "AS_OF_START_DATE": "01.02.2014"}
    probe = "import assets.partitions"
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "as_of_start_date" in done.stderr.lower()
