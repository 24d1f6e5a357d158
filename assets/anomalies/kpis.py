"""Each subject's day: the KPI values the anomaly model compares with the subject's own history.

Pure polars, no Dagster. Three kinds of subject, one row per subject and working day:
- a manager (marts.mart_manager_daily): activities, outgoing calls, lost deals, the median minutes to
  the first response (on a day with at least `RESPONSE_MIN_ITEMS` new leads and deals: the median of
  one is one late reply, not how the manager answers), the average won deal; a manager with no row
  on a working day had no activity (zeros), while active: someone silent for `ACTIVE_LOOKBACK_DAYS`
  has left or is on leave;
- an ad or lead channel (marts.mart_channel summed over its UTM rows): spend, leads, cost per lead and
  per won deal; a channel with no lead on a working day had zero leads, while active;
- a manager's stage of a pipeline (marts.mart_stage_exits): the share of the manager's last
  `STAGE_EXITS_WINDOW` deals that left the stage and moved on. A ratio of small counts is noise over
  a day, so it is taken over a window of deals, and only while those deals left within
  `STAGE_RECENT_DAYS` (a stage the manager hardly uses has no conversion to watch).
A pipeline's stage conversions (the fourth kind, all its managers together) are in
assets.anomalies.pipelines. Weekends and Russian public holidays are left out: the model neither
learns from nor scores them.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl

ACTIVE_LOOKBACK_DAYS = 14  # no activity (or lead) for this long: the subject is not scored
RESPONSE_MIN_ITEMS = 2  # new leads + deals a day needs for its median response time to count

MANAGER_COLUMNS = ["activities_total", "calls_out", "lost_count", "median_response_minutes", "avg_deal_rub"]
CHANNEL_COLUMNS = ["spend_rub", "leads", "cpl_rub", "cpa_rub"]
PANEL_SCHEMA = {"day": pl.Date, "subject_id": pl.Utf8, "subject_name": pl.Utf8}
STAGE_EXITS_WINDOW = 15  # a manager's last deals that left a stage: the conversion's denominator
STAGE_RECENT_DAYS = 45  # and they all left within this many calendar days
STAGE_SCHEMA = {
    **PANEL_SCHEMA,
    "parent_id": pl.Utf8,  # the subject the stage belongs to: its manager (or pipeline)
    "stage_label": pl.Utf8,
    "stage_conversion": pl.Float64,
}


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


def working_days(start: date, end: date) -> list[date]:
    """Working days from `start` to `end`, both included."""
    if end < start:
        return []
    hol = ru_holidays(list(range(start.year, end.year + 1)))
    return [d for d in pl.date_range(start, end, "1d", eager=True).to_list() if is_working_day(d, hol)]


def dense_panel(
    rows: pl.DataFrame,
    columns: list[str],
    fill_zero: list[str],
    start: date,
    end: date,
    seen: pl.DataFrame,
    grid: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Working day x subject (or the working days of `grid`: day, subject_id) while the subject was
    active lately (a `seen` day within the lookback); `fill_zero` columns are 0 where the subject had
    no row (no activity is data), the others stay null."""
    schema = {**PANEL_SCHEMA, **{c: pl.Float64 for c in columns}}
    days = working_days(start, end)
    if rows.is_empty() or not days:
        return pl.DataFrame(schema=schema)
    names = rows.sort("day").group_by("subject_id").agg(pl.col("subject_name").last())
    seen = seen.select("subject_id", "day").unique()
    every = pl.DataFrame({"day": days}, schema={"day": pl.Date})
    grid = (
        every.join(names, how="cross")
        if grid is None
        else grid.join(every, on="day", how="semi").join(names, on="subject_id")
    )
    recent = (
        grid.join(seen.rename({"day": "seen_day"}), on="subject_id", how="inner")
        .filter(
            (pl.col("seen_day") <= pl.col("day"))
            & (pl.col("seen_day") > pl.col("day") - pl.duration(days=ACTIVE_LOOKBACK_DAYS))
        )
        .select("day", "subject_id")
        .unique()
    )
    grid = grid.join(recent, on=["day", "subject_id"], how="semi")
    return (
        grid.join(rows.select(["day", "subject_id", *columns]), on=["day", "subject_id"], how="left")
        .with_columns([pl.col(c).fill_null(0.0) for c in fill_zero])
        .select(list(schema))
        .cast(schema)  # type: ignore[arg-type]
        .sort(["subject_id", "day"])
    )


