"""The gap to plan and the leads needed to close it, on hand-made worlds whose answers are worked out here.

Pure world (as of 15 October 2025; the 90-day window is 18 July … 15 October inclusive):
won deals: 17 July 1 × 1 000 000 (a day before the window), 18 July 2 × 150, 15 October 3 × 300,
16 October 5 × 99 999 (after the as-of day) -> in the window 1 200 ₽ over 5 deals, average 240 ₽;
leads: 17 July 100, 18 July 10, 15 October 15, 16 October 1 000 -> 25 in the window, 5 / 25 = 0.2 won per lead.
A lead is worth 0.2 × 240 = 48 ₽, so a gap of 2 500 − 2 300 = 200 ₽ needs 200 / 48 = 4.17 leads.
"""

from datetime import date

import polars as pl
import pytest
from dagster import materialize

from assets.forecast.assets import forecast_month_end as forecast_asset
from assets.forecast.leads import LeadEconomics, economics, with_leads
from assets.forecast.model import MonthEndForecast
from resources.warehouse import Warehouse
from tests.test_forecast import AS_OF, _marts

WON = pl.DataFrame(
    {
        "day": [date(2025, 7, 17), date(2025, 7, 18), date(2025, 10, 15), date(2025, 10, 16)],
        "won_rub": [1_000_000.0, 300.0, 900.0, 5 * 99_999.0],
        "won_count": [1, 2, 3, 5],
    }
)
LEADS = pl.DataFrame(
    {
        "day": [date(2025, 7, 17), date(2025, 7, 18), date(2025, 10, 15), date(2025, 10, 16)],
        "leads": [100, 10, 15, 1000],
    }
)


def _forecast(plan: float | None, forecast: float = 2300.0) -> MonthEndForecast:
    return MonthEndForecast(
        as_of_day=AS_OF,
        month=date(2025, 10, 1),
        scope="company",
        plan_rub=plan,
        actual_mtd_rub=1100.0,
        forecast_rub=forecast,
        forecast_low_rub=forecast - 100,
        forecast_high_rub=forecast + 100,
        prob_reach_plan=None,
        ruler_rub=2273.33,
        model="test",
        history_days=107,
    )


def test_the_window_is_the_last_90_days_and_nothing_after() -> None:
    found = economics(WON, LEADS, AS_OF)
    assert found == LeadEconomics(won_rub=1200.0, won_count=5, leads=25)
    assert found.avg_won_deal_rub == 240.0 and found.lead_to_won_rate == 0.2


def test_leads_needed_by_hand() -> None:
    row = with_leads(_forecast(2500.0), economics(WON, LEADS, AS_OF))
    assert row.gap_rub == 200.0
    assert row.avg_won_deal_rub == 240.0 and row.lead_to_won_rate == 0.2
    assert row.leads_needed == pytest.approx(200 / 48, abs=0.05)
    assert row.forecast_rub == 2300.0 and row.plan_rub == 2500.0  # the existing figures are untouched


def test_a_forecast_above_plan_needs_no_lead() -> None:
    row = with_leads(_forecast(2500.0, forecast=2600.0), economics(WON, LEADS, AS_OF))
    assert row.gap_rub == 0.0 and row.leads_needed == 0.0


def test_without_a_plan_there_is_no_gap() -> None:
    row = with_leads(_forecast(None), economics(WON, LEADS, AS_OF))
    assert row.gap_rub is None and row.leads_needed is None


def test_without_leads_the_gap_stays_and_leads_needed_is_unknown() -> None:
    row = with_leads(_forecast(2500.0), economics(WON, None, AS_OF))
    assert row.gap_rub == 200.0 and row.lead_to_won_rate is None and row.leads_needed is None
    # leads but no deal won in the window: the rate is unknown too, not zero (which would divide by zero)
    row = with_leads(_forecast(2500.0), economics(WON.filter(pl.col("day") > AS_OF), LEADS, AS_OF))
    assert row.avg_won_deal_rub is None and row.leads_needed is None


def test_the_asset_writes_the_gap_and_leads_needed(tmp_path) -> None:
    """tests/test_forecast.py's world: 70 + 30 ₽ a weekday, one deal each (2 deals, 50 ₽ average), an October
    plan of 2 500. The 90 days to 15 October hold 10 + 21 + 22 + 11 = 64 weekdays: 128 deals, 6 400 ₽.
    With 4 leads every calendar day (360 in the window) the rate is 128 / 360 and a rouble of gap needs
    1 / 50 / (128 / 360) = 360 / 6 400 leads."""
    warehouse = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    _marts(warehouse)
    days = pl.date_range(date(2025, 7, 1), date(2025, 11, 30), "1d", eager=True)
    channel = pl.DataFrame({"day": days}).with_columns(channel=pl.lit("Яндекс Директ"), leads=pl.lit(4))
    warehouse.replace_rows("marts", "mart_channel", channel, where={})
    result = materialize([forecast_asset], partition_key=AS_OF.isoformat(), resources={"warehouse": warehouse})
    assert result.success
    row = warehouse.query("select * from ml.forecast_month_end").row(0, named=True)
    assert row["avg_won_deal_rub"] == pytest.approx(50.0)
    assert row["lead_to_won_rate"] == pytest.approx(128 / 360, abs=1e-6)
    assert row["gap_rub"] == pytest.approx(max(2500.0 - row["forecast_rub"], 0.0), abs=0.01)
    assert row["gap_rub"] > 0  # ~23 weekdays × 100 = 2 300 forecast: short of plan
    assert row["leads_needed"] == pytest.approx(row["gap_rub"] * 360 / 6400, abs=0.06)
    meta = result.asset_materializations_for_node("forecast_month_end")[0].metadata
    assert meta["leads_needed"].value == pytest.approx(row["leads_needed"])
