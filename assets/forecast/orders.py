"""The "orders" part of the month-end forecast: expected number of orders still to come × the mean order value.

A shop's (or any lumpy book's) days swing with a few big orders, and a model of daily revenue reads
those swings as level: one $20 000 order in the last fortnight lifts Prophet's and CatBoost's level
for the rest of the month. The revenue still to come is the number of orders still to come times what
an order is worth, and the two behave very differently:

- the number of orders is smooth: a Poisson rate with a weekday profile, a season (month of year,
  once a whole year has been seen), a trend (log-linear in time) and Russian holidays, fitted by
  maximum likelihood on the won orders of the last `TRAIN_DAYS`; this month's own orders so far
  update it (a gamma-Poisson posterior on the month's multiplier, its prior's spread learned from how
  far earlier months strayed from the rate beyond chance: see `month_multiplier`);
- the value of an order is random, its expectation stable: the plain mean of the won orders of the
  last `VALUE_DAYS` (a year of orders: one big order moves it by a fraction of a per cent; a trimmed
  or median value would be steadier but biased low, and the forecast needs the expectation).

Only what is known at the end of the as-of day is used: orders won (closed) by then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

TRAIN_DAYS = 3 * 365  # the order rate's fitting window
VALUE_DAYS = 365  # the mean order value's window
MIN_DAYS = 56  # history (first won order to the as-of day) before the part is given
MIN_ORDERS = 30  # won orders in the value window before the part is given
YEAR_DAYS = 365  # month-of-year terms only once a whole year has been seen
RIDGE = 1.0  # a light pull of every term but the intercept towards 0 (a month with few days stays sane)


@dataclass(frozen=True)
class OrdersEstimate:
    """What the orders part says on the as-of day."""

    remaining_rub: float  # expected orders still to come × mean order value
    remaining_orders: float  # expected orders still to come this month
    mean_order_rub: float  # the mean won order of the value window
    month_multiplier: float  # this month's orders so far against the rate (posterior mean)


def won_orders_per_day(deals: pl.DataFrame, as_of_day: date) -> pl.DataFrame:
    """Won orders (count, revenue) per calendar day from the first won one through `as_of_day`, gaps as 0."""
    won = (
        deals.select(
            pl.col("closed_day").cast(pl.Date).alias("day"),
            pl.col("is_won").cast(pl.Boolean),
            pl.col("amount_rub").cast(pl.Float64).fill_null(0.0),
        )
        .filter(pl.col("is_won") & pl.col("day").is_not_null() & (pl.col("day") <= as_of_day))
        .group_by("day")
        .agg(pl.len().cast(pl.Float64).alias("orders"), pl.col("amount_rub").sum().alias("revenue_rub"))
    )
    if won.is_empty():
        return pl.DataFrame(schema={"day": pl.Date, "orders": pl.Float64, "revenue_rub": pl.Float64})
    first = won["day"].min()
    assert isinstance(first, date)
    days = pl.DataFrame({"day": pl.date_range(first, as_of_day, "1d", eager=True)})
    return days.join(won, on="day", how="left").fill_null(0.0).sort("day")


def _design(days: list[date], origin: date, yearly: bool, holidays: set[date]) -> np.ndarray:
    """Intercept, trend (years since `origin`), weekday (Monday the base), holiday and month-of-year
    (January the base, with `yearly`) columns for `days`."""
    t = np.array([(d - origin).days / 365.0 for d in days])
    dow = np.array([d.weekday() for d in days])
    cols = [np.ones(len(days)), t]
    cols += [(dow == k).astype(float) for k in range(1, 7)]
    cols.append(np.array([d in holidays for d in days], dtype=float))
    if yearly:
        month = np.array([d.month for d in days])
        cols += [(month == m).astype(float) for m in range(2, 13)]
    return np.column_stack(cols)


def fit_rate(x: np.ndarray, y: np.ndarray, iterations: int = 50) -> np.ndarray:
    """Poisson log-linear coefficients by Newton's method with a ridge on all but the intercept."""
    beta = np.zeros(x.shape[1])
    beta[0] = np.log(max(float(y.mean()), 1e-6))
    penalty = np.full(x.shape[1], RIDGE)
    penalty[0] = 0.0
    for _ in range(iterations):
        mu = np.exp(np.clip(x @ beta, -30, 30))
        gradient = x.T @ (y - mu) - penalty * beta
        hessian = (x * mu[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def month_multiplier(days: list[date], counts: np.ndarray, mu: np.ndarray, month_start: date, terms: int) -> float:
    """This month's multiplier on the fitted rate given its orders so far (posterior mean, 1 = as the rate says).

    How far a whole month strays from its rate beyond chance is read from the earlier months of the
    window: their observed ÷ expected orders vary by chance (the days' Pearson dispersion φ ÷ the
    expected orders: order lines come in bunches, so φ > 1) and by the month itself (the excess, v).
    With a gamma prior of mean 1 and variance v on the month, and this month's orders so far counted
    in units of φ, the posterior mean is (1/v + seen/φ) ÷ (1/v + expected/φ). No excess: no update.
    """
    dispersion = max(float(((counts - mu) ** 2 / np.maximum(mu, 1e-9)).sum()) / max(len(counts) - terms, 1), 1.0)
    month_of = np.array([d.year * 12 + d.month for d in days])
    this_month = month_start.year * 12 + month_start.month
    ratios, chance = [], []
    for m in np.unique(month_of[month_of < this_month]):
        inside = month_of == m
        expected = float(mu[inside].sum())
        if inside.sum() >= 28 and expected > 0:  # whole months only (the window's first may be cut)
            ratios.append(float(counts[inside].sum()) / expected)
            chance.append(dispersion / expected)
    excess = float(np.mean((np.array(ratios) - 1.0) ** 2) - np.mean(chance)) if len(ratios) >= 3 else 0.0
    if excess <= 0:
        return 1.0
    current = month_of == this_month
    seen, expected = float(counts[current].sum()), float(mu[current].sum())
    return (1.0 / excess + seen / dispersion) / (1.0 / excess + expected / dispersion)


def estimate(deals: pl.DataFrame, as_of_day: date, holidays: set[date] | None = None) -> OrdersEstimate | None:
    """The orders part as of `as_of_day` (`deals`: closed_day, is_won, amount_rub; any days, cut here).

    None when too little is known: under `MIN_DAYS` of won orders' history or `MIN_ORDERS` in the value
    window, or the month complete (nothing left to come).
    """
    month_start = as_of_day.replace(day=1)
    next_month = date(as_of_day.year + (as_of_day.month == 12), as_of_day.month % 12 + 1, 1)
    future = [as_of_day + timedelta(days=i) for i in range(1, (next_month - as_of_day).days)]
    per_day = won_orders_per_day(deals, as_of_day)
    if not future or per_day.height < MIN_DAYS:
        return None
    value_window = per_day.filter(pl.col("day") > as_of_day - timedelta(days=VALUE_DAYS))
    orders_in_window = float(value_window["orders"].sum())
    if orders_in_window < MIN_ORDERS:
        return None
    mean_order = float(value_window["revenue_rub"].sum()) / orders_in_window

    train = per_day.tail(TRAIN_DAYS)
    days = train["day"].to_list()
    counts = train["orders"].to_numpy()
    yearly = len(days) >= YEAR_DAYS
    holidays = holidays or set()
    x = _design(days, as_of_day, yearly, holidays)
    beta = fit_rate(x, counts)
    mu = np.exp(x @ beta)
    multiplier = month_multiplier(days, counts, mu, month_start, x.shape[1])
    remaining_orders = float(np.exp(_design(future, as_of_day, yearly, holidays) @ beta).sum()) * multiplier
    return OrdersEstimate(
        remaining_rub=max(remaining_orders * mean_order, 0.0),
        remaining_orders=remaining_orders,
        mean_order_rub=mean_order,
        month_multiplier=multiplier,
    )
