"""The current week's forecast (assets/forecast/week.py and its asset): right figures on hand-made worlds
whose weeks are known, no peeking, the interval learned from the right earlier weeks.

The world: 100 ₽ on every weekday (Monday-Friday), nothing at weekends. Week 13-19 October 2025
(no Russian holiday): as of Wednesday the 15th, the week to date is 3 × 100 and the two weekdays left
bring 200, so the week is exactly 500; the ruler says 300 ÷ 3 × 5 = 500 too. October 2025 has 23
working days: a month plan of 2 300 is 100 a working day, 500 for the week.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from dagster import materialize

from assets.forecast import week
from assets.forecast.checks import WEEK_CHECKS, week_leakage_problems, week_problems
from assets.forecast.week_asset import forecast_week as week_asset
from resources.warehouse import Warehouse
from tests.test_forecast import AS_OF, _marts, warehouse  # noqa: F401  (the duckdb / PostgreSQL fixture)
from tests.test_forecast import weekday_series as weekdays

MONDAY, SUNDAY = date(2025, 10, 13), date(2025, 10, 19)


def _company(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.lit("company").alias("scope_type"), pl.lit(week.COMPANY_ID).alias("scope_id"))


def _plans(**by_month: float) -> pl.DataFrame:
    months = [date.fromisoformat(m) for m in by_month]
    return pl.DataFrame(
        {
            "month": months,
            "scope_type": ["company"] * len(months),
            "scope_id": [week.COMPANY_ID] * len(months),
            "plan_rub": list(by_month.values()),
        }
    )


STEADY = _company(weekdays(date(2025, 6, 2), date(2025, 11, 30)))


def test_a_steady_week_is_forecast_exactly() -> None:
    row = week.forecast_week(STEADY, AS_OF, _plans(**{"2025-10-01": 2300.0})).row(0, named=True)
    assert (row["week_start"], row["week_end"]) == (MONDAY, SUNDAY)
    assert (row["scope_type"], row["scope_id"]) == ("company", week.COMPANY_ID)
    assert row["actual_wtd_rub"] == 300.0
    assert row["remaining_rub"] == 200.0
    assert row["forecast_rub"] == 500.0
    assert row["ruler_rub"] == 500.0
    assert (row["working_days_elapsed"], row["working_days_in_week"]) == (3, 5)
    # every like day was exactly 100 (or 0 at the weekend): the interval is the point
    assert row["forecast_low_rub"] == row["forecast_high_rub"] == 500.0
    assert row["plan_rub"] == pytest.approx(500.0)
    assert row["prob_reach_plan"] == 1.0 and row["gap_rub"] == 0.0
    assert row["interval_method"] == week.DRAWN


def test_each_day_of_the_week_sees_its_own_past() -> None:
    """Monday knows 100, Friday 500; Saturday and Sunday add nothing: the forecast is 500 all week."""
    rows = [week.forecast_week(STEADY, MONDAY + timedelta(days=i)).row(0, named=True) for i in range(7)]
    assert [r["actual_wtd_rub"] for r in rows] == [100.0, 200.0, 300.0, 400.0, 500.0, 500.0, 500.0]
    assert [r["forecast_rub"] for r in rows] == [500.0] * 7
    assert {r["week_start"] for r in rows} == {MONDAY}


def test_a_plan_is_spread_over_the_working_days_of_both_months_a_week_touches() -> None:
    """Week 29 September - 5 October 2025: Monday 29 and Tuesday 30 are September's (22 working days:
    1-5, 8-12, 15-19, 22-26, 29-30), Wednesday 1 - Friday 3 October's (23). Plans 2 200 and 4 600 are
    100 and 200 a working day: the week's plan is 2 × 100 + 3 × 200 = 800."""
    row = week.forecast_week(STEADY, date(2025, 10, 1), _plans(**{"2025-09-01": 2200.0, "2025-10-01": 4600.0}))
    assert row["plan_rub"][0] == pytest.approx(800.0)
    assert row["gap_rub"][0] == pytest.approx(300.0)  # the week makes 500
    no_september = week.forecast_week(STEADY, date(2025, 10, 1), _plans(**{"2025-10-01": 4600.0}))
    assert no_september["plan_rub"][0] is None and no_september["prob_reach_plan"][0] is None


