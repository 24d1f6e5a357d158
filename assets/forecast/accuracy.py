"""How far the past forecasts were from the month they forecast: MAPE, bias and interval coverage by horizon.

Backtest = backfill: every as-of day's row of ml.forecast_month_end is what the forecast said then,
so once its month has ended it can be scored against the realised month. Scored by horizon (the
as-of day of the month: 5, 10, 15, 20, 25, where a head of sales asks the question), for the model,
each of its parts alone (Prophet, CatBoost, last year's month, the pipeline model) and the run-rate ruler side by side,
so "is the model worth it" is answered by the company's own months, not by a promise.
docs/KPI.md: MAPE = mean |forecast - actual| / actual; bias = mean (forecast - actual) / actual
(+ over, - under); coverage = share of months whose actual fell inside the 80 % interval.
"""

from __future__ import annotations

from datetime import date

import polars as pl

HORIZONS = (5, 10, 15, 20, 25)
METHODS = {  # method -> the forecast column it is scored on
    "model": "forecast_rub",
    "prophet": "prophet_rub",
    "catboost": "catboost_rub",
    "last_year": "last_year_rub",
    "pipeline": "pipeline_rub",
    "ruler": "ruler_rub",
}
SCHEMA = {
    "as_of_day": pl.Date,
    "horizon_day": pl.Int64,
    "method": pl.Utf8,
    "months": pl.Int64,
    "first_month": pl.Date,
    "last_month": pl.Date,
    "mape": pl.Float64,
    "bias": pl.Float64,
    "interval_coverage": pl.Float64,
    "interval_width": pl.Float64,
}


def score(forecasts: pl.DataFrame, actuals: dict[date, float], as_of_day: date) -> pl.DataFrame:
    """One row per horizon and method over the company's forecasts of months ended before `as_of_day`'s.

    `forecasts`: ml.forecast_month_end rows (as_of_day, month, scope, the METHODS columns, interval);
    `actuals`: each month's realised revenue. A month with no revenue cannot have a relative error and
    is left out; a method with no value on a row (the pipeline part before deals were read) too.
    Interval coverage and width (share of the actual) are the model's; other methods have none.
    """
    month_start = as_of_day.replace(day=1)
    done = forecasts.filter(
        (pl.col("scope") == "company")
        & (pl.col("month") < month_start)
        & pl.col("as_of_day").dt.day().cast(pl.Int64).is_in(list(HORIZONS))
    )
    known = pl.DataFrame(
        {"month": list(actuals), "actual": [float(v) for v in actuals.values()]},
        schema={"month": pl.Date, "actual": pl.Float64},
    )
    done = done.join(known, on="month", how="inner").filter(pl.col("actual") > 0)
    rows: list[dict[str, object]] = []
    for horizon in HORIZONS:
        at = done.filter(pl.col("as_of_day").dt.day().cast(pl.Int64) == horizon)
        for method, column in METHODS.items():
            if column not in at.columns:
                continue
            scored = at.filter(pl.col(column).is_not_null())
            if scored.is_empty():
                continue
            error = (scored[column] - scored["actual"]) / scored["actual"]
            is_model = method == "model"
            inside = (scored["forecast_low_rub"] <= scored["actual"]) & (
                scored["actual"] <= scored["forecast_high_rub"]
            )
            width = (scored["forecast_high_rub"] - scored["forecast_low_rub"]) / scored["actual"]
            rows.append(
                {
                    "as_of_day": as_of_day,
                    "horizon_day": horizon,
                    "method": method,
                    "months": scored["month"].n_unique(),
                    "first_month": scored["month"].min(),
                    "last_month": scored["month"].max(),
                    "mape": float(error.abs().mean()),  # type: ignore[arg-type]  # a Float64 mean
                    "bias": float(error.mean()),  # type: ignore[arg-type]
                    "interval_coverage": float(inside.mean()) if is_model else None,  # type: ignore[arg-type]
                    "interval_width": float(width.mean()) if is_model else None,  # type: ignore[arg-type]
                }
            )
    return pl.DataFrame(rows, schema=SCHEMA, orient="row") if rows else pl.DataFrame(schema=SCHEMA)
