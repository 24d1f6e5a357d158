"""Month-end forecast accuracy on two worlds, side by side: the model, each part alone and the ruler.

For every evaluated month and as-of day 5, 10, 15, 20, 25 (the as-of day's revenue known, no plan),
the forecast is made exactly as the asset makes it (assets/forecast/model.py, nothing after the
as-of day), and compared with the realised month:

- M: the demo world (seed 42, 24 months through --today), company scope, its last 12 complete months;
- Superstore: Tableau's public orders loaded through the CRM-export source, every month with a year
  of history (2015-01 … 2017-12).

Columns: MAPE of the model, of the same model learned and weighed without the orders part (what it was
before that part, walked forward in the same run), of the model before issue 11 (Prophet + CatBoost
50/50, Prophet's interval), of each part alone (Prophet, CatBoost, last year, the pipeline model: open
deals × probability + the new deals' share of the time series; orders: expected orders still to come ×
the year's mean order) and of the ruler (month to date / days elapsed × days in month);
the model's bias (mean signed error, + = over), its 80 % interval's coverage and mean width (share of
the actual), the same for "before".

The weights and the interval of "model" are learned walk-forward: each month's forecasts use only the
forecasts of months that ended before (assets/forecast/calibration.py), so the months before the
evaluated ones are forecast too (not scored). Fitted parts are cached in --cache (`--refit` to fit
again), so changing only how parts are combined re-runs in seconds.

    .venv/bin/python -m benchmarks.forecast_accuracy [--today 2026-12-01] [--cache /tmp/forecast_bench]
"""

from __future__ import annotations

import argparse
import pickle
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import cast

import numpy as np
import polars as pl

from assets.forecast import calibration
from assets.forecast.model import (
    MonthEndForecast,
    Parts,
    combine,
    dense_history,
    fit_parts,
    last_year_remaining,
    orders_remaining,
    ruler,
    to_frame,
)
from assets.forecast.pipeline import estimate as pipeline_estimate
from assets.forecast.pipeline import same_day
from benchmarks.forecast_worlds import WorldData, build_superstore, build_world, read_world

DAYS = (5, 10, 15, 20, 25)


@dataclass(frozen=True)
class Scored:
    month: date
    day: int
    actual: float
    forecast: MonthEndForecast  # the model (weights and interval learned)
    without_orders: MonthEndForecast  # the same, learned and weighed without the orders part
    before: MonthEndForecast  # Prophet + CatBoost 50/50 (the model before issue 11)


def _months(first: date, last: date) -> list[date]:
    out, m = [], first
    while m <= last:
        out.append(m)
        m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return out


def _fit_all(world: WorldData, months: list[date], cache: Path, refit: bool) -> dict[date, Parts | MonthEndForecast]:
    """Every (month, day)'s fitted parts, from the cache when there."""
    path = cache / f"parts_{world.name}.pkl"
    fitted: dict[date, Parts | MonthEndForecast] = {}
    if path.exists() and not refit:
        fitted = pickle.loads(path.read_bytes())
    todo = [same_day(m, d) for m in months for d in DAYS if same_day(m, d) not in fitted]
    started = time.perf_counter()
    for i, day in enumerate(todo, 1):
        fitted[day] = fit_parts(world.revenue, day)
        if i % 20 == 0:
            print(f"  {world.name}: {i}/{len(todo)} fitted ({time.perf_counter() - started:.0f} s)", flush=True)
            path.write_bytes(pickle.dumps(fitted))
    path.write_bytes(pickle.dumps(fitted))
    return fitted


def evaluate(world: WorldData, first_scored: date, last_scored: date, cache: Path, refit: bool) -> list[Scored]:
    """Walk forward over the months before and through the scored ones; score the scored ones."""
    first_day = cast(date, world.revenue["day"].min())
    first_fitted = max(first_scored.replace(year=first_scored.year - 1), first_day.replace(day=1))
    months = _months(first_fitted, last_scored)
    fitted = _fit_all(world, months, cache, refit)
    actuals = calibration.month_actuals(world.revenue, date(last_scored.year + 1, 1, 1))
    has_deals = world.deals.filter(pl.col("created_day") < pl.col("closed_day")).height > 0
    rows: list[MonthEndForecast] = []
    rows_without: list[MonthEndForecast] = []  # the model without the orders part, walked forward beside
    scored: list[Scored] = []
    for month in months:
        for d in DAYS:
            day = same_day(month, d)
            parts = fitted[day]
            if isinstance(parts, MonthEndForecast):  # too little history: the ruler
                continue
            history = dense_history(world.revenue, day)
            parts = Parts(
                **{
                    **parts.__dict__,
                    "pipeline": pipeline_estimate(world.deals, world.stages, day) if has_deals else None,
                    "last_year_rub": last_year_remaining(history, day),
                    "orders_rub": orders_remaining(world.deals, day),
                }
            )
            past = to_frame(rows)
            cal = calibration.learn(past, actuals, day, available=list(parts.components()))
            forecast = combine(parts, None, cal)
            no_orders = Parts(**{**parts.__dict__, "orders_rub": None})
            cal = calibration.learn(to_frame(rows_without), actuals, day, available=list(no_orders.components()))
            without_orders = combine(no_orders, None, cal)
            rows_without.append(without_orders)
            before = combine(
                Parts(**{**parts.__dict__, "pipeline": None, "last_year_rub": None, "orders_rub": None}), None, None
            )
            rows.append(forecast)
            if first_scored <= month <= last_scored and month in actuals:
                scored.append(Scored(month, d, actuals[month], forecast, without_orders, before))
    return scored