def test_data_after_the_as_of_day_changes_nothing() -> None:
    cut = STEADY.filter(pl.col("day") <= AS_OF)
    # the rest of the week, had it leaked, would scream: a hundredfold
    poisoned = pl.concat([cut, _company(weekdays(AS_OF + timedelta(days=1), date(2025, 12, 31), per_day=10_000.0))])
    plans = _plans(**{"2025-10-01": 2300.0})
    assert week.forecast_week(poisoned, AS_OF, plans).equals(week.forecast_week(cut, AS_OF, plans))


def test_the_open_deals_expected_by_sunday_join_the_week() -> None:
    """In each of the 26 earlier weeks a 100 ₽ deal of manager 11 was created on Monday, open on
    Wednesday and won on Friday: a deal open on a Wednesday (no stage history: age since creation, 0-7
    days) is won by Sunday every time, P = 1; none of those weeks' revenue after Wednesday came from a
    deal created after it, so the new deals' share is 0. On Wednesday 15 October manager 11's deal 999
    (500 ₽, created on Monday) is open: the company's week is 300 to date + 500; manager 11 (60 a
    weekday) 180 + 500, manager 21 (40) only its 120. Deal 1000, created on Thursday and won on Friday for
    a billion, is after the as-of day and changes nothing."""
    daily = pl.concat(
        [
            STEADY,
            weekdays(date(2025, 6, 2), date(2025, 11, 30), per_day=60.0).with_columns(
                pl.lit("manager").alias("scope_type"), pl.lit(11).alias("scope_id")
            ),
            weekdays(date(2025, 6, 2), date(2025, 11, 30), per_day=40.0).with_columns(
                pl.lit("manager").alias("scope_type"), pl.lit(21).alias("scope_id")
            ),
        ]
    )
    mondays = [MONDAY - timedelta(weeks=k) for k in range(1, 27)]
    deals = pl.DataFrame(
        {
            "deal_id": [*range(1, 27), 999, 1000],
            "pipeline_id": [1] * 28,
            "created_day": [*mondays, MONDAY, AS_OF + timedelta(days=1)],
            "closed_day": [*(m + timedelta(days=4) for m in mondays), None, AS_OF + timedelta(days=2)],
            "is_won": [True] * 26 + [False, True],
            "amount_rub": [100.0] * 26 + [500.0, 1e9],
            "manager_id": [11] * 28,
            "department_id": [1] * 28,
        }
    )
    rows = {
        (r["scope_type"], r["scope_id"]): r for r in week.forecast_week(daily, AS_OF, deals=deals).iter_rows(named=True)
    }
    company, m11, m21 = rows[("company", 0)], rows[("manager", 11)], rows[("manager", 21)]
    assert (company["open_deals"], company["open_deals_expected_rub"], company["new_deals_share"]) == (1, 500.0, 0.0)
    assert company["forecast_rub"] == 800.0 and company["method"] == week.METHOD_PIPELINE
    assert (m11["actual_wtd_rub"], m11["forecast_rub"]) == (180.0, 680.0)
    assert (m21["open_deals"], m21["forecast_rub"]) == (0, 120.0)
    # the rest of the deals' history, had it leaked, would not be there: cut at the day, the same answer
    cut = deals.filter(pl.col("created_day") <= AS_OF)
    assert week.forecast_week(daily, AS_OF, deals=cut).equals(week.forecast_week(daily, AS_OF, deals=deals))


def _past(errors: dict[date, float], as_of_weekday: int = 2, forecast_of: float = 500.0) -> pl.DataFrame:
    """Earlier rows of ml.forecast_week: the forecast of each week (keyed by its Monday) made on
    `as_of_weekday`, set so that the week's actual (500) is `forecast × (1 + error)`."""
    return pl.DataFrame(
        {
            "as_of_day": [m + timedelta(days=as_of_weekday) for m in errors],
            "week_start": list(errors),
            "scope_type": ["company"] * len(errors),
            "scope_id": [week.COMPANY_ID] * len(errors),
            "forecast_rub": [forecast_of / (1 + e) for e in errors.values()],
        }
    )


