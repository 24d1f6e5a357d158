"""Unusual manager-days: Isolation Forest over each manager's deviation from their own habits.

Pure functions, no Dagster, no database. A manager who always makes 80 calls is not an anomaly;
the same manager making 3 is. So each manager-day's KPI vector is first turned into deviations
from that manager's own median over the trailing window (log scale for counts and money, so a
big deal does not drown everything), the deviations are standardised across the panel, and
pyod's IForest, fitted on the window's working days, scores the as-of day. The flag is the
fitted model's own threshold (its `contamination` quantile of training scores); the reason given
is the metric that moved most, with its value and the manager's usual (median) value.

A manager with no row on a working day had no activity that day: the panel is made dense (zeros)
for every manager who was active recently, which is how "zero activity" becomes visible at all.
Weekends and Russian public holidays are neither trained on nor scored.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

METRICS = [
    "leads_assigned",
    "deals_created",
    "won_count",
    "won_rub",
    "calls_out",
    "calls_in",
    "call_minutes",
    "emails",
    "meetings",
    "tasks_done",
    "activities_total",
]
WINDOW_DAYS = 60  # calendar days of history the model is fitted on (incl. the as-of day)
MIN_TRAIN_VECTORS = 40  # fewer manager-days than this: too little to call anything unusual
CONTAMINATION = 0.02  # share of training manager-days the threshold treats as anomalous
ACTIVE_LOOKBACK_DAYS = 14  # a manager with no activity for this long has left / is on leave
RANDOM_STATE = 0

SCHEMA = pl.Schema(
    {
        "as_of_day": pl.Date,
        "manager_id": pl.Int64,
        "manager_name": pl.Utf8,
        "score": pl.Float64,
        "is_anomaly": pl.Boolean,
        "top_metric": pl.Utf8,
        "metric_value": pl.Float64,
        "usual_value": pl.Float64,
    }
)


def empty_result() -> pl.DataFrame:
    """The table's frame with no rows (typed, so the table still gets its columns)."""
    return pl.DataFrame(schema=SCHEMA)


def ru_holidays(years: list[int]) -> set[date]:
    """Russian public holidays and transferred days off (python-holidays, offline)."""
    try:
        import holidays

        return set(holidays.country_holidays("RU", years=years).keys())
    except Exception:  # pragma: no cover
        return set()


def is_working_day(day: date, holidays_set: set[date] | None = None) -> bool:
    """Monday to Friday and not a Russian public holiday."""
    hol = holidays_set if holidays_set is not None else ru_holidays([day.year])
    return day.weekday() < 5 and day not in hol


def dense_panel(daily: pl.DataFrame, as_of_day: date, window_days: int = WINDOW_DAYS) -> pl.DataFrame:
    """Working-day × manager panel over the window ending `as_of_day`, missing manager-days as zeros.

    A manager enters the panel from their first row in the window and stays in it only while active
    (a row within the last `ACTIVE_LOOKBACK_DAYS` before the day): a zero day for an active manager
    is data; a zero month for someone who left is not.
    """
    start = as_of_day - timedelta(days=window_days - 1)
    rows = daily.filter((pl.col("day") >= start) & (pl.col("day") <= as_of_day)).with_columns(
        pl.col("day").cast(pl.Date),
        pl.col("manager_id").cast(pl.Int64),
        *[pl.col(m).cast(pl.Float64).fill_null(0.0) for m in METRICS],
    )
    if rows.is_empty():
        return rows.select(["day", "manager_id", "manager_name", *METRICS]).clear()
    hol = ru_holidays(sorted({start.year, as_of_day.year}))
    days = [d for d in pl.date_range(start, as_of_day, "1d", eager=True).to_list() if is_working_day(d, hol)]
    names = rows.sort("day").group_by("manager_id").agg(pl.col("manager_name").last())
    seen = rows.select("manager_id", "day").unique()
    grid = pl.DataFrame({"day": days}, schema={"day": pl.Date}).join(names, how="cross")
    # keep manager-days where the manager had some row within the lookback before (or on) that day
    recent = (
        grid.join(seen.rename({"day": "seen_day"}), on="manager_id", how="inner")
        .filter(
            (pl.col("seen_day") <= pl.col("day"))
            & (pl.col("seen_day") > pl.col("day") - pl.duration(days=ACTIVE_LOOKBACK_DAYS))
        )
        .select("day", "manager_id")
        .unique()
    )
    grid = grid.join(recent, on=["day", "manager_id"], how="semi")
    return (
        grid.join(rows.select(["day", "manager_id", *METRICS]), on=["day", "manager_id"], how="left")
        .with_columns([pl.col(m).fill_null(0.0) for m in METRICS])
        .sort(["day", "manager_id"])
    )


