"""How far the past forecasts were from the month they forecast: MAPE, bias and interval coverage by horizon.

Backtest = backfill: every as-of day's row of ml.forecast_month_end is what the forecast said then,
so once its month has ended it can be scored against the realised month. Scored by horizon (the
as-of day of the month: 5, 10, 15, 20, 25, where a head of sales asks the question), for the model,
each of its parts alone (Prophet, CatBoost, last year's month, the pipeline model) and the run-rate ruler side by side,
so "is the model worth it" is answered by the company's own months, not by a promise.
docs/KPI.md: MAPE = mean |forecast - actual| / actual; bias = mean (forecast - actual) / actual
(+ over, - under); coverage = share of months whose actual fell inside the 80 % interval; the
probability of reaching plan by its Brier score (mean (P - reached)², reached 1 or 0) beside the
Brier score of always saying the base rate (the share of those months that reached plan, b: b(1 - b)),
so "is the probability worth reading" is a comparison too.
The same for every department, manager and pipeline, pooled by kind (`score_scopes`).
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
    "orders": "orders_rub",
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
    "plan_months": pl.Int64,
    "brier": pl.Float64,
    "brier_base_rate": pl.Float64,
}
SCOPE_SCHEMA = {
    "as_of_day": pl.Date,
    "horizon_day": pl.Int64,
    "scope_type": pl.Utf8,
    "scopes": pl.Int64,
    "scope_months": pl.Int64,
    "first_month": pl.Date,
    "last_month": pl.Date,
    "mape": pl.Float64,
    "bias": pl.Float64,
    "interval_coverage": pl.Float64,
    "interval_width": pl.Float64,
    "plan_months": pl.Int64,
    "brier": pl.Float64,
    "brier_base_rate": pl.Float64,
}


def brier(probabilities: list[float], reached: list[bool]) -> tuple[float, float] | None:
    """Brier score of the probabilities and of always saying the base rate (the share that reached plan)."""
    if not probabilities:
        return None
    p = [float(x) for x in probabilities]
    o = [1.0 if r else 0.0 for r in reached]
    base = sum(o) / len(o)
    return sum((a - b) ** 2 for a, b in zip(p, o)) / len(p), sum((base - b) ** 2 for b in o) / len(o)


def _brier_columns(scored: pl.DataFrame) -> dict[str, object]:
    """plan_months, brier, brier_base_rate over the rows with a plan and a probability."""
    if not {"plan_rub", "prob_reach_plan"} <= set(scored.columns):
        return {"plan_months": 0, "brier": None, "brier_base_rate": None}
    planned = scored.filter((pl.col("plan_rub") > 0) & pl.col("prob_reach_plan").is_not_null())
    pair = brier(planned["prob_reach_plan"].to_list(), (planned["actual"] >= planned["plan_rub"]).to_list())
    return {
        "plan_months": planned.height,
        "brier": None if pair is None else pair[0],
        "brier_base_rate": None if pair is None else pair[1],
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
                    **(
                        _brier_columns(scored)
                        if is_model
                        else dict.fromkeys(("plan_months", "brier", "brier_base_rate"))
                    ),
                }
            )
    return pl.DataFrame(rows, schema=SCHEMA, orient="row") if rows else pl.DataFrame(schema=SCHEMA)


def score_scopes(forecasts: pl.DataFrame, actuals: pl.DataFrame, as_of_day: date) -> pl.DataFrame:
    """One row per horizon and kind of scope (department, manager, pipeline) over the scopes' forecasts of
    months ended before `as_of_day`'s (SCOPE_SCHEMA), every scope-month pooled.

    `forecasts`: ml.forecast_scopes rows; `actuals`: month, scope_type, scope_id, actual_rub (a scope
    with no row made nothing that month). A scope-month that made nothing has no relative error and
    is left out of MAPE, bias, coverage and width, but its probability of plan is still scored.
    """
    month_start = as_of_day.replace(day=1)
    done = forecasts.with_columns(pl.col("as_of_day").cast(pl.Date), pl.col("month").cast(pl.Date)).filter(
        (pl.col("month") < month_start) & pl.col("as_of_day").dt.day().cast(pl.Int64).is_in(list(HORIZONS))
    )
    known = actuals.select(
        pl.col("month").cast(pl.Date),
        pl.col("scope_type").cast(pl.Utf8),
        pl.col("scope_id").cast(pl.Int64),
        pl.col("actual_rub").cast(pl.Float64).alias("actual"),
    )
    done = done.join(known, on=["month", "scope_type", "scope_id"], how="left").with_columns(
        pl.col("actual").fill_null(0.0)
    )
    rows: list[dict[str, object]] = []
    for horizon in HORIZONS:
        for kind in sorted(set(done["scope_type"].to_list())):
            at = done.filter((pl.col("as_of_day").dt.day().cast(pl.Int64) == horizon) & (pl.col("scope_type") == kind))
            positive = at.filter(pl.col("actual") > 0)
            if positive.is_empty():
                continue
            error = (positive["forecast_rub"] - positive["actual"]) / positive["actual"]
            inside = (positive["forecast_low_rub"] <= positive["actual"]) & (
                positive["actual"] <= positive["forecast_high_rub"]
            )
            width = (positive["forecast_high_rub"] - positive["forecast_low_rub"]) / positive["actual"]
            rows.append(
                {
                    "as_of_day": as_of_day,
                    "horizon_day": horizon,
                    "scope_type": kind,
                    "scopes": positive["scope_id"].n_unique(),
                    "scope_months": positive.height,
                    "first_month": positive["month"].min(),
                    "last_month": positive["month"].max(),
                    "mape": float(error.abs().mean()),  # type: ignore[arg-type]  # a Float64 mean
                    "bias": float(error.mean()),  # type: ignore[arg-type]
                    "interval_coverage": float(inside.mean()),  # type: ignore[arg-type]
                    "interval_width": float(width.mean()),  # type: ignore[arg-type]
                    **_brier_columns(at),
                }
            )
    return pl.DataFrame(rows, schema=SCOPE_SCHEMA, orient="row") if rows else pl.DataFrame(schema=SCOPE_SCHEMA)