def test_the_interval_is_learned_from_the_same_weekday_of_ended_weeks_only() -> None:
    """Ten earlier Wednesdays' forecasts each 10 % short of their week's 500 are learned from; Tuesdays'
    forecasts (three times too high), weeks older than MAX_WEEKS and the current week are not.

    By hand, scope_intervals' formulas with ten errors of +0.1 (the company a kind of one): scale
    (1.0 + 6 × 0.1) / (10 + 6) = 0.1; shift 1.0 / (10 + 2) = 0.08333; each error without itself:
    shift 0.9 / 11, scale (0.9 + 0.6) / 15 = 0.1, standardised (0.1 − 0.08182) / 0.1 = 0.18182, so both
    bounds are 0.18182 and the top is 500 × (1 + 0.08333 + 0.1 × 0.18182) = 550.76; the bottom, at the
    same place, is held down to the point."""
    recent = {MONDAY - timedelta(weeks=k): 0.1 for k in range(1, 11)}
    tuesdays = _past({MONDAY - timedelta(weeks=k): -0.75 for k in range(1, 11)}, as_of_weekday=1)
    old = _past({MONDAY - timedelta(weeks=week.MAX_WEEKS + k): 5.0 for k in range(1, 4)})
    current = _past({MONDAY: 5.0})
    past = pl.concat([_past(recent), tuesdays, old, current])
    errors = week.relative_errors(past, week.week_actuals({("company", 0): _values(STEADY)}, AS_OF), AS_OF)
    assert errors.height == 10 and errors["error"].to_list() == pytest.approx([0.1] * 10)

    row = week.forecast_week(STEADY, AS_OF, _plans(**{"2025-10-01": 2300.0 * 1.08}), past).row(0, named=True)
    assert row["interval_method"] == week.LEARNED and row["interval_weeks"] == 10
    assert row["forecast_rub"] == 500.0
    assert row["forecast_low_rub"] == 500.0
    assert row["forecast_high_rub"] == pytest.approx(550.76, abs=0.01)
    # a plan of 540 (8 % above the steady week) is reached in every learned outcome
    assert row["plan_rub"] == pytest.approx(540.0) and row["prob_reach_plan"] == 1.0


def test_a_week_whose_forecast_missed_counts_its_actual_from_the_days_it_saw() -> None:
    """The realised week is the scope's own days of that week; a week with no sale is an actual of 0."""
    values = {date(2025, 10, 6): 50.0, date(2025, 10, 12): 25.0, date(2025, 10, 13): 999.0}
    actuals = week.week_actuals({("manager", 7): values}, AS_OF)
    assert actuals == {("manager", 7, date(2025, 10, 6)): 75.0}  # the current week is not yet an actual
    past = pl.DataFrame(
        {
            "as_of_day": [date(2025, 10, 8), date(2025, 10, 1)],
            "week_start": [date(2025, 10, 6), date(2025, 9, 29)],
            "scope_type": ["manager", "manager"],
            "scope_id": [7, 7],
            "forecast_rub": [100.0, 40.0],
        }
    )
    errors = week.relative_errors(past, actuals, AS_OF)
    assert errors["error"].to_list() == pytest.approx([-1.0, -0.25])  # 29 Sep: nothing sold; 6 Oct: 75 of 100


def _estimates(weeks: dict[date, tuple[float, float, float]], kind: str = "company", weekday: int = 2) -> pl.DataFrame:
    """Earlier rows with the three estimates of each week (keyed by its Monday) made on `weekday`: the
    week to date 300 and (like days, open deals, ruler) as the remaining revenue each foresaw."""
    return pl.DataFrame(
        {
            "as_of_day": [m + timedelta(days=weekday) for m in weeks],
            "week_start": list(weeks),
            "scope_type": [kind] * len(weeks),
            "scope_id": [week.COMPANY_ID if kind == "company" else 7] * len(weeks),
            "forecast_rub": [500.0] * len(weeks),
            "actual_wtd_rub": [300.0] * len(weeks),
            "like_days_rub": [300.0 + e[0] for e in weeks.values()],
            "pipeline_rub": [300.0 + e[1] for e in weeks.values()],
            "ruler_rub": [300.0 + e[2] for e in weeks.values()],
        }
    )