def deviations(panel: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each manager-day as deviations from the manager's own median (log1p scale), and the medians.

    Scale: the manager's own spread, floored at half the panel's spread of that metric, so a
    metric a manager never touches (spread 0) does not turn one event into infinity.
    """
    raw = panel.select(METRICS).to_numpy().astype(float)
    logged = np.log1p(np.clip(raw, 0.0, None))
    ids = panel["manager_id"].to_numpy()
    panel_std = logged.std(axis=0)
    floor = np.maximum(0.5 * panel_std, 1e-6)
    z = np.zeros_like(logged)
    usual = np.zeros_like(raw)
    for manager in np.unique(ids):
        mask = ids == manager
        center = np.median(logged[mask], axis=0)
        scale = np.maximum(logged[mask].std(axis=0), floor)
        z[mask] = (logged[mask] - center) / scale
        usual[mask] = np.median(raw[mask], axis=0)
    return z, usual


def score_day(daily: pl.DataFrame, as_of_day: date, *, window_days: int = WINDOW_DAYS) -> pl.DataFrame:
    """Score each active manager on `as_of_day` (rows: SCHEMA); empty on non-working days.

    `daily` has the columns of marts.mart_manager_daily; rows after `as_of_day` are ignored.
    """
    from pyod.models.iforest import IForest
    from sklearn.preprocessing import StandardScaler

    if not is_working_day(as_of_day):
        return empty_result()
    panel = dense_panel(daily, as_of_day, window_days)
    today = panel["day"] == as_of_day
    if panel.height < MIN_TRAIN_VECTORS or not today.any():
        return empty_result()
    z, usual = deviations(panel)
    # plus the largest single deviation: one metric far off (a spike) isolates in few splits
    features = np.column_stack([z, np.abs(z).max(axis=1)])
    x = StandardScaler().fit_transform(features)
    model = IForest(n_estimators=200, contamination=CONTAMINATION, random_state=RANDOM_STATE, n_jobs=1).fit(x)
    mask = today.to_numpy()
    scores = model.decision_function(x[mask])
    flags = scores > model.threshold_
    top = np.abs(z[mask]).argmax(axis=1)
    raw_today = panel.filter(today).select(METRICS).to_numpy().astype(float)
    names = (
        daily.filter(pl.col("day") <= as_of_day)
        .sort("day")
        .group_by(pl.col("manager_id").cast(pl.Int64))
        .agg(pl.col("manager_name").last())
    )
    out = pl.DataFrame(
        {
            "as_of_day": [as_of_day] * int(mask.sum()),
            "manager_id": panel.filter(today)["manager_id"],
            "score": scores.astype(float),
            "is_anomaly": flags,
            "top_metric": [METRICS[i] for i in top],
            "metric_value": raw_today[np.arange(len(top)), top],
            "usual_value": usual[mask][np.arange(len(top)), top],
        },
    )
    return (
        out.join(names, on="manager_id", how="left")
        .select(list(SCHEMA))
        .cast(SCHEMA)
        .sort(["is_anomaly", "score"], descending=[True, True])
    )
