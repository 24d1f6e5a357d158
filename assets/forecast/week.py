"""The current week's revenue forecast as of a day, for the company and each department, manager and
pipeline: pure functions, no Dagster, no database.

A head of sales plans the week as well as the month ("прогноз продаж на сегодня/неделю/месяц"). The
week here is the ISO week (Monday to Sunday) of the as-of day, in the company's days (the marts' days
are already local). Its forecast is the week to date plus the expected revenue of the week's remaining
days, each remaining day at the scope's own recent level for that kind of day: the mean of the last
`PROFILE_WEEKS` days of the same weekday that were working days (a working day), the same weekday (a
weekend), or any non-working days (a public holiday falling on a weekday). Where the CRM has deals, the
month model's pipeline part is reused for the shorter horizon (pipeline.estimate_at): each deal open at
the end of the as-of day × its probability of being won by Sunday, learned from the same weekday of the
`PIPELINE_WEEKS` earlier weeks (open then, won by that week's Sunday), plus the share of those weeks'
remaining revenue that came from deals not yet open (the new deals' share) × the same-weekday level.
A scope's open deals are its own (the deal's manager, department, pipeline); the new deals' share is the
company's. Prophet and CatBoost are not refitted for the week: they are fitted once a day for the month's
remaining days, and a fit per scope and horizon would multiply the morning's cost.

Three estimates of the week's end are kept side by side (`like_days_rub`, `pipeline_rub`, `ruler_rub`) and
blended with weights learned, per kind of scope and weekday, from the forecasts of the weeks that ended
before (`learn_weights`): non-negative least squares summing to one, as the month's parts are weighed
(calibration.py), each error taken relative to the scope's usual week so that a big department does not
outweigh a small manager nor a manager's empty week explode. On the M world the open deals carry most of
the weight (0.5–0.9), the like days a share early in the week, the ruler a little at its end (a manager's
Saturday: nothing more comes at the weekend); the mix moves MAPE by under a point but the company's P(week
plan) gains (benchmarks/RESULTS.md). Until `MIN_WEEKS` such weeks of a kind hold every estimate made
today, the open deals' estimate stands alone (the like days' without deals).

The 80 % interval and P(week plan) are learned like the month scopes' (scope_intervals.py, reused):
each scope's relative errors actual / forecast − 1 of its forecasts made on the same weekday of the
weeks that ended before (at most `MAX_WEEKS` back), their scale shrunk towards the kind's, their shape
pooled by kind (the company is a kind of one). With fewer than scope_intervals.MIN_ERRORS such weeks of
a kind, the interval comes from drawing each remaining day from its same-weekday values instead.

The weekly plan is the month's plan spread over the month's working days (Monday to Friday less
Russian public holidays): the week's plan is the plan per working day of each month the week touches
× its working days in the week; none when a month the week works in has no plan.

Beside it the weekly ruler: week to date ÷ working days elapsed × working days in the week (calendar
days while no working day has passed: the New Year week).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from assets.forecast import calibration, scope_intervals
from assets.forecast.leads import gap_rub
from assets.forecast.model import INTERVAL, _ru_holidays, month_bounds
from assets.forecast.pipeline import STAGES_SCHEMA, PipelineEstimate, estimate_at

PROFILE_WEEKS = 8  # same-weekday days a remaining day's expected revenue is the mean of
MAX_WEEKS = 26  # the most recent weeks' errors teach the interval: a team changes
PIPELINE_WEEKS = 26  # earlier weeks whose same weekday teaches P(won by Sunday)
MIN_WEEKS = 6  # ended weeks of a kind before the weights between the estimates are learned
SEEN_DAYS = 90  # a scope with no row in these days and no plan is gone (a manager who left)
SEARCH_DAYS = 120  # how far back a remaining day's like days are looked for
DRAWS = 1000  # simulated weeks of the fallback interval
COMPANY_ID = 0
LEARNED = "learned: the scope's own past weekly errors on this weekday, their shape pooled by kind"
DRAWN = "each remaining day drawn from its same-weekday days (too few past weeks to learn from)"
METHOD = f"week to date + each remaining day at the mean of its last {PROFILE_WEEKS} like days"
METHOD_PIPELINE = (
    "week to date + open deals × P(won by Sunday) + the new deals' share of each remaining day at the mean of "
    f"its last {PROFILE_WEEKS} like days"
)
BLENDED = "the week's estimates weighed as they did in earlier weeks"
PARTS = ("like_days", "pipeline", "ruler")  # column `<part>_rub`: the week's end by that estimate alone
SCOPE_KEYS = {"department": "department_id", "manager": "manager_id", "pipeline": "pipeline_id"}
KIND_ORDER = {"company": 0, "department": 1, "pipeline": 2, "manager": 3}

COLUMNS: dict[str, Any] = {
    "as_of_day": pl.Date,
    "week_start": pl.Date,
    "week_end": pl.Date,
    "scope_type": pl.Utf8,
    "scope_id": pl.Int64,
    "scope_name": pl.Utf8,
    "department_id": pl.Int64,
    "plan_rub": pl.Float64,
    "actual_wtd_rub": pl.Float64,
    "remaining_rub": pl.Float64,
    "open_deals": pl.Int64,
    "open_deals_expected_rub": pl.Float64,
    "new_deals_share": pl.Float64,
    "forecast_rub": pl.Float64,
    "like_days_rub": pl.Float64,
    "pipeline_rub": pl.Float64,
    "forecast_low_rub": pl.Float64,
    "forecast_high_rub": pl.Float64,
    "prob_reach_plan": pl.Float64,
    "gap_rub": pl.Float64,
    "ruler_rub": pl.Float64,
    "working_days_elapsed": pl.Int64,
    "working_days_in_week": pl.Int64,
    "method": pl.Utf8,
    "interval_method": pl.Utf8,
    "interval_weeks": pl.Int64,
}
DAILY_COLUMNS = {"day": pl.Date, "scope_type": pl.Utf8, "scope_id": pl.Int64, "revenue_rub": pl.Float64}
PLAN_COLUMNS = {"month": pl.Date, "scope_type": pl.Utf8, "scope_id": pl.Int64, "plan_rub": pl.Float64}
PAST_COLUMNS = {
    "as_of_day": pl.Date,
    "week_start": pl.Date,
    "scope_type": pl.Utf8,
    "scope_id": pl.Int64,
    "forecast_rub": pl.Float64,
    "actual_wtd_rub": pl.Float64,
    "like_days_rub": pl.Float64,
    "pipeline_rub": pl.Float64,
    "ruler_rub": pl.Float64,
}


# --- the calendar ---------------------------------------------------------------------------------
def week_bounds(day: date) -> tuple[date, date]:
    """Monday and Sunday of `day`'s ISO week."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def holidays_around(first: date, last: date) -> set[date]:
    """Russian public holidays and transferred days off of the years from `first` to `last`."""
    return _ru_holidays(range(first.year, last.year + 1))


