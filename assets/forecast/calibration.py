"""Weights between the forecast's parts and its interval, learned from the forecasts of earlier months.

Backtest = backfill: every as-of day's forecast keeps each part's month end alone (Prophet, CatBoost,
the pipeline model). Once a month has ended its actual is known, so the forecasts made on about the
same day of earlier months say how much to trust each part at this point of the month, and how far
off the weighted forecast was: the weights are non-negative least squares on those months (relative
errors, so a big month does not outweigh a small one), and the 80 % interval is drawn from their
out-of-sample relative errors (each month forecast with weights learned without it). Only months that ended before the as-of day are used.
Too few such months (under `MIN_MONTHS`): no calibration, the parts weigh equally; and the learned
weights are drawn towards equal ones while few months back them (twelve months are a small sample).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

SCALE_OF_MAE = float(np.sqrt(np.pi / 2))  # a normal error's sd is 1.2533 × its mean absolute value
DRAWS = 2000  # quantiles of the error distribution the interval and P(plan) are read from
MIN_MONTHS = 6  # earlier months with a forecast near this day before weights are learned
MAX_MONTHS = 12  # the most recent months only: a company changes
DAY_WINDOW = 2  # forecasts made within ± this many days of the month are "the same day"
SUM_STIFFNESS = 100.0  # weights sum to one: each part is a whole estimate, the weights choose between them
SHRINK_MONTHS = 6.0  # learned weights are trusted months / (months + this); the rest is equal weights
PARTS = ("prophet", "catboost", "last_year", "pipeline", "orders")  # column `<part>_rub`: the part's month end alone


@dataclass(frozen=True)
class Calibration:
    """Learned weights per part and the relative errors the interval is drawn from."""

    weights: dict[str, float]
    errors: np.ndarray = field(repr=False)  # actual / forecast - 1 of the months learned on
    months: int

    def relative_draws(self, n: int = DRAWS) -> np.ndarray:
        """Evenly spaced quantiles of the next month's relative error: normal, with the sd a normal
        error of the seen errors' mean absolute value would have (× 1.2533; one wild month moves it
        less than a root mean square would, and their own 10th and 90th percentiles are a poor
        guess from a dozen months). The errors are out of sample already (see `_fit`)."""
        from scipy.stats import norm

        scale = float(SCALE_OF_MAE * np.mean(np.abs(self.errors)))
        return scale * norm.ppf((np.arange(n) + 0.5) / n)

    def weights_for(self, components: dict[str, float]) -> dict[str, float]:
        """The learned weights of the parts present today, summing to one (a part not learned gets none)."""
        weights = {name: self.weights.get(name, 0.0) for name in components}
        total = sum(weights.values())
        if total <= 0:
            return {name: 1.0 / len(components) for name in components}
        return {name: w / total for name, w in weights.items()}


def learn(
    past: pl.DataFrame, actuals: dict[date, float], as_of_day: date, available: Sequence[str] = PARTS
) -> Calibration | None:
    """Weights and errors from earlier forecasts (`past`: as_of_day, month, actual_mtd_rub and the
    parts' `<part>_rub` month ends) made near `as_of_day`'s day of month, of months that ended before it.

    `available`: the parts today's forecast has. A part missing from too many earlier forecasts (the
    pipeline before deals were read, last year's month in the first year) is left out of the learning
    rather than leaving out the months: the parts kept are those with `MIN_MONTHS` months that have them all.
    """
    month_start = as_of_day.replace(day=1)
    present = [p for p in PARTS if p in available and f"{p}_rub" in past.columns]
    if past.is_empty() or not present:
        return None
    rows = past.filter(
        (pl.col("month") < month_start)
        & ((pl.col("as_of_day").dt.day().cast(pl.Int64) - as_of_day.day).abs() <= DAY_WINDOW)
        & pl.col("month").is_in([m for m, v in actuals.items() if v and v > 0])
    )
    while present:
        complete = rows.filter(pl.all_horizontal([pl.col(f"{p}_rub").is_not_null() for p in present]))
        months = sorted(set(complete["month"].to_list()), reverse=True)[:MAX_MONTHS]
        if len(months) >= MIN_MONTHS:
            return _fit(complete.filter(pl.col("month").is_in(months)), actuals, present, len(months))
        present.remove(max(present, key=lambda p: rows[f"{p}_rub"].null_count()))
    return None


def _fit(rows: pl.DataFrame, actuals: dict[date, float], present: list[str], months: int) -> Calibration | None:
    actual = np.array([actuals[m] for m in rows["month"].to_list()], dtype=float)
    mtd = rows["actual_mtd_rub"].to_numpy().astype(float)
    remaining = np.column_stack([rows[f"{p}_rub"].to_numpy().astype(float) - mtd for p in present])
    a = remaining / actual[:, None]
    b = (actual - mtd) / actual
    w = blend_weights(a, b, months)
    if w is None:
        return None
    # the interval from out-of-sample errors: each month forecast with weights learned without it
    # (in-sample errors of a least-squares fit are too small, and the interval too narrow)
    errors = np.empty(len(b))
    for i in range(len(b)):
        others = np.arange(len(b)) != i
        w_i = blend_weights(a[others], b[others], months - 1)
        share = mtd[i] / actual[i] + a[i] @ (w if w_i is None else w_i)  # forecast / actual
        errors[i] = 1.0 / max(share, 1e-9) - 1.0
    return Calibration(weights=dict(zip(present, (float(x) for x in w))), errors=errors, months=months)


def blend_weights(a: np.ndarray, b: np.ndarray, months: int) -> np.ndarray | None:
    """Non-negative weights summing to one that best explain b by a (a stiff extra row holds the sum),
    drawn towards the prior below while few months (or weeks, for the week's forecast) back them
    (months / (months + SHRINK_MONTHS))."""
    from scipy.optimize import nnls

    a = np.vstack([a, np.full(a.shape[1], SUM_STIFFNESS)])
    b = np.append(b, SUM_STIFFNESS)
    w, _ = nnls(a, b)
    if not np.any(w > 0):
        return None
    trust = months / (months + SHRINK_MONTHS)
    # the prior: each part weighed by how small its own past errors were (inverse mean squared error)
    mse = ((a - b[:, None]) ** 2)[:-1].mean(axis=0)
    prior = 1.0 / np.maximum(mse, 1e-12)
    return trust * w / w.sum() + (1 - trust) * prior / prior.sum()


def month_actuals(daily: pl.DataFrame, before: date) -> dict[date, float]:
    """Each complete month's revenue before `before`'s month (`daily`: day, revenue_rub)."""
    month_start = before.replace(day=1)
    frame = (
        daily.select(pl.col("day").cast(pl.Date), pl.col("revenue_rub").cast(pl.Float64).fill_null(0.0))
        .filter(pl.col("day") < month_start)
        .group_by(pl.col("day").dt.truncate("1mo").alias("month"))
        .agg(pl.col("revenue_rub").sum())
    )
    return dict(zip(frame["month"].to_list(), frame["revenue_rub"].to_list()))
