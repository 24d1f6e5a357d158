"""The 80 % interval and the probability of plan of each department, manager and pipeline, learned
from how far that scope's own earlier forecasts missed: pure functions.

The allocated forecast (scopes.py) is one number per scope; how sure it is differs a lot between a
department (errors of a few per cent) and a manager with three deals a month (errors of tens of per
cent). The company's interval, shared out, covered 61 / 33 / 27 % of department / pipeline / manager
months instead of 80 %. So each scope's interval comes from the backfill, like the company's:

- errors: for each scope and each month that ended before the as-of day (at most `MAX_MONTHS` back),
  the relative error actual / forecast − 1 of the forecasts made within ± `DAY_WINDOW` days of the
  as-of day's day of month (the same horizon; several such days of one month are averaged);
- scale: the scope's mean absolute error, drawn towards the mean of its kind while few months back
  it ((own sum + `SHRINK_MONTHS` × kind's mean) / (own months + `SHRINK_MONTHS`)); a scope never seen
  gets its kind's mean;
- shift: the scope's own bias, its mean error drawn towards none (sum / (months + `BIAS_MONTHS`)). The
  allocation splits the company's remainder by the 90-day won share, so a growing department is
  under-forecast month after month; the point forecast keeps adding up to the company's, the
  interval and P(plan) move with the scope's history;
- shape: each past error, less its scope's shift, over its scope's scale (both learned without that
  month, so out of sample), pooled over every scope of the kind; the interval is forecast × (1 + shift
  + scale × the pooled quantiles at the split-conformal levels (the 90th percentile read at
  0.9 × (n + 1) / n of n errors, capped at the largest: a small pool is not trusted to know its own
  tail), its low end never below the month to date and the forecast always inside (normalised conformal
  prediction: the pooled quantile keeps the kind's coverage near 80 %, the scale makes a steady scope's
  interval narrow and an erratic one's wide);
- P(plan): the share of the pooled errors with which the scope would reach plan, read through the
  same shift and scale (P(forecast × (1 + shift + scale × r) ≥ plan)).

Fewer than `MIN_ERRORS` scope-months of a kind: nothing is learned for it, and allocate's interval
(the company's, shared out) stays, said in `interval_method`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from assets.forecast.model import INTERVAL

DAY_WINDOW = 2  # forecasts made within ± this many days of the month are "the same horizon"
MAX_MONTHS = 12  # the most recent months only: a team changes
MIN_ERRORS = 6  # scope-months of a kind before its interval is learned
SHRINK_MONTHS = 6.0  # a scope's own errors are trusted months / (months + this); the rest is its kind's
BIAS_MONTHS = 2.0  # a scope's own mean error is trusted months / (months + this); the rest is no bias
LEARNED = "learned: the scope's own past errors at this day of month, their shape pooled by kind"
SHARED = "the company's relative interval, shared out (too few past months to learn from)"

ERROR_COLUMNS = {"scope_type": pl.Utf8, "scope_id": pl.Int64, "month": pl.Date, "error": pl.Float64}


def relative_errors(past: pl.DataFrame, actuals: pl.DataFrame, as_of_day: date) -> pl.DataFrame:
    """One row per scope and ended month: the mean of actual / forecast − 1 over its forecasts made
    near `as_of_day`'s day of month (ERROR_COLUMNS).

    `past`: ml.forecast_scopes rows (as_of_day, month, scope_type, scope_id, forecast_rub), any months;
    `actuals`: month, scope_type, scope_id, actual_rub (a scope-month with no row made nothing: 0).
    Only months before `as_of_day`'s are used, at most MAX_MONTHS back; a forecast of 0 has no
    relative error and is left out.
    """
    month_start = as_of_day.replace(day=1)
    oldest = _months_back(month_start)
    if past.is_empty():
        return pl.DataFrame(schema=ERROR_COLUMNS)
    near = past.select(
        pl.col("as_of_day").cast(pl.Date),
        pl.col("month").cast(pl.Date),
        pl.col("scope_type").cast(pl.Utf8),
        pl.col("scope_id").cast(pl.Int64),
        pl.col("forecast_rub").cast(pl.Float64),
    ).filter(
        (pl.col("month") < month_start)
        & (pl.col("month") >= oldest)
        & ((pl.col("as_of_day").dt.day().cast(pl.Int64) - as_of_day.day).abs() <= DAY_WINDOW)
        & (pl.col("forecast_rub") > 0)
    )
    known = actuals.select(
        pl.col("month").cast(pl.Date),
        pl.col("scope_type").cast(pl.Utf8),
        pl.col("scope_id").cast(pl.Int64),
        pl.col("actual_rub").cast(pl.Float64),
    )
    return (
        near.join(known, on=["month", "scope_type", "scope_id"], how="left")
        .with_columns((pl.col("actual_rub").fill_null(0.0) / pl.col("forecast_rub") - 1.0).alias("error"))
        .group_by(["scope_type", "scope_id", "month"])
        .agg(pl.col("error").mean())
        .sort(["scope_type", "scope_id", "month"])
        .select([pl.col(c).cast(t) for c, t in ERROR_COLUMNS.items()])
    )


def _months_back(month_start: date) -> date:
    """The first day of the month MAX_MONTHS before `month_start`."""
    index = month_start.year * 12 + month_start.month - 1 - MAX_MONTHS
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class KindErrors:
    """What is learned for one kind of scope (department, manager or pipeline)."""

    kind_scale: float  # the kind's mean absolute relative error
    scales: dict[int, float]  # each scope's shrunk mean absolute relative error
    shifts: dict[int, float]  # each scope's shrunk mean relative error (its bias)
    months: dict[int, int]  # each scope's own months learned from
    standardised: np.ndarray  # every scope-month's (error − shift) ÷ scale, both learned without it
    scope_months: int  # scope-months learned from

    def scale(self, scope_id: int) -> float:
        return self.scales.get(scope_id, self.kind_scale)

    def shift(self, scope_id: int) -> float:
        return self.shifts.get(scope_id, 0.0)

    def bounds(self) -> tuple[float, float]:
        """The pooled standardised errors' quantiles for the 80 % interval, at the split-conformal levels
        (upper 0.9 × (n + 1) / n, lower its mirror, capped at the extremes)."""
        n = len(self.standardised)
        upper = min(1.0, (1 + INTERVAL) / 2 * (n + 1) / n)
        low, high = np.quantile(self.standardised, [1.0 - upper, upper])
        return float(low), float(high)


def learn(errors: pl.DataFrame) -> dict[str, KindErrors]:
    """Per kind of scope with at least MIN_ERRORS scope-months: scales and the pooled shape."""
    learned: dict[str, KindErrors] = {}
    for kind in sorted(set(errors["scope_type"].to_list())):
        rows = errors.filter(pl.col("scope_type") == kind)
        if rows.height < MIN_ERRORS:
            continue
        absolute = rows["error"].abs()
        kind_scale = float(absolute.mean())  # type: ignore[arg-type]  # a Float64 mean
        if kind_scale <= 0:
            continue  # every past forecast exact: nothing to learn a spread from
        scales: dict[int, float] = {}
        shifts: dict[int, float] = {}
        months: dict[int, int] = {}
        standardised: list[float] = []
        for (scope_id,), own in rows.group_by(["scope_id"], maintain_order=True):
            e = own["error"].to_numpy()
            total, signed, n = float(np.abs(e).sum()), float(e.sum()), len(e)
            scales[int(scope_id)] = (total + SHRINK_MONTHS * kind_scale) / (n + SHRINK_MONTHS)
            shifts[int(scope_id)] = signed / (n + BIAS_MONTHS)
            months[int(scope_id)] = n
            for value in e:
                scale = (total - abs(value) + SHRINK_MONTHS * kind_scale) / (n - 1 + SHRINK_MONTHS)
                shift = (signed - value) / (n - 1 + BIAS_MONTHS)
                standardised.append((float(value) - shift) / scale)
        learned[kind] = KindErrors(kind_scale, scales, shifts, months, np.asarray(standardised), rows.height)
    return learned


def apply(scoped: pl.DataFrame, learned: dict[str, KindErrors]) -> pl.DataFrame:
    """`scoped` (scopes.allocate's rows) with the learned interval and P(plan) where its kind has
    been learned; `interval_method` and `interval_months` (the scope's own months behind it) say which."""
    rows: list[dict[str, Any]] = []
    for row in scoped.iter_rows(named=True):
        kind = learned.get(row["scope_type"])
        if kind is None:
            rows.append({**row, "interval_method": SHARED, "interval_months": 0})
            continue
        scale, shift = kind.scale(row["scope_id"]), kind.shift(row["scope_id"])
        low, high = interval(row["forecast_rub"], row["actual_mtd_rub"], scale, kind.bounds(), shift)
        rows.append(
            {
                **row,
                "forecast_low_rub": round(low, 2),
                "forecast_high_rub": round(high, 2),
                "prob_reach_plan": probability(
                    row["forecast_rub"], row["actual_mtd_rub"], row["plan_rub"], scale, kind.standardised, shift
                ),
                "interval_method": LEARNED,
                "interval_months": kind.months.get(row["scope_id"], 0),
            }
        )
    schema = pl.Schema(scoped.schema)
    schema["interval_method"], schema["interval_months"] = pl.Utf8(), pl.Int64()
    return pl.DataFrame(rows, schema=schema, orient="row")


def interval(
    forecast: float, mtd: float, scale: float, bounds: tuple[float, float], shift: float = 0.0
) -> tuple[float, float]:
    """forecast × (1 + shift + scale × each bound), never below the month to date, always holding the forecast."""
    low = max(forecast * (1 + shift + scale * bounds[0]), mtd)
    high = forecast * (1 + shift + scale * bounds[1])
    return min(low, forecast), max(high, forecast)


def probability(
    forecast: float, mtd: float, plan: float | None, scale: float, standardised: np.ndarray, shift: float = 0.0
) -> float | None:
    """Share of the pooled errors with which the month would reach `plan` (1 once the month to date has)."""
    if plan is None:
        return None
    if mtd >= plan:
        return 1.0
    if forecast <= 0 or scale <= 0:
        return float(forecast >= plan)
    outcomes = np.maximum(forecast * (1 + shift + scale * standardised), mtd)
    return float(np.mean(outcomes >= plan))