def test_the_weights_between_the_estimates_are_learned_from_the_same_weekday_of_ended_weeks() -> None:
    """Ten earlier Wednesdays, each week 500 (300 to date, 200 to come). Five weeks the like days foresaw
    100 more, the open deals 300, the ruler 1 000; five weeks 150, 250 and 100. Only half and half of the
    first two explains every week (the three equations w_l + w_o + w_r = 1, 100 w_l + 300 w_o + 1000 w_r =
    200, 150 w_l + 250 w_o + 100 w_r = 200 have the one solution 0.5, 0.5, 0).

    By hand, calibration's rule: ten weeks are trusted 10 / (10 + 6) = 0.625, the rest goes by each
    estimate's inverse mean squared error over the usual week of 500: like days (100² + 50²) / 2 / 500²
    = 0.025, open deals the same, ruler (800² + 100²) / 2 / 500² = 1.3, so the prior is 40 : 40 : 10/13,
    i.e. 52/105, 52/105, 1/105; the weights 0.625 × 0.5 + 0.375 × 52/105 = 0.498214 twice and
    0.375 / 105 = 0.003571. Tuesdays' rows, the current week's and weeks older than MAX_WEEKS (all
    absurd) are not read; a manager seen on five Wednesdays only is not learned."""
    first = {MONDAY - timedelta(weeks=k): (100.0, 300.0, 1000.0) for k in range(1, 6)}
    second = {MONDAY - timedelta(weeks=k): (150.0, 250.0, 100.0) for k in range(6, 11)}
    absurd = (1e6, 0.0, 5e5)
    past = pl.concat(
        [
            _estimates(first | second),
            _estimates({MONDAY - timedelta(weeks=k): absurd for k in range(1, 11)}, weekday=1),
            _estimates({MONDAY: absurd}),
            _estimates({MONDAY - timedelta(weeks=week.MAX_WEEKS + k): absurd for k in range(1, 4)}),
            _estimates({MONDAY - timedelta(weeks=k): (0.0, 0.0, 0.0) for k in range(1, 6)}, kind="manager"),
        ]
    )
    actuals = {("company", week.COMPANY_ID, MONDAY - timedelta(weeks=k)): 500.0 for k in range(1, 40)}
    actuals |= {("manager", 7, MONDAY - timedelta(weeks=k)): 500.0 for k in range(1, 6)}
    learned = week.learn_weights(past, actuals, AS_OF)
    assert set(learned) == {"company"} and learned["company"].months == 10
    weights = learned["company"].weights
    assert weights["like_days"] == pytest.approx(0.498214, abs=1e-6)
    assert weights["pipeline"] == pytest.approx(0.498214, abs=1e-6)
    assert weights["ruler"] == pytest.approx(0.003571, abs=1e-6)
    # blended: 300 to date + 0.498214 × 100 + 0.498214 × 300 + 0.003571 × 1 000 = 502.86
    forecast, said = week.blend(300.0, {"like_days": 400.0, "pipeline": 600.0, "ruler": 1300.0}, learned["company"])
    assert forecast == pytest.approx(502.857, abs=1e-3) and said.endswith("(weights learned on 10 weeks)")
    # without the open deals (a CRM export): the like days and the ruler renormalised, 52.3125 : 0.375 (in 105ths)
    alone, _ = week.blend(300.0, {"like_days": 400.0, "ruler": 1300.0}, learned["company"])
    assert alone == pytest.approx(300.0 + (52.3125 * 100 + 0.375 * 1000) / 52.6875, abs=1e-3)


def test_weights_are_not_learned_for_one_estimate_nor_used_without_one_present_today() -> None:
    """A table written before the estimates were kept knows only the ruler: one estimate is not weighed
    (it would be the forecast by a weight of 1 learned from nothing). Weights learned before the deals were
    read do not know the open deals' estimate: today's forecast is that estimate, as before the weights."""
    weeks = {MONDAY - timedelta(weeks=k): (100.0, 300.0, 1000.0) for k in range(1, 11)}
    actuals = {("company", week.COMPANY_ID, m): 500.0 for m in weeks}
    ruler_only = _estimates(weeks).with_columns(
        pl.lit(None, dtype=pl.Float64).alias(c) for c in ("like_days_rub", "pipeline_rub")
    )
    assert week.learn_weights(ruler_only, actuals, AS_OF) == {}
    no_deals = week.learn_weights(_estimates(weeks).with_columns(pipeline_rub=None), actuals, AS_OF)["company"]
    assert set(no_deals.weights) == {"like_days", "ruler"}
    today = {"like_days": 400.0, "pipeline": 600.0, "ruler": 1300.0}
    assert week.blend(300.0, today, no_deals) == (600.0, "pipeline")


