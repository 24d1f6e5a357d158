"""Month-end revenue forecast as of a day: pure functions, no Dagster, no database.

The head of sales asks one question each morning: "where will this month end, and will we make
plan?". The answer here is month-to-date actual plus a prediction of the days still to come,
from two models that fail differently:

- Prophet (trend + weekly + yearly seasonality + Russian public holidays), whose predictive
  samples give the spread of the remaining-days total;
- CatBoost on calendar features plus the level of recent days (rolling sums and same-weekday
  means as of the forecast day), trained "direct": each training row is a (forecast day,
  target day) pair, so it learns what is knowable at the horizon it will be used at.

Their remaining-days totals are averaged; the 80 % interval and the probability of reaching plan
come from Prophet's simulated totals recentred on that average, widened by the two models'
disagreement (Prophet's MAP fit alone knows only day-to-day noise, not its own error).
Beside it, the run-rate "ruler" (MTD / days elapsed × days in month) that docs/KPI.md's forecast
accuracy compares against.
With less than `MIN_HISTORY_DAYS` of history the models are not fitted: the ruler is the
forecast and `model` says so.
"""

from __future__ import annotations

import calendar
import logging
import warnings
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any, cast

import numpy as np
import polars as pl

from assets.forecast import calibration
from assets.forecast.calibration import Calibration
from assets.forecast.orders import estimate as orders_estimate
from assets.forecast.pipeline import STAGES_SCHEMA, PipelineEstimate
from assets.forecast.pipeline import estimate as pipeline_estimate

MIN_HISTORY_DAYS = 28  # below this: no model, the ruler, said so in `model`
MAX_TRAIN_DAYS = 3 * 365  # older history adds fit time, not accuracy
YEARLY_MIN_DAYS = 365  # yearly seasonality only once a whole year has been seen
MAX_HORIZON = 31  # a month has at most 30 days after day 1
INTERVAL = 0.8  # the 80 % interval of docs/KPI.md
N_SAMPLES = 500  # Prophet predictive draws (totals for interval and probability)
CATBOOST_ITERATIONS = 150
CATBOOST_ANCHOR_DAYS = 365  # forecast days used to build CatBoost's training pairs

COLUMNS = [
    "as_of_day",
    "month",
    "scope",
    "plan_rub",
    "actual_mtd_rub",
    "forecast_rub",
    "forecast_low_rub",
    "forecast_high_rub",
    "prob_reach_plan",
    "ruler_rub",
    "model",
    "history_days",
    "prophet_rub",
    "catboost_rub",
    "last_year_rub",
    "pipeline_rub",
    "orders_rub",
    "open_deals_expected_rub",
    "open_deals",
    "new_deals_share",
    "gap_rub",
    "avg_won_deal_rub",
    "lead_to_won_rate",
    "leads_needed",
]


@dataclass(frozen=True)
class MonthEndForecast:
    """One row of ml.forecast_month_end (company scope)."""

    as_of_day: date
    month: date
    scope: str
    plan_rub: float | None
    actual_mtd_rub: float
    forecast_rub: float
    forecast_low_rub: float
    forecast_high_rub: float
    prob_reach_plan: float | None
    ruler_rub: float
    model: str
    history_days: int
    # added with the open pipeline: each part's month end alone, and the pipeline's figures
    prophet_rub: float | None = None
    catboost_rub: float | None = None
    last_year_rub: float | None = None
    pipeline_rub: float | None = None
    orders_rub: float | None = None  # added with the orders part (orders.py)
    open_deals_expected_rub: float | None = None
    open_deals: int | None = None
    new_deals_share: float | None = None
    # the gap to plan and the leads needed to close it (assets/forecast/leads.py; None until computed)
    gap_rub: float | None = None
    avg_won_deal_rub: float | None = None
    lead_to_won_rate: float | None = None
    leads_needed: float | None = None

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