def is_working(day: date, holidays: set[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def working_days(first: date, last: date, holidays: set[date]) -> int:
    return sum(is_working(d, holidays) for d in _days(first, last))


def week_plan(week_start: date, month_plans: dict[date, float | None], holidays: set[date]) -> float | None:
    """The week's share of its months' plans: Σ over its working days of the month's plan ÷ the month's
    working days. None when a month the week works in has no plan (or none of its days work)."""
    total, any_working = 0.0, False
    for day in _days(week_start, week_start + timedelta(days=6)):
        if not is_working(day, holidays):
            continue
        any_working = True
        first, last = month_bounds(day)
        plan = month_plans.get(first)
        if not plan:
            return None
        total += plan / working_days(first, last, holidays)
    return total if any_working else None


def week_ruler(wtd_rub: float, as_of_day: date, holidays: set[date]) -> float:
    """Week to date ÷ working days elapsed × working days in the week (the as-of day counts as elapsed);
    calendar days while no working day has passed yet."""
    monday, sunday = week_bounds(as_of_day)
    elapsed, in_week = working_days(monday, as_of_day, holidays), working_days(monday, sunday, holidays)
    if elapsed == 0:
        return wtd_rub / ((as_of_day - monday).days + 1) * 7
    return wtd_rub / elapsed * in_week


# --- one scope's series ---------------------------------------------------------------------------
def like_days(values: dict[date, float], as_of_day: date, target: date, holidays: set[date]) -> list[float]:
    """The revenue of the last PROFILE_WEEKS days up to `as_of_day` that are like `target`: working
    days of its weekday (a working day), days of its weekday (a weekend), non-working days (a holiday on
    a weekday). `values`: revenue per day, a missing day is 0 (no sale)."""
    if is_working(target, holidays):

        def like(d: date) -> bool:
            return d.weekday() == target.weekday() and is_working(d, holidays)
    elif target.weekday() >= 5:

        def like(d: date) -> bool:
            return d.weekday() == target.weekday()
    else:

        def like(d: date) -> bool:
            return not is_working(d, holidays)

    picks: list[float] = []
    day = as_of_day
    stop = as_of_day - timedelta(days=SEARCH_DAYS)
    while day > stop and len(picks) < PROFILE_WEEKS:
        if like(day):
            picks.append(values.get(day, 0.0))
        day -= timedelta(days=1)
    return picks


def _point(values: dict[date, float], as_of_day: date, holidays: set[date]) -> tuple[float, float, list[list[float]]]:
    """Week to date, the remaining days' expected revenue, and each remaining day's like days."""
    monday, sunday = week_bounds(as_of_day)
    wtd = sum(values.get(d, 0.0) for d in _days(monday, as_of_day))
    picks = [like_days(values, as_of_day, d, holidays) for d in _days(as_of_day + timedelta(days=1), sunday)]
    remaining = sum(float(np.mean(p)) if p else 0.0 for p in picks)
    return wtd, remaining, picks


def _drawn(
    known: float, picks: list[list[float]], share: float, plan: float | None, seed: int
) -> tuple[float, float, float | None]:
    """The fallback interval and P(plan): `known` (week to date + open deals expected) + `share` of each
    remaining day drawn from its like days."""
    rng = np.random.default_rng(seed)
    totals = np.full(DRAWS, known)
    for p in picks:
        if p:
            totals = totals + share * rng.choice(np.asarray(p, dtype=float), size=DRAWS)
    low, high = np.quantile(totals, [(1 - INTERVAL) / 2, (1 + INTERVAL) / 2])
    prob = None if plan is None else float(np.mean(totals >= plan))
    return float(low), float(high), prob


# --- the open pipeline, for the week ----------------------------------------------------------------
def week_pairs(as_of_day: date, weeks: int = PIPELINE_WEEKS) -> list[tuple[date, date]]:
    """(the same weekday, that week's Sunday) of each of the `weeks` earlier weeks, latest first."""
    sunday = week_bounds(as_of_day)[1]
    return [(as_of_day - timedelta(weeks=k), sunday - timedelta(weeks=k)) for k in range(1, weeks + 1)]


def open_pipeline(
    deals: pl.DataFrame, stages: pl.DataFrame | None, as_of_day: date
) -> tuple[PipelineEstimate, pl.DataFrame]:
    """The open deals' P(won by Sunday) as of `as_of_day`, and the open deals with their owners and
    expected revenue (deal_id, pipeline_id, manager_id, department_id, expected_rub).

    `deals`: deal_id, pipeline_id, created_day, closed_day, is_won, amount_rub (and manager_id,
    department_id where known); only what is known on the as-of day is used (pipeline.py)."""
    estimate = estimate_at(
        deals,
        stages if stages is not None else pl.DataFrame(schema=STAGES_SCHEMA),
        as_of_day,
        week_pairs(as_of_day),
    )
    owners = [c for c in ("manager_id", "department_id") if c in deals.columns]
    scored = estimate.deals.with_columns((pl.col("amount_rub") * pl.col("probability")).alias("expected_rub"))
    if owners:
        scored = scored.join(
            deals.select(pl.col("deal_id").cast(pl.Int64), *[pl.col(c).cast(pl.Int64) for c in owners]),
            on="deal_id",
            how="left",
        )
    return estimate, scored


def _scope_pipeline(scored: pl.DataFrame, kind: str, scope_id: int) -> tuple[int, float]:
    """A scope's open deals and their expected revenue by Sunday (the company: all of them)."""
    if kind == "company":
        mine = scored
    elif SCOPE_KEYS.get(kind) in scored.columns:
        mine = scored.filter(pl.col(SCOPE_KEYS[kind]) == scope_id)
    else:
        return 0, 0.0
    return mine.height, float(mine["expected_rub"].sum()) if mine.height else 0.0


# --- the errors of earlier weeks --------------------------------------------------------------------
def week_actuals(series: dict[tuple[str, int], dict[date, float]], before: date) -> dict[tuple[str, int, date], float]:
    """Each scope's revenue per ISO week, of the weeks that ended before `before`'s week."""
    current = week_bounds(before)[0]
    totals: dict[tuple[str, int, date], float] = {}
    for (kind, scope_id), values in series.items():
        for day, value in values.items():
            monday = week_bounds(day)[0]
            if monday < current:
                key = (kind, scope_id, monday)
                totals[key] = totals.get(key, 0.0) + value
    return totals


def relative_errors(past: pl.DataFrame, actuals: dict[tuple[str, int, date], float], as_of_day: date) -> pl.DataFrame:
    """actual / forecast − 1 of each scope's forecast made on `as_of_day`'s weekday of the weeks that
    ended before its week (at most MAX_WEEKS back), in scope_intervals.ERROR_COLUMNS (the week's Monday
    in `month`). A week the scope made nothing in is an actual of 0."""
    if past.is_empty():
        return pl.DataFrame(schema=scope_intervals.ERROR_COLUMNS)
    near = _same_weekday(past, as_of_day).filter(pl.col("forecast_rub") > 0)
    rows = [
        {
            "scope_type": r["scope_type"],
            "scope_id": r["scope_id"],
            "month": r["week_start"],
            "error": actuals.get((r["scope_type"], r["scope_id"], r["week_start"]), 0.0) / r["forecast_rub"] - 1.0,
        }
        for r in near.iter_rows(named=True)
    ]
    return pl.DataFrame(rows, schema=scope_intervals.ERROR_COLUMNS, orient="row").sort(
        ["scope_type", "scope_id", "month"]
    )


def past_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` in PAST_COLUMNS; a column it lacks (an older table's, written before the estimates were
    kept) is empty."""
    return frame.select(
        [pl.col(c).cast(t) if c in frame.columns else pl.lit(None, dtype=t).alias(c) for c, t in PAST_COLUMNS.items()]
    )


def _same_weekday(past: pl.DataFrame, as_of_day: date) -> pl.DataFrame:
    """`past`'s forecasts made on `as_of_day`'s weekday of the MAX_WEEKS weeks before its week."""
    current = week_bounds(as_of_day)[0]
    return past_rows(past).filter(
        (pl.col("week_start") < current)
        & (pl.col("week_start") >= current - timedelta(weeks=MAX_WEEKS))
        & (pl.col("as_of_day").dt.weekday() == as_of_day.isoweekday())
    )


# --- the weights between the estimates --------------------------------------------------------------
def learn_weights(
    past: pl.DataFrame, actuals: dict[tuple[str, int, date], float], as_of_day: date
) -> dict[str, calibration.Calibration]:
    """Per kind of scope: the weights of PARTS that best explain the ended weeks from the estimates made
    on `as_of_day`'s weekday (at most MAX_WEEKS back), and the number of weeks behind them.

    Each row is one scope-week: every estimate's remaining revenue (its week end − the week to date) and
    the actual's, over the scope's mean actual week in the window, so that every scope weighs by how far
    it missed its own usual week. An estimate missing from too many rows (the open deals before the
    deals were read) is left out rather than the weeks: the kept ones have MIN_WEEKS weeks with them all.
    A kind with fewer weeks, or a scope that sold nothing in the window, is not learned from."""
    near = _same_weekday(past, as_of_day)
    if near.is_empty():
        return {}
    actual = near.select(
        pl.struct("scope_type", "scope_id", "week_start")
        .map_elements(
            lambda k: actuals.get((k["scope_type"], k["scope_id"], k["week_start"]), 0.0), return_dtype=pl.Float64
        )
        .alias("actual_rub")
    )["actual_rub"]
    rows = near.with_columns(actual.alias("actual_rub")).with_columns(
        pl.col("actual_rub").mean().over(["scope_type", "scope_id"]).alias("usual_rub")
    )
    learned: dict[str, calibration.Calibration] = {}
    for kind in sorted(set(rows["scope_type"].to_list())):
        mine = rows.filter((pl.col("scope_type") == kind) & (pl.col("usual_rub") > 0))
        present = [p for p in PARTS if mine[f"{p}_rub"].null_count() < mine.height]
        while len(present) > 1:  # one estimate alone has nothing to be weighed against
            complete = mine.filter(pl.all_horizontal([pl.col(f"{p}_rub").is_not_null() for p in present]))
            weeks = complete["week_start"].n_unique()
            if weeks >= MIN_WEEKS:
                usual = complete["usual_rub"].to_numpy()
                wtd = complete["actual_wtd_rub"].to_numpy()
                a = np.column_stack([(complete[f"{p}_rub"].to_numpy() - wtd) / usual for p in present])
                b = (complete["actual_rub"].to_numpy() - wtd) / usual
                w = calibration.blend_weights(a, b, weeks)
                if w is not None:
                    errors = np.asarray([], dtype=float)  # the interval is learned elsewhere (scope_intervals)
                    learned[kind] = calibration.Calibration(dict(zip(present, map(float, w))), errors, weeks)
                break
            present.remove(max(present, key=lambda p: mine[f"{p}_rub"].null_count()))
    return learned


def blend(wtd: float, estimates: dict[str, float], weights: calibration.Calibration | None) -> tuple[float, str]:
    """The week's end from the estimates present (PARTS' week ends) and what was used, said in a few words.
    Without learned weights, or with weights that miss an estimate present today (the deals read for the
    first time: no ended week knows what their estimate was worth), the open deals' estimate where there
    is one, else the like days'."""
    if weights is None or not set(estimates) <= set(weights.weights):
        chosen = "pipeline" if "pipeline" in estimates else "like_days"
        return estimates[chosen], chosen
    shares = weights.weights_for({name: value - wtd for name, value in estimates.items()})
    forecast = wtd + sum(shares[name] * (estimates[name] - wtd) for name in estimates)
    said = " + ".join(f"{name} {shares[name]:.2f}" for name in PARTS if shares.get(name, 0.0) >= 0.005)
    return forecast, f"{said} (weights learned on {weights.months} weeks)"


# --- the forecast -----------------------------------------------------------------------------------
def _series(daily: pl.DataFrame, first: date, as_of_day: date) -> dict[tuple[str, int], dict[date, float]]:
    """Revenue per scope and day from `first` through `as_of_day`: nothing later is kept."""
    cut = (
        daily.select([pl.col(c).cast(t) for c, t in DAILY_COLUMNS.items()])
        .filter(pl.col("day").is_between(first, as_of_day) & pl.col("scope_id").is_not_null())
        .group_by(["scope_type", "scope_id", "day"])
        .agg(pl.col("revenue_rub").fill_null(0.0).sum())
    )
    series: dict[tuple[str, int], dict[date, float]] = {}
    for kind, scope_id, day, value in cut.iter_rows():
        series.setdefault((kind, int(scope_id)), {})[day] = float(value)
    return series


def _plans(month_plans: pl.DataFrame, months: Iterable[date]) -> dict[tuple[str, int], dict[date, float | None]]:
    wanted = list(months)
    frame = (
        month_plans.select([pl.col(c).cast(t) for c, t in PLAN_COLUMNS.items()])
        .filter(pl.col("month").is_in(wanted) & pl.col("scope_id").is_not_null())
        .group_by(["scope_type", "scope_id", "month"])
        .agg(pl.col("plan_rub").sum())
    )
    plans: dict[tuple[str, int], dict[date, float | None]] = {}
    for kind, scope_id, month, plan in frame.select("scope_type", "scope_id", "month", "plan_rub").iter_rows():
        plans.setdefault((kind, int(scope_id)), {})[month] = float(plan) if plan and plan > 0 else None
    return plans


def forecast_week(
    daily: pl.DataFrame,
    as_of_day: date,
    month_plans: pl.DataFrame | None = None,
    past: pl.DataFrame | None = None,
    names: pl.DataFrame | None = None,
    seed: int = 0,
    *,
    deals: pl.DataFrame | None = None,
    stages: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per scope (COLUMNS) for `as_of_day`'s week.

    `daily`: day, scope_type ('company', 'department', 'manager', 'pipeline'), scope_id (the company's
    COMPANY_ID), revenue_rub; any days, only those through `as_of_day` are read. `month_plans`: month,
    scope_type, scope_id, plan_rub. `past`: earlier rows of ml.forecast_week (as_of_day, week_start,
    scope_type, scope_id, forecast_rub): the interval is learned from those of ended weeks. `names`:
    scope_type, scope_id, scope_name, department_id. A scope is forecast when it has a row in the last
    SEEN_DAYS, a plan for a month of the week or an open deal expected by Sunday; the company always. `deals` (see `open_pipeline`) and
    their open-stage entries `stages` (deal_id, stage_id, entered_day) add the open pipeline's part.
    """
    monday, sunday = week_bounds(as_of_day)
    first = monday - timedelta(weeks=MAX_WEEKS + 1)
    holidays = holidays_around(first, sunday)
    series = _series(daily, first, as_of_day)
    plans = _plans(
        month_plans if month_plans is not None else pl.DataFrame(schema=PLAN_COLUMNS),
        {month_bounds(monday)[0], month_bounds(sunday)[0]},
    )
    seen_from = as_of_day - timedelta(days=SEEN_DAYS - 1)
    scopes = {("company", COMPANY_ID)} | {k for k, v in series.items() if any(d >= seen_from for d in v)}
    scopes |= {k for k, v in plans.items() if any(p for p in v.values())}
    actuals = week_actuals(series, as_of_day)
    errors = relative_errors(past if past is not None else pl.DataFrame(schema=PAST_COLUMNS), actuals, as_of_day)
    learned = scope_intervals.learn(errors)
    weights = learn_weights(past if past is not None else pl.DataFrame(schema=PAST_COLUMNS), actuals, as_of_day)
    labels = _labels(names)
    elapsed, in_week = working_days(monday, as_of_day, holidays), working_days(monday, sunday, holidays)
    pipeline = None
    if deals is not None and as_of_day < sunday:
        pipeline = open_pipeline(deals, stages, as_of_day)
        likely = pipeline[1].filter(pl.col("expected_rub") > 0)
        for kind, key in SCOPE_KEYS.items():  # a scope with no sale yet but deals expected by Sunday
            if key in likely.columns:
                scopes |= {(kind, int(i)) for i in likely[key].drop_nulls().unique().to_list()}
    share = pipeline[0].new_share if pipeline is not None else 1.0
    rows: list[dict[str, Any]] = []
    for kind, scope_id in sorted(scopes, key=lambda k: (KIND_ORDER.get(k[0], 9), k[1])):
        values = series.get((kind, scope_id), {})
        wtd, level, picks = _point(values, as_of_day, holidays)
        n_open, expected = _scope_pipeline(pipeline[1], kind, scope_id) if pipeline is not None else (0, 0.0)
        base = wtd + expected + share * level  # the open deals' estimate (the like days' without deals)
        ruler = week_ruler(wtd, as_of_day, holidays)
        estimates = {"like_days": wtd + level, "ruler": ruler} | ({"pipeline": base} if pipeline is not None else {})
        forecast, blended = blend(wtd, estimates, weights.get(kind))
        remaining = forecast - wtd
        plan = week_plan(monday, plans.get((kind, scope_id), {}), holidays)
        errs = learned.get(kind)
        if errs is not None:
            scale, shift = errs.scale(scope_id), errs.shift(scope_id)
            low, high = scope_intervals.interval(forecast, wtd, scale, errs.bounds(), shift)
            prob = scope_intervals.probability(forecast, wtd, plan, scale, errs.standardised, shift)
            interval_method, weeks = LEARNED, errs.months.get(scope_id, 0)
        else:
            low, high, prob = _drawn(wtd + expected + forecast - base, picks, share, plan, seed)
            interval_method, weeks = DRAWN, 0
        name, department = labels.get((kind, scope_id), (None, None))
        gap = gap_rub(plan, forecast)
        rows.append(
            {
                "as_of_day": as_of_day,
                "week_start": monday,
                "week_end": sunday,
                "scope_type": kind,
                "scope_id": scope_id,
                "scope_name": name,
                "department_id": scope_id if kind == "department" else department,
                "plan_rub": None if plan is None else round(plan, 2),
                "actual_wtd_rub": round(wtd, 2),
                "remaining_rub": round(remaining, 2),
                "open_deals": n_open if pipeline is not None else None,
                "open_deals_expected_rub": round(expected, 2) if pipeline is not None else None,
                "new_deals_share": round(share, 4) if pipeline is not None else None,
                "forecast_rub": round(forecast, 2),
                "like_days_rub": round(wtd + level, 2),
                "pipeline_rub": round(base, 2) if pipeline is not None else None,
                "forecast_low_rub": round(min(low, forecast), 2),
                "forecast_high_rub": round(max(high, forecast), 2),
                "prob_reach_plan": prob,
                "gap_rub": None if gap is None else round(gap, 2),
                "ruler_rub": round(ruler, 2),
                "working_days_elapsed": elapsed,
                "working_days_in_week": in_week,
                "method": f"{BLENDED}: {blended}"
                if blended not in PARTS
                else (METHOD_PIPELINE if pipeline is not None else METHOD),
                "interval_method": interval_method,
                "interval_weeks": weeks,
            }
        )
    return pl.DataFrame(rows, schema=COLUMNS, orient="row")


def _labels(names: pl.DataFrame | None) -> dict[tuple[str, int], tuple[str | None, int | None]]:
    if names is None or names.is_empty():
        return {}
    return {
        (kind, int(scope_id)): (name, None if department is None else int(department))
        for kind, scope_id, name, department in names.select(
            "scope_type", "scope_id", "scope_name", "department_id"
        ).iter_rows()
        if scope_id is not None
    }


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=COLUMNS)