def test_the_forecast_follows_the_estimate_that_was_right_in_earlier_weeks() -> None:
    """In ten earlier weeks the ruler foresaw each Wednesday exactly the 200 still to come, the like days
    100 and 150, the open deals 300 and 350 (one solution: the ruler alone, and its squared error 0 makes
    the prior all ruler too). This week sold 200 a day Monday to Wednesday: the ruler says 600 ÷ 3 × 5 =
    1 000, the like days 600 + 2 × 100 = 800. Without those weeks the like days' 800 stands; with them, 1 000."""
    hot = STEADY.with_columns(
        pl.when(pl.col("day").is_between(MONDAY, AS_OF))
        .then(200.0)
        .otherwise(pl.col("revenue_rub"))
        .alias("revenue_rub")
    )
    weeks = {
        MONDAY - timedelta(weeks=k): (100.0 if k % 2 else 150.0, 300.0 if k % 2 else 350.0, 200.0) for k in range(1, 11)
    }
    before = week.forecast_week(hot, AS_OF).row(0, named=True)
    assert (before["forecast_rub"], before["like_days_rub"], before["ruler_rub"]) == (800.0, 800.0, 1000.0)
    assert before["method"] == week.METHOD
    row = week.forecast_week(hot, AS_OF, past=_estimates(weeks)).row(0, named=True)
    assert row["forecast_rub"] == 1000.0 and row["remaining_rub"] == 400.0
    assert row["method"].startswith(week.BLENDED) and "ruler 1.00" in row["method"]


def test_the_weekly_ruler_by_hand() -> None:
    holidays: set[date] = set()
    assert week.week_ruler(300.0, AS_OF, holidays) == 500.0  # 300 ÷ 3 working days × 5
    assert week.week_ruler(300.0, AS_OF, {MONDAY}) == pytest.approx(300.0 / 2 * 4)
    # no working day yet (a week opening with holidays): calendar days, 70 ÷ 2 × 7
    assert week.week_ruler(70.0, MONDAY + timedelta(days=1), {MONDAY, MONDAY + timedelta(days=1)}) == 245.0


def test_the_check_names_an_interval_that_misses_its_point() -> None:
    good = week.forecast_week(STEADY, AS_OF, _plans(**{"2025-10-01": 2300.0}))
    assert week_problems(good) == []
    bad = good.with_columns(pl.lit(400.0).alias("forecast_high_rub"))
    assert len(week_problems(bad)) == 1 and "вне интервала" in week_problems(bad)[0]
    below = good.with_columns(pl.lit(100.0).alias("forecast_low_rub"))
    assert "меньше факта" in week_problems(below)[0]


def test_the_check_names_a_week_to_date_that_counted_a_later_day() -> None:
    good = week.forecast_week(STEADY, AS_OF)
    assert week_leakage_problems(good, STEADY) == []
    # had the forecast counted Thursday the 16th, its week to date would be 400, the mart's through Wednesday 300
    leaked = good.with_columns(pl.lit(400.0).alias("actual_wtd_rub"))
    assert week_leakage_problems(leaked, STEADY) == [
        "2025-10-15: выручка с начала недели 400.0, а в витрине по этот день 300.00"
    ]


def _values(frame: pl.DataFrame) -> dict[date, float]:
    return dict(zip(frame["day"].to_list(), frame["revenue_rub"].to_list()))