def to_frame(rows: list[MonthEndForecast]) -> pl.DataFrame:
    """Rows as the table's frame, typed even when empty (so the table gets its columns)."""
    schema = {
        "as_of_day": pl.Date,
        "month": pl.Date,
        "scope": pl.Utf8,
        "plan_rub": pl.Float64,
        "actual_mtd_rub": pl.Float64,
        "forecast_rub": pl.Float64,
        "forecast_low_rub": pl.Float64,
        "forecast_high_rub": pl.Float64,
        "prob_reach_plan": pl.Float64,
        "ruler_rub": pl.Float64,
        "model": pl.Utf8,
        "history_days": pl.Int64,
        "prophet_rub": pl.Float64,
        "catboost_rub": pl.Float64,
        "last_year_rub": pl.Float64,
        "pipeline_rub": pl.Float64,
        "orders_rub": pl.Float64,
        "open_deals_expected_rub": pl.Float64,
        "open_deals": pl.Int64,
        "new_deals_share": pl.Float64,
        "gap_rub": pl.Float64,
        "avg_won_deal_rub": pl.Float64,
        "lead_to_won_rate": pl.Float64,
        "leads_needed": pl.Float64,
    }
    return pl.DataFrame([r.as_row() for r in rows], schema=schema, orient="row")


# --- small calendar helpers -----------------------------------------------------------------
def month_bounds(day: date) -> tuple[date, date]:
    """First and last day of `day`'s month."""
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def ruler(mtd_rub: float, as_of_day: date) -> float:
    """Run-rate ruler: month-to-date / days elapsed × days in month (as-of day counts as elapsed)."""
    days_in_month = calendar.monthrange(as_of_day.year, as_of_day.month)[1]
    return mtd_rub / as_of_day.day * days_in_month


def _ru_holidays(years: range) -> set[date]:
    """Russian public holidays and transferred days off (python-holidays, works offline)."""
    try:
        import holidays

        return set(holidays.country_holidays("RU", years=list(years)).keys())
    except Exception:  # pragma: no cover - holidays ships with prophet; be robust anyway
        return set()


def dense_history(daily: pl.DataFrame, as_of_day: date) -> pl.DataFrame:
    """Company revenue per day from the first day with data through `as_of_day`, gaps as zeros.

    Anything after `as_of_day` is dropped here, first: the forecast cannot see the future, so a
    backfill over past days is an honest backtest.
    """
    frame = (
        daily.select(pl.col("day").cast(pl.Date), pl.col("revenue_rub").cast(pl.Float64).fill_null(0.0))
        .filter(pl.col("day") <= as_of_day)
        .group_by("day")
        .agg(pl.col("revenue_rub").sum())
    )
    if frame.is_empty():
        return pl.DataFrame(schema={"day": pl.Date, "revenue_rub": pl.Float64})
    start = cast(date, frame["day"].min())  # a Date column's min; polars types it for any dtype
    calendar_days = pl.DataFrame({"day": pl.date_range(start, as_of_day, "1d", eager=True)})
    return (
        calendar_days.join(frame, on="day", how="left").with_columns(pl.col("revenue_rub").fill_null(0.0)).sort("day")
    )


# --- the two models ---------------------------------------------------------------------------
def _quiet_stan() -> None:
    """cmdstanpy and prophet log every fit at INFO; one line per partition is noise in Dagster."""
    try:  # cmdstanpy sets its logger to DEBUG the first time it is asked for it: ask first
        from cmdstanpy.utils import get_logger

        get_logger()
    except Exception:  # pragma: no cover - older cmdstanpy
        pass
    for name in ("cmdstanpy", "prophet", "prophet.models"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.ERROR)
        logger.propagate = False


