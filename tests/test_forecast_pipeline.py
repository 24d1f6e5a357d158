"""The open pipeline's part and the learned weights, on hand-made worlds whose answers are worked out by hand.

The world (one pipeline, stages A and B, as of 15 October 2025): on the 15th of August and of
September these deals were open, and this is what became of them by their month's end:

    deal  month  stage (entered)   age on the 15th  bucket  won by month end
    1     Aug    A (1 Aug)         14               8-14    yes (20 Aug)
    2     Aug    A (10 Aug)        5                0-7     no  (lost 25 Aug)
    3     Sep    B (5 Sep; A 1 Sep) 10              8-14    no  (won 5 Oct: after September)
    4     Sep    B (10 Sep)        5                0-7     yes (28 Sep)
    8     Sep    B (14 Sep)        1                0-7     yes (30 Sep)

Open on 15 October: deal 5 (A since 1 Oct: 14 days, 1 000 ₽) and deal 6 (B since 12 Oct: 3 days,
2 000 ₽). With 5 pseudo-deals borrowed from the parent at each level:
    all 3/5 = 0.6; pipeline (3 + 5·0.6) / (5 + 5) = 0.6;
    A (1 + 5·0.6) / (2 + 5) = 4/7;  A, 8-14 days (1 + 5·4/7) / (1 + 5) = 9/14;
    B (2 + 5·0.6) / (3 + 5) = 5/8;  B, 0-7 days  (2 + 5·5/8) / (2 + 5) = 41/56;
    expected = 1 000 · 9/14 + 2 000 · 41/56.
Revenue won after the 15th up to month end: August deal 1 (100, created before), September deals
4 (300) and 8 (50), created before, and deal 9 (150), created 20 September: a new deal's share of
150 / 600 = 0.25.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from assets.forecast import calibration
from assets.forecast.model import Parts, combine, forecast_month_end, ruler
from assets.forecast.pipeline import estimate

AS_OF = date(2025, 10, 15)
D = date


def world() -> tuple[pl.DataFrame, pl.DataFrame]:
    deals = pl.DataFrame(
        {
            "deal_id": [1, 2, 3, 4, 8, 9, 5, 6],
            "pipeline_id": [1] * 8,
            "created_day": [
                D(2025, 8, 1),
                D(2025, 8, 10),
                D(2025, 9, 1),
                D(2025, 9, 10),
                D(2025, 9, 14),
                D(2025, 9, 20),
                D(2025, 10, 1),
                D(2025, 10, 10),
            ],
            "closed_day": [
                D(2025, 8, 20),
                D(2025, 8, 25),
                D(2025, 10, 5),
                D(2025, 9, 28),
                D(2025, 9, 30),
                D(2025, 9, 25),
                None,
                None,
            ],
            "is_won": [True, False, True, True, True, True, False, False],
            "amount_rub": [100.0, 70.0, 500.0, 300.0, 50.0, 150.0, 1000.0, 2000.0],
        }
    )
    stages = pl.DataFrame(
        {
            "deal_id": [1, 2, 3, 3, 4, 8, 9, 5, 6],
            "stage_id": ["A", "A", "A", "B", "B", "B", "A", "A", "B"],
            "entered_day": [
                D(2025, 8, 1),
                D(2025, 8, 10),
                D(2025, 9, 1),
                D(2025, 9, 5),
                D(2025, 9, 10),
                D(2025, 9, 14),
                D(2025, 9, 20),
                D(2025, 10, 1),
                D(2025, 10, 12),
            ],
        }
    )
    return deals, stages


def test_probabilities_by_stage_and_age_worked_out_by_hand() -> None:
    deals, stages = world()
    e = estimate(deals, stages, AS_OF)
    assert e.months_learned == 2
    assert e.open_deals == 2 and e.open_rub == 3000.0
    p = dict(zip(e.deals["deal_id"].to_list(), e.deals["probability"].to_list()))
    assert p[5] == pytest.approx(9 / 14)
    assert p[6] == pytest.approx(41 / 56)
    assert e.expected_rub == pytest.approx(1000 * 9 / 14 + 2000 * 41 / 56)
    assert e.new_share == pytest.approx(0.25)


def test_the_pipeline_sees_nothing_after_the_as_of_day() -> None:
    """Deal 5 is won on 20 October and deal 6 moves on to stage C on the 16th; a deal created on
    the 16th is huge. None of it is known on the 15th, so none of it changes the estimate."""
    deals, stages = world()
    later = deals.with_columns(
        pl.when(pl.col("deal_id") == 5).then(D(2025, 10, 20)).otherwise(pl.col("closed_day")).alias("closed_day"),
        pl.when(pl.col("deal_id") == 5).then(True).otherwise(pl.col("is_won")).alias("is_won"),
    )
    later = pl.concat(
        [
            later,
            pl.DataFrame(
                {
                    "deal_id": [10],
                    "pipeline_id": [1],
                    "created_day": [D(2025, 10, 16)],
                    "closed_day": [D(2025, 10, 17)],
                    "is_won": [True],
                    "amount_rub": [1e9],
                }
            ),
        ]
    )
    moved = pl.concat(
        [stages, pl.DataFrame({"deal_id": [6, 10], "stage_id": ["C", "A"], "entered_day": [D(2025, 10, 16)] * 2})]
    )
    before, after = estimate(*world(), AS_OF), estimate(later, moved, AS_OF)
    assert after.expected_rub == before.expected_rub
    assert after.new_share == before.new_share
    assert after.deals.equals(before.deals)


def test_a_crm_without_stage_history_uses_age_since_creation() -> None:
    """Export files keep no history: every deal is in stage "?" since its creation (deal 5: 14 days,
    deal 6: 5 days). Examples: 8-14 days deals 1 (won), 3 (created 1 Sep: 14 days, not by September's
    end); 0-7 days deals 2 (no), 4 (yes), 8 (yes). all 3/5; pipeline 0.6; stage "?" (3 + 3) / (5 + 5)
    = 0.6; 8-14: (1 + 3) / (2 + 5) = 4/7; 0-7: (2 + 3) / (3 + 5) = 5/8."""
    deals, _ = world()
    e = estimate(deals, pl.DataFrame(schema={"deal_id": pl.Int64, "stage_id": pl.Utf8, "entered_day": pl.Date}), AS_OF)
    p = dict(zip(e.deals["deal_id"].to_list(), e.deals["probability"].to_list()))
    assert set(e.deals["stage_id"].to_list()) == {"?"}
    assert p[5] == pytest.approx(4 / 7) and p[6] == pytest.approx(5 / 8)


def test_the_ruler_arithmetic() -> None:
    """Month to date ÷ days elapsed (the as-of day counts) × days in the month, leap February included."""
    assert ruler(1000.0, D(2024, 2, 10)) == pytest.approx(2900.0)  # 1000 / 10 × 29
    assert ruler(1000.0, D(2025, 2, 10)) == pytest.approx(2800.0)  # 1000 / 10 × 28
    assert ruler(620.0, D(2025, 10, 31)) == pytest.approx(620.0)  # the last day: the month itself
    assert ruler(0.0, D(2025, 10, 1)) == 0.0


def _past(months: int, *, day: int = 15) -> pl.DataFrame:
    """Forecasts made on the 15th of earlier months (actual 100 each, 50 by the 15th): the pipeline
    model exact, Prophet over by 10·i², CatBoost under by 5·i, so only the pipeline explains them all."""
    rows = []
    for i in range(1, months + 1):
        month = D(2025, 10 - i, 1)
        rows.append(
            {
                "as_of_day": month.replace(day=day),
                "month": month,
                "actual_mtd_rub": 50.0,
                "prophet_rub": 100.0 + 10.0 * i * i,
                "catboost_rub": 100.0 - 5.0 * i,
                "pipeline_rub": 100.0,
            }
        )
    return pl.DataFrame(rows)


def test_weights_are_learned_from_earlier_months_only() -> None:
    actuals = {D(2025, 10 - i, 1): 100.0 for i in range(1, 8)}
    past = _past(7)
    # the current month's own forecasts (its actual is not known yet) would pull towards Prophet
    current = pl.DataFrame(
        {
            "as_of_day": [D(2025, 10, 14)],
            "month": [D(2025, 10, 1)],
            "actual_mtd_rub": [50.0],
            "prophet_rub": [100.0],
            "catboost_rub": [0.0],
            "pipeline_rub": [0.0],
        }
    )
    cal = calibration.learn(pl.concat([past, current]), {**actuals, D(2025, 10, 1): 100.0}, AS_OF)
    assert cal is not None and cal.months == 7
    assert cal.weights["pipeline"] == pytest.approx(1.0, abs=1e-6)
    assert cal.weights["prophet"] == pytest.approx(0.0, abs=1e-6)
    assert cal.weights["catboost"] == pytest.approx(0.0, abs=1e-6)
    assert np.allclose(cal.errors, 0.0)
    # five months are too few; forecasts made on the 25th say nothing about the 15th
    assert calibration.learn(_past(5), actuals, AS_OF) is None
    assert calibration.learn(_past(7, day=25), actuals, AS_OF) is None


def test_combine_uses_the_learned_weights_and_errors() -> None:
    """Remaining: Prophet 80, CatBoost 40, pipeline 60 (30 expected from open deals + half of the time
    series' 60). Weights 0.25 / 0 / 0.75 → 50 + 20 + 45 = 115. Past errors -10 % … +10 % in steps of
    2 %: mean absolute 0.6 / 11, so a normal sd of 1.2533 × 0.6 / 11 = 0.06836; the 80 % interval is
    115 × (1 ± 1.2816 × 0.06836) and P(120) = P(Z ≥ (120 / 115 - 1) / 0.06836) = P(Z ≥ 0.6360)."""
    from scipy.stats import norm

    from assets.forecast.pipeline import PipelineEstimate

    pipe = PipelineEstimate(
        expected_rub=30.0, open_deals=3, open_rub=90.0, new_share=0.5, months_learned=6, deals=pl.DataFrame()
    )
    parts = Parts(
        as_of_day=AS_OF,
        mtd_rub=50.0,
        history_days=400,
        remaining_days=16,
        prophet_rub=80.0,
        prophet_totals=np.full(10, 80.0),
        catboost_rub=40.0,
        pipeline=pipe,
    )
    errors = np.linspace(-0.1, 0.1, 11)
    cal = calibration.Calibration(weights={"prophet": 0.25, "catboost": 0.0, "pipeline": 0.75}, errors=errors, months=6)
    f = combine(parts, plan_rub=120.0, calibration=cal)
    assert f.forecast_rub == pytest.approx(115.0)
    assert f.pipeline_rub == pytest.approx(110.0) and f.prophet_rub == 130.0 and f.catboost_rub == 90.0
    assert f.open_deals_expected_rub == 30.0 and f.open_deals == 3
    sd = np.sqrt(np.pi / 2) * 0.6 / 11
    assert sd == pytest.approx(0.06836, abs=1e-5)
    assert f.forecast_low_rub == pytest.approx(115.0 * (1 - 1.28155 * sd), rel=1e-3)
    assert f.forecast_high_rub == pytest.approx(115.0 * (1 + 1.28155 * sd), rel=1e-3)
    assert f.prob_reach_plan == pytest.approx(norm.sf((120 / 115 - 1) / sd), abs=2e-3)  # 0.262
    assert "weights learned on 6 months" in f.model


def test_learned_weights_lean_on_the_part_that_was_right_while_few_months_back_them() -> None:
    """Seven months where only the pipeline was right: least squares say pipeline 1. Seven months
    are trusted 7 / (7 + 6); the rest goes to the prior, each part by its inverse mean squared error,
    here also all the pipeline's (its error is 0). A part that was never right keeps ~0."""
    actuals = {D(2025, 10 - i, 1): 100.0 for i in range(1, 8)}
    past = _past(7).with_columns(pl.lit(100.0).alias("last_year_rub"))  # "last year" also exact
    cal = calibration.learn(past, actuals, AS_OF)
    assert cal is not None
    # two exact parts share: least squares may pick either; the prior splits evenly between them
    assert cal.weights["pipeline"] + cal.weights["last_year"] == pytest.approx(1.0, abs=1e-6)
    assert cal.weights["prophet"] == pytest.approx(0.0, abs=1e-6)
    # learning for a forecast that has no pipeline today: the weights are learned without it
    without = calibration.learn(past, actuals, AS_OF, available=["prophet", "catboost", "last_year"])
    assert without is not None and "pipeline" not in without.weights
    assert without.weights["last_year"] == pytest.approx(1.0, abs=1e-6)


def test_forecast_with_deals_stays_blind_to_the_future() -> None:
    """The whole forecast, deals included: poisoning everything after the as-of day changes nothing."""
    deals, stages = world()
    days = [D(2025, 6, 1) + (D(2025, 6, 2) - D(2025, 6, 1)) * i for i in range(140)]
    daily = pl.DataFrame({"day": days, "revenue_rub": [100.0 if d.weekday() < 5 else 0.0 for d in days]})
    cut = daily.filter(pl.col("day") <= AS_OF)
    poisoned = daily.with_columns(
        pl.when(pl.col("day") > AS_OF).then(1e7).otherwise(pl.col("revenue_rub")).alias("revenue_rub")
    )
    later_deals = pl.concat(
        [
            deals,
            pl.DataFrame(
                {
                    "deal_id": [11],
                    "pipeline_id": [1],
                    "created_day": [D(2025, 10, 20)],
                    "closed_day": [D(2025, 10, 21)],
                    "is_won": [True],
                    "amount_rub": [1e9],
                }
            ),
        ]
    )
    a = forecast_month_end(cut, AS_OF, 2300.0, deals=deals.filter(pl.col("created_day") <= AS_OF), stages=stages)
    b = forecast_month_end(poisoned, AS_OF, 2300.0, deals=later_deals, stages=stages)
    assert a == b
    assert a.open_deals == 2 and a.pipeline_rub is not None