# --- the Dagster asset on a hand-made warehouse ----------------------------------------------------
def test_asset_writes_the_company_and_each_department_and_manager(warehouse: Warehouse) -> None:  # noqa: F811
    """_marts: departments 1 (70 a weekday) and 2 (30) since July, October plans 1 500 and 1 000 (2 500
    for the company: 2 500 ÷ 23 × 5 = 543.48 for the week). Managers 11 and 21 sell their department's.
    The deals mart holds one open deal and no history, so the open deals add nothing yet."""
    _marts(warehouse)
    managers = pl.concat(
        [
            weekdays(date(2025, 7, 1), date(2025, 11, 30), per_day=rub).select(
                "day",
                pl.lit(manager).alias("manager_id"),
                pl.lit(name).alias("manager_name"),
                pl.lit(department).alias("department_id"),
                pl.col("revenue_rub").alias("won_rub"),
            )
            for manager, name, department, rub in ((11, "Иванов", 1, 70.0), (21, "Сидорова", 2, 30.0))
        ]
    )
    warehouse.replace_rows("marts", "mart_manager_daily", managers, where={})
    # one deal open since Monday; no earlier week had a deal open, so nothing teaches it a chance yet
    deal = pl.DataFrame(
        {
            "deal_id": [1],
            "pipeline_id": [1],
            "pipeline_name": ["Опт"],
            "created_day": [MONDAY],
            "closed_day": [None],
            "is_won": [False],
            "amount_rub": [500.0],
            "manager_id": [11],
            "department_id": [1],
        },
        schema_overrides={"closed_day": pl.Date},
    )
    warehouse.replace_rows("marts", "mart_deals", deal, where={})
    for _ in range(2):  # the second run must replace, not duplicate
        result = materialize(
            [week_asset, *WEEK_CHECKS], partition_key=AS_OF.isoformat(), resources={"warehouse": warehouse}
        )
        assert result.success
        assert all(e.passed for e in result.get_asset_check_evaluations())
    rows = warehouse.query("select * from ml.forecast_week order by scope_type, scope_id")
    got = {(r["scope_type"], r["scope_id"]): r for r in rows.iter_rows(named=True)}
    assert set(got) == {("company", 0), ("department", 1), ("department", 2), ("manager", 11), ("manager", 21)}
    company = got[("company", 0)]
    assert (company["actual_wtd_rub"], company["forecast_rub"]) == (300.0, 500.0)
    assert company["plan_rub"] == pytest.approx(2500.0 / 23 * 5, abs=0.01)
    assert company["gap_rub"] == pytest.approx(2500.0 / 23 * 5 - 500.0, abs=0.01)
    assert company["prob_reach_plan"] == 0.0
    assert (company["open_deals"], company["open_deals_expected_rub"], company["new_deals_share"]) == (1, 0.0, 1.0)
    assert company["method"] == week.METHOD_PIPELINE
    d1 = got[("department", 1)]
    assert (d1["scope_name"], d1["forecast_rub"]) == ("Опт", 350.0)
    assert d1["plan_rub"] == pytest.approx(1500.0 / 23 * 5, abs=0.01)
    m21 = got[("manager", 21)]
    assert (m21["scope_name"], m21["department_id"], m21["forecast_rub"]) == ("Сидорова", 2, 150.0)
    meta = result.asset_materializations_for_node("forecast_week")[0].metadata
    assert meta["forecast_rub"].value == 500.0
    assert meta["dagster/row_count"].value == 5


def test_a_backfill_learns_its_interval_as_it_goes(tmp_path) -> None:
    """Ten weeks of days in one run (6 August - 15 October), on a world of 100 ± 5 a weekday: a
    Wednesday with five earlier Wednesdays behind it (10 September) still draws its interval from like
    days; from the sixth (17 September) it is learned from the run's own earlier rows, and on 15 October
    from ten."""
    warehouse = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    _marts(warehouse)
    noisy = weekdays(date(2025, 7, 1), date(2025, 11, 30), noise=5.0).select(
        "day",
        pl.lit(1).alias("department_id"),
        pl.lit("Опт").alias("department_name"),
        pl.col("revenue_rub").alias("won_rub"),
        pl.lit(1).alias("won_count"),
    )
    warehouse.replace_rows("marts", "mart_revenue_daily", noisy, where={})
    tags = {"dagster/asset_partition_range_start": "2025-08-06", "dagster/asset_partition_range_end": "2025-10-15"}
    result = materialize([week_asset, *WEEK_CHECKS], tags=tags, resources={"warehouse": warehouse})
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    assert warehouse.query("select count(*) as n from ml.forecast_week")["n"][0] == 71
    wednesdays = warehouse.query(
        "select interval_method, interval_weeks from ml.forecast_week"
        " where scope_type = 'company' and as_of_day in (?, ?, ?) order by as_of_day",
        [date(2025, 9, 10), date(2025, 9, 17), AS_OF],
    )
    assert wednesdays.rows() == [(week.DRAWN, 0), (week.LEARNED, 6), (week.LEARNED, 10)]
    methods = warehouse.query(
        "select method from ml.forecast_week where scope_type = 'company' and as_of_day in (?, ?) order by as_of_day",
        [date(2025, 9, 10), AS_OF],
    )["method"].to_list()
    assert methods[0] == week.METHOD and methods[1].startswith(week.BLENDED)  # 5 earlier Wednesdays, then 10

    # a table written before the estimates were kept: the next day learns its interval from it, adds the columns
    with warehouse.connect() as con:
        for column in ("like_days_rub", "pipeline_rub"):
            con.execute(f"alter table ml.forecast_week drop column {column}")
    day = AS_OF + timedelta(weeks=1)
    result = materialize([week_asset, *WEEK_CHECKS], partition_key=day.isoformat(), resources={"warehouse": warehouse})
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    row = warehouse.query(
        "select interval_method, method, like_days_rub from ml.forecast_week where scope_type = 'company' and as_of_day = ?",
        [day],
    ).row(0, named=True)
    assert (row["interval_method"], row["method"]) == (week.LEARNED, week.METHOD) and row["like_days_rub"] > 0