def table(name: str, scored: list[Scored]) -> list[str]:
    lines = []
    for d in DAYS:
        s = [x for x in scored if x.day == d]
        if not s:
            continue
        actual = np.array([x.actual for x in s])

        def mape(values: list[float | None], actual: np.ndarray = actual) -> str:
            if any(v is None for v in values):
                return "—"
            return f"{np.mean(np.abs(np.array(values, dtype=float) - actual) / actual) * 100:.1f}"

        model = np.array([x.forecast.forecast_rub for x in s])
        low = np.array([x.forecast.forecast_low_rub for x in s])
        high = np.array([x.forecast.forecast_high_rub for x in s])
        b_low = np.array([x.before.forecast_low_rub for x in s])
        b_high = np.array([x.before.forecast_high_rub for x in s])
        bias = np.mean((model - actual) / actual) * 100
        lines.append(
            f"| {name} | {d} | {len(s)} | **{mape(list(model))}** | {mape([x.without_orders.forecast_rub for x in s])} "
            f"| {mape([x.before.forecast_rub for x in s])} "
            f"| {mape([x.forecast.prophet_rub for x in s])} | {mape([x.forecast.catboost_rub for x in s])} "
            f"| {mape([x.forecast.last_year_rub for x in s])} | {mape([x.forecast.pipeline_rub for x in s])} "
            f"| {mape([x.forecast.orders_rub for x in s])} "
            f"| {mape([ruler(x.forecast.actual_mtd_rub, x.forecast.as_of_day) for x in s])} | {bias:+.1f} "
            f"| {np.mean((low <= actual) & (actual <= high)):.2f} ({np.mean((high - low) / actual) * 100:.0f} %) "
            f"| {np.mean((b_low <= actual) & (actual <= b_high)):.2f} ({np.mean((b_high - b_low) / actual) * 100:.0f} %) |"
        )
    return lines


HEADER = [
    "| world | as-of day | months | model MAPE % | without orders | before (50/50) | Prophet alone | CatBoost alone | last year alone "
    "| pipeline alone | orders alone "
    "| ruler | model bias % | model 80 % covers (width) | before covers (width) |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--today", default="2026-12-01", help="the M world's today (its last 12 months are scored)")
    parser.add_argument("--cache", default="/tmp/forecast_bench", type=Path)
    parser.add_argument("--datasets", default=None, type=Path, help="the datasets folder (default DATASETS_DIR)")
    parser.add_argument("--refit", action="store_true", help="fit every part again (ignore cached fits)")
    parser.add_argument("--rebuild", action="store_true", help="build the worlds' warehouses again")
    parser.add_argument("--only", choices=["M", "superstore"], default=None)
    parser.add_argument(
        "--shrink-months", type=float, default=None, help="what if: calibration.SHRINK_MONTHS (learned weights' pull)"
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.rebuild:
        for old in args.cache.glob("*.duckdb"):
            old.unlink()
    if args.shrink_months is not None:
        calibration.SHRINK_MONTHS = args.shrink_months
    today = date.fromisoformat(args.today)
    from resources.settings import load_settings

    datasets = args.datasets or load_settings().datasets_dir
    started = time.perf_counter()
    lines = list(HEADER)
    if args.only in (None, "M"):
        m = read_world("M", build_world(args.cache, today))
        last = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)  # the last complete month
        first = date(last.year - 1, last.month, 1)
        first = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        lines += table("M", evaluate(m, first, last, args.cache, args.refit))
    if args.only in (None, "superstore"):
        s = read_world("superstore", build_superstore(args.cache, datasets))
        lines += table("Superstore", evaluate(s, date(2015, 1, 1), date(2017, 12, 1), args.cache, args.refit))
    print("\n".join(lines))
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