def manager_panel(daily: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """Manager KPIs per working day from mart_manager_daily rows (days outside start..end ignored)."""
    for col in ("lost_count", "median_response_minutes", "won_count", "won_rub", "calls_out", "activities_total"):
        if col not in daily.columns:
            daily = daily.with_columns(pl.lit(None, dtype=pl.Float64).alias(col))
    active = pl.col("activities_total").fill_null(0) + pl.col("lost_count").fill_null(0) > 0
    rows = (
        daily.filter((pl.col("day") >= start) & (pl.col("day") <= end))
        .with_columns(
            pl.col("day").cast(pl.Date),
            pl.col("manager_id").cast(pl.Int64).cast(pl.Utf8).alias("subject_id"),
            pl.col("manager_name").cast(pl.Utf8).alias("subject_name"),
            (pl.col("won_rub") / pl.when(pl.col("won_count") > 0).then(pl.col("won_count"))).alias("avg_deal_rub"),
        )
        .with_columns(_response_of_enough_items(daily))
        .with_columns([pl.col(c).cast(pl.Float64) for c in MANAGER_COLUMNS])
    )
    # the mart's rows are the manager's days on staff (dense, zeros included: its span ends at a
    # leaver's last event); of those, the days within the lookback of some real work are scored
    grid = rows.select("day", "subject_id").unique()
    fill = ["activities_total", "calls_out", "lost_count"]
    return dense_panel(rows, MANAGER_COLUMNS, fill, start, end, rows.filter(active), grid)


def _response_of_enough_items(daily: pl.DataFrame) -> pl.Expr:
    """The day's median response time, null on a day with fewer than `RESPONSE_MIN_ITEMS` new leads
    and deals (kept as is when the mart does not count them)."""
    response = pl.col("median_response_minutes")
    if not {"leads_assigned", "deals_created"} <= set(daily.columns):
        return response
    items = pl.col("leads_assigned").fill_null(0) + pl.col("deals_created").fill_null(0)
    return pl.when(items >= RESPONSE_MIN_ITEMS).then(response).alias("median_response_minutes")


def channel_panel(channel_days: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """Channel KPIs per working day from mart_channel rows (summed over UTM tags and campaigns).

    Spend stays null for a channel no ad platform bills (organic, referrals), so its cost metrics do
    not exist rather than read zero; a channel's leads are 0 on a working day with none."""
    rows = (
        channel_days.filter((pl.col("day") >= start) & (pl.col("day") <= end))
        .with_columns(pl.col("day").cast(pl.Date))
        .group_by("day", "channel")
        .agg(
            pl.col("channel_name").drop_nulls().first().alias("subject_name"),
            pl.when(pl.col("spend_rub").is_not_null().any()).then(pl.col("spend_rub").sum()).alias("spend_rub"),
            pl.col("leads").sum().cast(pl.Float64).alias("leads"),
            pl.col("won_count").sum().cast(pl.Float64).alias("won_count"),
        )
        .filter(pl.col("channel") != "(none)")
        .with_columns(
            pl.col("channel").cast(pl.Utf8).alias("subject_id"),
            pl.col("subject_name").fill_null(pl.col("channel")),
        )
    )
    seen = rows.filter((pl.col("leads") > 0) | (pl.col("spend_rub") > 0))
    billed = rows.filter(pl.col("spend_rub").is_not_null()).select("subject_id").unique()
    panel = dense_panel(
        rows.select(["day", "subject_id", "subject_name", "spend_rub", "leads", "won_count"]),
        ["spend_rub", "leads", "won_count"],
        ["leads", "won_count"],
        start,
        end,
        seen,
    )
    panel = panel.with_columns(
        pl.when(pl.col("subject_id").is_in(billed["subject_id"].implode()))
        .then(pl.col("spend_rub").fill_null(0.0))
        .alias("spend_rub")
    ).with_columns(
        (pl.col("spend_rub") / pl.when(pl.col("leads") > 0).then(pl.col("leads"))).alias("cpl_rub"),
        (pl.col("spend_rub") / pl.when(pl.col("won_count") > 0).then(pl.col("won_count"))).alias("cpa_rub"),
    )
    return panel.select([*PANEL_SCHEMA, *CHANNEL_COLUMNS])


def stage_panel(exits: pl.DataFrame, managers: pl.DataFrame) -> pl.DataFrame:
    """Per manager-day of `managers` (a manager panel) and stage the manager's deals leave: the share
    (%) of the last `STAGE_EXITS_WINDOW` exits up to that day that moved on; the subject is
    "<manager>:<pipeline>:<stage>" so each stage has its own history, `stage_label` names the pair.

    `exits` has the columns of marts.mart_stage_exits; a stage with fewer exits, or whose last
    window of exits reaches back further than `STAGE_RECENT_DAYS`, has no value that day."""
    n = STAGE_EXITS_WINDOW
    if exits.is_empty() or managers.is_empty():
        return pl.DataFrame(schema=STAGE_SCHEMA)
    key = pl.format("{}:{}:{}", "manager_id", "pipeline_id", "stage_id")
    rows = (
        exits.filter(pl.col("manager_id").is_not_null() & pl.col("exited_day").is_not_null())
        .with_columns(
            pl.col("exited_day").cast(pl.Date).alias("day"),
            pl.col("manager_id").cast(pl.Int64).cast(pl.Utf8),
            pl.col("advanced").cast(pl.Float64),
        )
        .filter(pl.col("day") <= managers["day"].max())
        .with_columns(key.alias("subject_id"))
        .sort("subject_id", "day", "deal_id")
        .with_columns(
            (100 * pl.col("advanced").rolling_mean(n, min_samples=n)).over("subject_id").alias("stage_conversion"),
            pl.col("day").shift(n - 1).over("subject_id").alias("window_from"),
        )
        .group_by("subject_id", "day", maintain_order=True)
        .last()  # the day's value: after its last exit
        .drop_nulls("stage_conversion")
        .with_columns(
            pl.format("«{}» → «{}» ({})", "stage_name", "next_stage_name", "pipeline_name").alias("stage_label")
        )
    )
    if rows.is_empty():
        return pl.DataFrame(schema=STAGE_SCHEMA)
    values = rows.select(
        "subject_id",
        pl.col("manager_id").alias("parent_id"),
        pl.col("day").alias("value_day"),
        "window_from",
        "stage_label",
        "stage_conversion",
    )
    return stage_values_by_day(managers, values, STAGE_SCHEMA)


def stage_values_by_day(owners: pl.DataFrame, values: pl.DataFrame, schema: dict[str, Any]) -> pl.DataFrame:
    """Each working day of `owners` (a panel: day, subject_id, subject_name) × each stage of that owner
    in `values` (subject_id, parent_id = the owner, value_day, window_from, …): the stage's latest value
    on or before the day (it changes only on a day a deal leaves the stage), kept while its window of
    exits reaches back less than `STAGE_RECENT_DAYS`. Shared by managers' and pipelines' stages."""
    grid = (
        owners.select("day", pl.col("subject_id").alias("parent_id"), "subject_name")
        .join(values.select("parent_id", "subject_id").unique(), on="parent_id")
        .sort("day")
    )
    return (
        grid.join_asof(
            values.drop("parent_id").sort("value_day"),
            left_on="day",
            right_on="value_day",
            by="subject_id",
            check_sortedness=False,
        )
        .filter(pl.col("window_from") > pl.col("day") - pl.duration(days=STAGE_RECENT_DAYS))
        .select(list(schema))
        .cast(schema)  # type: ignore[arg-type]
        .sort("subject_id", "day")
    )


def history_start(first_day: date, working_days_needed: int) -> date:
    """A calendar day early enough that `working_days_needed` working days lie between it and `first_day`."""
    return first_day - timedelta(days=working_days_needed * 7 // 5 + 30)
