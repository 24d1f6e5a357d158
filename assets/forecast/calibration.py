"""Weights between the forecast's parts and its interval, learned from the forecasts of earlier months.

Backtest = backfill: every as-of day's forecast keeps each part's month end alone (Prophet, CatBoost,
the pipeline model). Once a month has ended its actual is known, so the forecasts made on about the
same day of earlier months say how much to trust each part at this point of the month, and how far
off the weighted forecast was: the weights are non-negative least squares on those months (relative
errors, so a big month does not outweigh a small one), and the 80 % interval is the spread of their
relative errors around the point. Only months that ended before the as-of day are used.
Too few such months (under `MIN_MONTHS`): no calibration, the parts weigh equally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

MIN_MONTHS = 6  # earlier months with a forecast near this day before weights are learned
MAX_MONTHS = 12  # the most recent months only: a company changes
DAY_WINDOW = 2  # forecasts made within ± this many days of the month are "the same day"
CONVEX = True  # weights sum to one: the parts are each a whole estimate, the weights choose between them
SUM_STIFFNESS = 100.0
PARTS = ("prophet", "catboost", "pipeline")  # column `<part>_rub`: the part's month end alone


@dataclass(frozen=True)
class Calibration:
    """Learned weights per part and the relative errors the interval is drawn from."""

    weights: dict[str, float]
    errors: np.ndarray = field(repr=False)  # actual / forecast - 1 of the months learned on
    months: int

    def weights_for(self, components: dict[str, float]) -> dict[str, float]:
        """The learned weights of the parts present (a part absent today gets none)."""
        return {name: self.weights.get(name, 0.0) for name in components}


def learn(past: pl.DataFrame, actuals: dict[date, float], as_of_day: date) -> Calibration | None:
    """Weights and errors from earlier forecasts (`past`: as_of_day, month, actual_mtd_rub and the
    parts' `<part>_rub` month ends) made near `as_of_day`'s day of month, of months that ended before it."""
    month_start = as_of_day.replace(day=1)
    present = [p for p in PARTS if f"{p}_rub" in past.columns]
    if past.is_empty() or not present:
        return None
    rows = past.filter(
        (pl.col("month") < month_start)
        & ((pl.col("as_of_day").dt.day().cast(pl.Int64) - as_of_day.day).abs() <= DAY_WINDOW)
    )
    # a part is used when every row has it (the pipeline part exists only where deals were given)
    present = [p for p in present if rows.height and rows[f"{p}_rub"].null_count() == 0]
    if not present:
        return None
    months = sorted({m for m in rows["month"].to_list() if actuals.get(m)}, reverse=True)[:MAX_MONTHS]
    if len(months) < MIN_MONTHS:
        return None
    rows = rows.filter(pl.col("month").is_in(months))
    actual = np.array([actuals[m] for m in rows["month"].to_list()], dtype=float)
    mtd = rows["actual_mtd_rub"].to_numpy().astype(float)
    remaining = np.column_stack([rows[f"{p}_rub"].to_numpy().astype(float) - mtd for p in present])
    keep = actual > 0
    if keep.sum() < MIN_MONTHS:
        return None
    a = remaining[keep] / actual[keep, None]
    b = (actual[keep] - mtd[keep]) / actual[keep]
    w = _weights(a, b)
    if w is None:
        return None
    # the interval from out-of-sample errors: each month forecast with weights learned without it
    # (in-sample errors of a least-squares fit are too small, and the interval too narrow)
    errors = np.empty(len(b))
    for i in range(len(b)):
        others = np.arange(len(b)) != i
        w_i = _weights(a[others], b[others])
        share = mtd[keep][i] / actual[keep][i] + a[i] @ (w if w_i is None else w_i)  # forecast / actual
        errors[i] = 1.0 / max(share, 1e-9) - 1.0
    return Calibration(weights=dict(zip(present, (float(x) for x in w))), errors=errors, months=len(months))


def _weights(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """Non-negative weights summing to one that best explain b by a (a stiff extra row holds the sum)."""
    from scipy.optimize import nnls

    if CONVEX:
        a = np.vstack([a, np.full(a.shape[1], SUM_STIFFNESS)])
        b = np.append(b, SUM_STIFFNESS)
    w, _ = nnls(a, b)
    return w if np.any(w > 0) else None


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