def prophet_remaining(history: pl.DataFrame, future_days: list[date], seed: int = 0) -> tuple[float, np.ndarray]:
    """Prophet's expected remaining total and `N_SAMPLES` simulated totals (days clipped at 0)."""
    import pandas as pd
    from prophet import Prophet

    _quiet_stan()  # after the import: cmdstanpy configures its logger when first imported

    n_days = history.height
    model = Prophet(
        growth="linear",
        weekly_seasonality=True,
        yearly_seasonality=n_days >= YEARLY_MIN_DAYS,
        daily_seasonality=False,
        interval_width=INTERVAL,
        mcmc_samples=0,
        uncertainty_samples=N_SAMPLES,
    )
    model.add_country_holidays(country_name="RU")
    train = pd.DataFrame({"ds": pd.to_datetime(history["day"].to_list()), "y": history["revenue_rub"].to_numpy()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(train)
    future = pd.DataFrame({"ds": pd.to_datetime(future_days)})
    mean = np.clip(model.predict(future)["yhat"].to_numpy(), 0.0, None).sum()
    state = np.random.get_state()  # Prophet draws from numpy's global generator
    np.random.seed(seed)
    try:
        draws = model.predictive_samples(future)["yhat"]  # days × samples
    finally:
        np.random.set_state(state)
    totals = np.clip(draws, 0.0, None).sum(axis=0)
    return float(mean), totals


_CB_FEATURES = [
    "dow",
    "dom",
    "month",
    "days_to_month_end",
    "is_holiday",
    "is_working_day",
    "horizon",
    "mean_7",
    "mean_28",
    "same_dow_mean_4w",
    "mtd_per_day",
    "working_mean_28",
]


def _level_features(values: np.ndarray, days: list[date], working: np.ndarray) -> dict[str, np.ndarray]:
    """Level of the series as known at the end of each day (index i uses values[: i + 1])."""
    csum = np.concatenate([[0.0], np.cumsum(values)])
    n = len(values)
    idx = np.arange(n)

    def trailing_mean(width: int) -> np.ndarray:
        lo = np.maximum(idx + 1 - width, 0)
        return (csum[idx + 1] - csum[lo]) / (idx + 1 - lo)

    wsum = np.concatenate([[0.0], np.cumsum(values * working)])
    wcnt = np.concatenate([[0.0], np.cumsum(working)])
    lo28 = np.maximum(idx + 1 - 28, 0)
    wdays = wcnt[idx + 1] - wcnt[lo28]
    working_mean = np.where(wdays > 0, (wsum[idx + 1] - wsum[lo28]) / np.maximum(wdays, 1), 0.0)
    dom = np.array([d.day for d in days])
    mtd = csum[idx + 1] - csum[np.maximum(idx + 1 - dom, 0)]
    return {
        "mean_7": trailing_mean(7),
        "mean_28": trailing_mean(28),
        "working_mean_28": working_mean,
        "mtd_per_day": mtd / dom,
    }


def _same_dow_mean(values: np.ndarray, anchor: int, target_dow_offset: int) -> float:
    """Mean of the last 4 values on the target's weekday, at or before the anchor index."""
    # the latest index <= anchor with the same weekday as the target
    last = anchor - ((7 - target_dow_offset) % 7)
    picks = [last - 7 * k for k in range(4) if last - 7 * k >= 0]
    return float(values[picks].mean()) if picks else float(values[: anchor + 1].mean())


def _catboost_rows(
    values: np.ndarray, days: list[date], holidays_set: set[date], anchors: list[int], horizons: dict[int, list[int]]
) -> np.ndarray:
    """Feature matrix for (anchor, target = anchor + h) pairs."""
    working = np.array([d.weekday() < 5 and d not in holidays_set for d in days], dtype=float)
    level = _level_features(values, days, working)
    rows: list[list[float]] = []
    for a in anchors:
        for h in horizons[a]:
            t = days[a] + timedelta(days=h)
            last_dom = calendar.monthrange(t.year, t.month)[1]
            rows.append(
                [
                    t.weekday(),
                    t.day,
                    t.month,
                    last_dom - t.day,
                    float(t in holidays_set),
                    float(t.weekday() < 5 and t not in holidays_set),
                    h,
                    level["mean_7"][a],
                    level["mean_28"][a],
                    _same_dow_mean(values, a, h % 7),
                    level["mtd_per_day"][a],
                    level["working_mean_28"][a],
                ]
            )
    return np.asarray(rows, dtype=float)


def catboost_remaining(history: pl.DataFrame, future_days: list[date], seed: int = 0) -> float:
    """CatBoost's expected remaining total: direct multi-horizon regression, days clipped at 0."""
    from catboost import CatBoostRegressor

    days = history["day"].to_list()
    values = history["revenue_rub"].to_numpy().astype(float)
    n = len(values)
    holidays_set = _ru_holidays(range(days[0].year, future_days[-1].year + 1))
    # training pairs: every recent anchor day with every horizon whose target is already known
    first_anchor = max(27, n - 1 - CATBOOST_ANCHOR_DAYS)
    anchors = list(range(first_anchor, n - 1))
    horizons = {a: list(range(1, min(MAX_HORIZON, n - 1 - a) + 1)) for a in anchors}
    x_train = _catboost_rows(values, days, holidays_set, anchors, horizons)
    y_train = np.array([values[a + h] for a in anchors for h in horizons[a]])
    if y_train.size == 0 or np.all(y_train == y_train[0]):
        # A flat recent history (a company with no sales in the window, or a history that ended long
        # ago): nothing to learn, and CatBoost refuses equal targets. The flat value goes on.
        level = float(y_train[0]) if y_train.size else float(values[-1]) if n else 0.0
        return max(level, 0.0) * len(future_days)
    model = CatBoostRegressor(
        iterations=CATBOOST_ITERATIONS,
        depth=6,
        learning_rate=0.1,
        loss_function="RMSE",
        random_seed=seed,
        thread_count=2,
        verbose=False,
        allow_writing_files=False,
    )
    model.fit(x_train, y_train)
    # future: anchor is the as-of day (last index), horizons 1..len(future)
    x_future = _catboost_rows(values, days, holidays_set, [n - 1], {n - 1: list(range(1, len(future_days) + 1))})
    return float(np.clip(model.predict(x_future), 0.0, None).sum())


# --- the same month last year ------------------------------------------------------------------
GROWTH_LIMITS = (0.5, 2.0)  # a year-on-year growth outside these is a data problem, not a trend


def last_year_remaining(history: pl.DataFrame, as_of_day: date) -> float | None:
    """The remaining days' revenue "as last year": the same month a year ago × the year's growth ×
    the share of the month's days still to come (a month's shape learned from earlier months did no
    better on either benchmark world, see benchmarks/RESULTS.md).

    What a head of sales would say first, and what the daily models miss on a lumpy series whose
    months follow a strong season (a shop's November). Growth: the last 365 days over the 365 before
    (1 with less than two years), clipped to GROWTH_LIMITS. None without a whole month a year ago.
    """
    if history.is_empty():
        return None
    first = cast(date, history["day"].min())
    month_start, month_end = month_bounds(as_of_day)
    ly_start = month_start.replace(year=month_start.year - 1)
    ly_end = month_bounds(ly_start)[1]
    if first > ly_start + timedelta(days=7):  # a history that starts in the month's first week covers it
        return None
    days = history["day"]
    values = history["revenue_rub"]

    def total(lo: date, hi: date) -> float:
        return float(values.filter((days >= lo) & (days <= hi)).sum())

    ly_total = total(ly_start, ly_end)
    growth = 1.0
    if (as_of_day - first).days >= 729:
        before = total(as_of_day - timedelta(days=729), as_of_day - timedelta(days=365))
        if before > 0:
            growth = min(
                max(total(as_of_day - timedelta(days=364), as_of_day) / before, GROWTH_LIMITS[0]), GROWTH_LIMITS[1]
            )
    share = (month_end - as_of_day).days / month_end.day  # the month's days still to come
    return max(ly_total * growth * share, 0.0)


def orders_remaining(deals: pl.DataFrame | None, as_of_day: date) -> float | None:
    """The orders part's remaining revenue (orders.py), None without deals or with too few won ones."""
    if deals is None:
        return None
    found = orders_estimate(deals, as_of_day, _ru_holidays(range(as_of_day.year - 4, as_of_day.year + 1)))
    return None if found is None else found.remaining_rub


# --- the forecast -----------------------------------------------------------------------------
def _prob(totals: np.ndarray, plan_rub: float | None) -> float | None:
    if plan_rub is None or plan_rub <= 0:
        return None
    return float((totals >= plan_rub).mean())


@dataclass(frozen=True)
class Parts:
    """Each part's remaining-days revenue as of a day (fitted once; `combine` weighs them)."""

    as_of_day: date
    mtd_rub: float
    history_days: int
    remaining_days: int
    prophet_rub: float  # Prophet's remaining total
    prophet_totals: np.ndarray  # Prophet's simulated remaining totals (its spread)
    catboost_rub: float  # CatBoost's remaining total
    pipeline: PipelineEstimate | None  # the open deals (None: no deals given)
    last_year_rub: float | None = None  # the same month last year × growth (None: no such month yet)
    orders_rub: float | None = None  # expected orders still to come × mean order (None: no won deals to read)

    @property
    def time_series_rub(self) -> float:
        """Prophet and CatBoost averaged: the remaining days' revenue from every deal."""
        return (self.prophet_rub + self.catboost_rub) / 2

    @property
    def pipeline_rub(self) -> float | None:
        """The pipeline model's remaining revenue: open deals × probability + the new deals' share of
        the time series (revenue from deals not yet created)."""
        if self.pipeline is None:
            return None
        return self.pipeline.expected_rub + self.pipeline.new_share * self.time_series_rub

    def components(self) -> dict[str, float]:
        """The remaining-revenue estimates the weights apply to."""
        parts = {"prophet": self.prophet_rub, "catboost": self.catboost_rub}
        if self.last_year_rub is not None:
            parts["last_year"] = self.last_year_rub
        if self.pipeline_rub is not None:
            parts["pipeline"] = self.pipeline_rub
        if self.orders_rub is not None:
            parts["orders"] = self.orders_rub
        return parts


def fit_parts(
    daily: pl.DataFrame,
    as_of_day: date,
    plan_rub: float | None = None,
    *,
    deals: pl.DataFrame | None = None,
    stages: pl.DataFrame | None = None,
    seed: int = 0,
) -> Parts | MonthEndForecast:
    """Fit every part as of `as_of_day`, or the final answer when there is nothing to fit (month
    complete, or too little history: the ruler; `plan_rub` is only used for that answer)."""
    history = dense_history(daily, as_of_day)
    month_start, month_end = month_bounds(as_of_day)
    mtd = float(history.filter(pl.col("day") >= month_start)["revenue_rub"].sum()) if history.height else 0.0
    history_days = history.height
    future_days = [as_of_day + timedelta(days=i) for i in range(1, (month_end - as_of_day).days + 1)]
    if not future_days or history_days < MIN_HISTORY_DAYS:
        return _without_model(history, as_of_day, mtd, len(future_days), plan_rub, seed)
    train = history.tail(MAX_TRAIN_DAYS)
    prophet_mean, prophet_totals = prophet_remaining(train, future_days, seed=seed)
    catboost_mean = catboost_remaining(train, future_days, seed=seed)
    estimate = None
    if deals is not None:
        estimate = pipeline_estimate(
            deals, stages if stages is not None else pl.DataFrame(schema=STAGES_SCHEMA), as_of_day
        )
    return Parts(
        as_of_day=as_of_day,
        mtd_rub=mtd,
        history_days=history_days,
        remaining_days=len(future_days),
        prophet_rub=prophet_mean,
        prophet_totals=prophet_totals,
        catboost_rub=catboost_mean,
        pipeline=estimate,
        last_year_rub=last_year_remaining(history, as_of_day),
        orders_rub=orders_remaining(deals, as_of_day),
    )


def _row(
    as_of_day: date,
    plan_rub: float | None,
    mtd: float,
    history_days: int,
    forecast: float,
    low: float,
    high: float,
    prob: float | None,
    model: str,
    parts: Parts | None = None,
) -> MonthEndForecast:
    def month_end_of(remaining: float | None) -> float | None:
        return None if remaining is None else round(mtd + remaining, 2)

    return MonthEndForecast(
        as_of_day=as_of_day,
        month=month_bounds(as_of_day)[0],
        scope="company",
        plan_rub=plan_rub,
        actual_mtd_rub=round(mtd, 2),
        forecast_rub=round(forecast, 2),
        forecast_low_rub=round(low, 2),
        forecast_high_rub=round(high, 2),
        prob_reach_plan=prob,
        ruler_rub=round(ruler(mtd, as_of_day), 2),
        model=model,
        history_days=history_days,
        prophet_rub=month_end_of(parts.prophet_rub) if parts else None,
        catboost_rub=month_end_of(parts.catboost_rub) if parts else None,
        last_year_rub=month_end_of(parts.last_year_rub) if parts else None,
        pipeline_rub=month_end_of(parts.pipeline_rub) if parts else None,
        orders_rub=month_end_of(parts.orders_rub) if parts else None,
        open_deals_expected_rub=(
            round(parts.pipeline.expected_rub, 2) if parts is not None and parts.pipeline is not None else None
        ),
        open_deals=parts.pipeline.open_deals if parts is not None and parts.pipeline is not None else None,
        new_deals_share=(
            round(parts.pipeline.new_share, 4) if parts is not None and parts.pipeline is not None else None
        ),
    )


def _without_model(
    history: pl.DataFrame, as_of_day: date, mtd: float, remaining_days: int, plan_rub: float | None, seed: int
) -> MonthEndForecast:
    """The month is complete (the actual), or the history is too short for a model (the ruler)."""
    history_days = history.height
    if not remaining_days:  # the last day of the month: the month is known
        prob = None if not plan_rub else float(mtd >= plan_rub)
        return _row(as_of_day, plan_rub, mtd, history_days, mtd, mtd, mtd, prob, "actual (month complete)")
    # Too little history for a model: the ruler, with a spread from resampling the days seen.
    run_rate = ruler(mtd, as_of_day)
    observed = history["revenue_rub"].to_numpy() if history_days else np.zeros(1)
    rng = np.random.default_rng(seed)
    totals = mtd + rng.choice(observed, size=(N_SAMPLES, remaining_days)).sum(axis=1)
    low, high = np.quantile(totals, [(1 - INTERVAL) / 2, (1 + INTERVAL) / 2])
    return _row(
        as_of_day,
        plan_rub,
        mtd,
        history_days,
        run_rate,
        min(float(low), run_rate),
        max(float(high), run_rate),
        _prob(totals, plan_rub),
        f"ruler (history {history_days} days < {MIN_HISTORY_DAYS})",
    )


def combine(
    parts: Parts, plan_rub: float | None, calibration: Calibration | None = None, seed: int = 0
) -> MonthEndForecast:
    """The month-end forecast from fitted parts: weighted remaining revenue, 80 % interval, P(plan).

    With a calibration (learned from earlier months' forecasts, see `calibration.learn`): its weights
    and its interval (a Student t prediction interval from those months' relative errors). Without one: the parts weighed
    equally and Prophet's simulated totals, recentred and widened by the parts' disagreement.
    """
    components = parts.components()
    if calibration is not None:
        weights = calibration.weights_for(components)
    else:
        weights = {name: 1.0 / len(components) for name in components}
    remaining = sum(weights[name] * value for name, value in components.items())
    forecast = parts.mtd_rub + remaining
    names = "+".join(name for name, w in weights.items() if w > 0) or "none"
    if calibration is not None:
        totals = np.maximum(forecast * (1.0 + calibration.relative_draws()), parts.mtd_rub)
        model = f"{names} (weights learned on {calibration.months} months)"
    else:
        # Prophet's simulated totals (day noise + trend), recentred on the weighted mean, plus the
        # parts' disagreement, which Prophet's MAP fit leaves out.
        rng = np.random.default_rng(seed)
        values = np.array(list(components.values()))
        model_sd = float(values.max() - values.min()) / 2
        spread = parts.prophet_totals - parts.prophet_totals.mean()
        spread = spread + rng.normal(0.0, model_sd, spread.shape)
        totals = parts.mtd_rub + np.clip(remaining + spread, 0.0, None)
        model = "prophet+catboost" if names == "prophet+catboost" else names
    low, high = np.quantile(totals, [(1 - INTERVAL) / 2, (1 + INTERVAL) / 2])
    return _row(
        parts.as_of_day,
        plan_rub,
        parts.mtd_rub,
        parts.history_days,
        forecast,
        min(float(low), forecast),
        max(float(high), forecast),
        _prob(totals, plan_rub),
        model,
        parts,
    )


def forecast_month_end(
    daily: pl.DataFrame,
    as_of_day: date,
    plan_rub: float | None,
    *,
    deals: pl.DataFrame | None = None,
    stages: pl.DataFrame | None = None,
    past: pl.DataFrame | None = None,
    seed: int = 0,
) -> MonthEndForecast:
    """Month-end forecast for `as_of_day`'s month from company revenue per day (`day`, `revenue_rub`).

    Only rows with day <= as_of_day are used, of the revenue, the deals (created by then) and their
    stage history (entered by then). `plan_rub` None (no plan) leaves the probability empty.
    `deals` (deal_id, pipeline_id, created_day, closed_day, is_won, amount_rub) add the open
    pipeline's part; `past` (earlier rows of ml.forecast_month_end) the weights and interval learned
    on the months that ended before the as-of day (their actuals from `daily`).
    """
    return forecast_with_deals(daily, as_of_day, plan_rub, deals=deals, stages=stages, past=past, seed=seed)[0]


DEAL_COLUMNS = {
    "as_of_day": pl.Date,
    "month": pl.Date,
    "deal_id": pl.Int64,
    "pipeline_id": pl.Int64,
    "stage_id": pl.Utf8,
    "age_days": pl.Int64,
    "amount_rub": pl.Float64,
    "probability": pl.Float64,
    "expected_rub": pl.Float64,
}


def forecast_with_deals(
    daily: pl.DataFrame,
    as_of_day: date,
    plan_rub: float | None,
    *,
    deals: pl.DataFrame | None = None,
    stages: pl.DataFrame | None = None,
    past: pl.DataFrame | None = None,
    seed: int = 0,
) -> tuple[MonthEndForecast, pl.DataFrame]:
    """The forecast and "the forecast down to deals": each deal open at the end of the as-of day with
    its probability of being won by month end and amount × probability, largest first (DEAL_COLUMNS;
    empty without deals or without a model)."""
    fitted = fit_parts(daily, as_of_day, plan_rub, deals=deals, stages=stages, seed=seed)
    if isinstance(fitted, MonthEndForecast):
        return fitted, pl.DataFrame(schema=DEAL_COLUMNS)
    learned = None
    if past is not None:
        learned = calibration.learn(
            past, calibration.month_actuals(daily, as_of_day), as_of_day, available=list(fitted.components())
        )
    result = combine(fitted, plan_rub, learned, seed)
    if fitted.pipeline is None:
        return result, pl.DataFrame(schema=DEAL_COLUMNS)
    expected = (
        fitted.pipeline.deals.with_columns(
            pl.lit(as_of_day).alias("as_of_day"),
            pl.lit(result.month).alias("month"),
            (pl.col("amount_rub") * pl.col("probability")).alias("expected_rub"),
        )
        .select([pl.col(c).cast(t) for c, t in DEAL_COLUMNS.items()])
        .sort(["expected_rub", "deal_id"], descending=[True, False])
    )
    return result, expected
