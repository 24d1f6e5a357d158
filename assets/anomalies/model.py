"""Unusual days of a manager, a channel or a pipeline: each KPI against the subject's own recent history.

Pure functions, no Dagster, no database. A manager who always makes 80 calls is not anomalous for
being big; the same manager making 3 is. So each KPI of each subject is compared with that
subject's own earlier working days only (no look-ahead): the median of the last `HISTORY_DAYS`
observed days is the usual value and their interquartile spread (÷ 1.349, the normal's σ) the
scale, on a log scale for counts and money so that a day of 0 against a usual 12 is as loud as a
day of 36. The signed distance in those σ is the KPI's severity; a one-day spike or drop is the
day's value, a sustained change (the burnout month, a budget overrun) the mean of the last `window`
working days against earlier windows that do not overlap it. A manager's stage conversion is one
more subject per stage the manager's deals leave (the share of the last deals that moved on,
assets.anomalies.kpis.stage_panel), scored the same way and written under the manager with the
stage pair in `metric_detail`. A pipeline is a subject of its own with its stages' conversions over
its last 40 deals (assets.anomalies.pipelines), flagged only when the fall holds without the one
manager who drags it most: a fall of the whole pipeline, not one person's.

A KPI flags its subject when its severity passes `Z_THRESHOLD` in the direction that hurts and the
change is material (`min_change` of the usual value, `min_abs` in its own units): a quiet day has no
anomaly at all, instead of the top 2 % of every day. This plain robust z-score beat pyod's
Isolation Forest and ECOD fed the same deviations on the demo world's ground truth
(benchmarks/anomaly_quality.py, benchmarks/RESULTS.md): a forest scores how isolated a day is among
all days, which is not how wrong one KPI is for one subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from assets.anomalies.kpis import (
    STAGE_EXITS_WINDOW,
    channel_panel,
    history_start,
    is_working_day,
    manager_panel,
    stage_panel,
)
from assets.anomalies.pipelines import PIPELINE_EXITS_WINDOW, pipeline_panel, pipeline_stage_panel

HISTORY_DAYS = 40  # working days of the subject's own history that make its usual value
MIN_HISTORY = 15  # fewer observed days than this: too little to call anything unusual
Z_THRESHOLD = 4.0  # severity (robust σ from the usual) from which a KPI flags its subject
DRIVER_Z = 3.0  # other KPIs this far off are named beside the top one
IQR_TO_SIGMA = 1.349
RECENT_DAYS = 3  # a sustained drop flags while the mean of the last days is still down (today alone is noisy)
TEAM_OFF_SHARE = 0.5  # the team's median activity below this share of its usual: a day off the calendar
# did not know (a corporate holiday, a transferred day); nobody is flagged for it


@dataclass(frozen=True)
class Kpi:
    """One KPI as the model reads it: which way hurts, its scale, its window, what counts as material."""

    subject_type: str  # manager | channel | pipeline
    column: str  # the panel's column (and the metric name written out)
    direction: str  # up | down | both
    log: bool  # compare on log1p (counts, money, minutes)
    window: int = 1  # working days averaged: 1 = the day itself; more = a sustained change
    min_change: float = 0.5  # share of the usual value the change must reach
    min_abs: float = 1.0  # and at least this much in the KPI's own units
    floor: float = 0.1  # smallest scale (σ on the compared scale), so a never-moving KPI is not infinitely touchy
    z_min: float | None = None  # its own severity threshold instead of Z_THRESHOLD (a rare, sparse KPI)
    peers: bool = False  # compare the subject with its peers' median that day: a dip of everyone
    # (the first January weeks, a corporate day off) is the calendar, not one person's anomaly
    panel: str = "daily"  # daily: the subject's day panel; stage: the manager's stage conversions
    share_of: int | None = None  # a share (%) of this many deals: its scale is at least the binomial
    # standard error at the usual share, add-one smoothed so a usual 100 % still has one (n deals
    # cannot pin a share down more closely than that)
    gate: str | None = None  # a second column of the panel that must be material and `gate_z` off the
    # same usual value for the KPI to flag (the pipeline's share without its worst manager)
    gate_z: float = 3.0  # below the KPI's own threshold: measured against the full value's usual, the
    # share without the worst manager sits a little above it even on a normal day


KPIS: tuple[Kpi, ...] = (
    Kpi("manager", "activities_total", "down", True, min_change=0.9, min_abs=5, peers=True),
    Kpi("manager", "activities_total", "down", True, window=10, min_change=0.35, min_abs=3, floor=0.05, peers=True),
    Kpi("manager", "calls_out", "down", True, min_change=0.9, min_abs=8, peers=True),
    Kpi("manager", "lost_count", "up", False, min_change=1.5, min_abs=8, floor=1.0),
    Kpi("manager", "median_response_minutes", "up", True, min_change=2.0, min_abs=120, floor=0.3, peers=True),
    # a manager's deals vary too widely for a z to mean much: a won deal at least 13 times their usual
    # average deal is news on its own
    Kpi("manager", "avg_deal_rub", "up", True, min_change=12.0, min_abs=1, floor=0.3, z_min=0.0),
    # one deal moves a share of 15 by 7 points: a collapse is at least half the usual and 30 points
    Kpi(
        "manager",
        "stage_conversion",
        "down",
        False,
        min_change=0.5,
        min_abs=30,
        floor=5,
        panel="stage",
        share_of=STAGE_EXITS_WINDOW,
    ),
    # a pipeline's share of its last 40 deals leaving a stage: a fall of a quarter and 15 points, and
    # still material and 3σ off without the one manager who drags it most (that manager's own KPI
    # covers a collapse of one person)
    Kpi(
        "pipeline",
        "stage_conversion",
        "down",
        False,
        min_change=0.25,
        min_abs=15,
        floor=3,
        panel="stage",
        share_of=PIPELINE_EXITS_WINDOW,
        gate="stage_conversion_spread",
    ),
    Kpi("channel", "leads", "down", True, min_change=0.9, min_abs=6, peers=True),
    Kpi("channel", "spend_rub", "up", True, min_change=0.8, min_abs=1),
    Kpi("channel", "spend_rub", "up", True, window=8, min_change=0.4, min_abs=1, floor=0.05),
    Kpi("channel", "cpl_rub", "up", True, min_change=1.0, min_abs=1, floor=0.15),
    Kpi("channel", "cpl_rub", "up", True, window=8, min_change=0.5, min_abs=1, floor=0.05),
)
SUBJECT_TYPES = ("manager", "channel", "pipeline")
OUT_SCHEMA = pl.Schema(
    {
        "as_of_day": pl.Date,
        "subject_type": pl.Utf8,
        "subject_id": pl.Utf8,
        "manager_id": pl.Int64,
        "manager_name": pl.Utf8,
        "score": pl.Float64,
        "is_anomaly": pl.Boolean,
        "top_metric": pl.Utf8,
        "metric_value": pl.Float64,
        "usual_value": pl.Float64,
        "deviation_pct": pl.Float64,
        "window_days": pl.Int64,
        "drivers": pl.Utf8,
        "metric_detail": pl.Utf8,  # what the metric is about, when the name alone does not say (the stage pair)
    }
)
SCORES_SCHEMA = pl.Schema(
    {
        "day": pl.Date,
        "subject_id": pl.Utf8,
        "metric": pl.Utf8,
        "detail": pl.Utf8,
        "window_days": pl.Int64,
        "z_min": pl.Float64,
        "value": pl.Float64,
        "usual": pl.Float64,
        "z": pl.Float64,
        "severity": pl.Float64,
        "material": pl.Boolean,
        "gate_value": pl.Float64,
    }
)  # kpi_scores' rows
HISTORY_NEEDED = HISTORY_DAYS + max(k.window for k in KPIS) + MIN_HISTORY  # working days read before a day


def empty_result() -> pl.DataFrame:
    """The table's frame with no rows (typed, so the table still gets its columns)."""
    return pl.DataFrame(schema=OUT_SCHEMA)


def kpi_scores(panel: pl.DataFrame, kpi: Kpi) -> pl.DataFrame:
    """Every subject-day's severity for one KPI: day, subject_id, value, usual, z, severity, material.

    Rows: the subject's observed days of that KPI (nulls, e.g. no lead so no response time, skip).
    The history of day t are the values (window means) that end before t's window begins."""
    w = kpi.window
    x = pl.col(kpi.column)
    carried = [c for c in ("parent_id", "stage_label") if c in panel.columns]  # a stage's owner and name
    gate = [kpi.gate] if kpi.gate else []
    f = (
        panel.select("day", "subject_id", kpi.column, *gate, *carried)
        .drop_nulls(kpi.column)
        .sort("subject_id", "day")
        .with_columns((x.rolling_mean(w, min_samples=w) if w > 1 else x).over("subject_id").alias("value"))
        .drop_nulls("value")
    )
    v = pl.col("value")
    t = v.clip(0, None).log1p() if kpi.log else v
    f = f.with_columns((t - t.median().over("day") if kpi.peers else t).alias("t")).with_columns(
        pl.col("t").shift(w).over("subject_id").alias("t_past"),
        v.shift(w).over("subject_id").alias("v_past"),
    )
    past, past_raw = pl.col("t_past"), pl.col("v_past")
    f = f.with_columns(
        past.rolling_median(HISTORY_DAYS, min_samples=MIN_HISTORY).over("subject_id").alias("center"),
        (
            past.rolling_quantile(0.75, window_size=HISTORY_DAYS, min_samples=MIN_HISTORY)
            - past.rolling_quantile(0.25, window_size=HISTORY_DAYS, min_samples=MIN_HISTORY)
        )
        .over("subject_id")
        .alias("iqr"),
        past_raw.rolling_median(HISTORY_DAYS, min_samples=MIN_HISTORY).over("subject_id").alias("usual"),
    ).drop_nulls("center")
    if kpi.window > 1:  # a sustained change is still going on today (the window's tail is not news)
        recent = x.rolling_mean(RECENT_DAYS if kpi.direction == "down" else 1, min_samples=1).over("subject_id")
        f = f.join(
            panel.sort("subject_id", "day").select("day", "subject_id", recent.alias("recent")),
            on=["day", "subject_id"],
            how="left",
        )
    else:
        f = f.with_columns(v.alias("recent"))
    scale = pl.max_horizontal(pl.col("iqr") / IQR_TO_SIGMA, pl.lit(kpi.floor))
    if kpi.share_of:
        share = ((pl.col("usual") / 100).clip(0, 1) * kpi.share_of + 1) / (kpi.share_of + 2)
        scale = pl.max_horizontal(scale, 100 * (share * (1 - share) / kpi.share_of).sqrt())
    z = (pl.col("t") - pl.col("center")) / scale
    severity = _severity(z, kpi.direction)
    material = _material(v, kpi) & (_change(pl.col("recent")) >= kpi.min_change * pl.col("usual").abs())
    if kpi.gate:  # still material and clearly off without what the gate leaves out, or no flag
        g = pl.col(kpi.gate)
        t_gate = g.clip(0, None).log1p() if kpi.log else g
        gate_severity = _severity((t_gate - pl.col("center")) / scale, kpi.direction)
        material = material & _material(g, kpi) & (gate_severity >= kpi.gate_z)
    return f.select(
        "day",
        pl.col("parent_id" if "parent_id" in carried else "subject_id").alias("subject_id"),
        pl.lit(kpi.column).alias("metric"),
        (pl.col("stage_label") if "stage_label" in carried else pl.lit(None, dtype=pl.Utf8)).alias("detail"),
        pl.lit(kpi.window, dtype=pl.Int64).alias("window_days"),
        pl.lit(Z_THRESHOLD if kpi.z_min is None else kpi.z_min).alias("z_min"),
        "value",
        "usual",
        z.alias("z"),
        severity.alias("severity"),
        material.fill_null(False).alias("material"),
        (pl.col(kpi.gate) if kpi.gate else pl.lit(None, dtype=pl.Float64)).alias("gate_value"),
    )


def _severity(z: pl.Expr, direction: str) -> pl.Expr:
    return {"up": z, "down": -z, "both": z.abs()}[direction]


def _change(v: pl.Expr) -> pl.Expr:
    return (v - pl.col("usual")).abs()


def _material(v: pl.Expr, kpi: Kpi) -> pl.Expr:
    """The change of `v` from the usual value goes the way that hurts and is big enough to matter."""
    hurts = {"up": v > pl.col("usual"), "down": v < pl.col("usual"), "both": pl.lit(True)}[kpi.direction]
    return hurts & (_change(v) >= kpi.min_abs) & (_change(v) >= kpi.min_change * pl.col("usual").abs())


def score_panel(
    panel: pl.DataFrame,
    subject_type: str,
    days: list[date] | None = None,
    stages: pl.DataFrame | None = None,
    kpis: tuple[Kpi, ...] = KPIS,
) -> pl.DataFrame:
    """One row per subject and working day of the panel (or of `days`): the most severe KPI, flagged
    when it passes the threshold and is material; the other KPIs past `DRIVER_Z` as drivers.
    `stages` (a manager's or pipeline's stage conversions) are scored beside the day's KPIs; `kpis`
    other than the model's are for benchmarks comparing variants."""
    if panel.is_empty():
        return empty_result()
    frames = [kpi_scores(panel, k) for k in kpis if k.subject_type == subject_type and k.panel == "daily"]
    if stages is not None and not stages.is_empty():
        frames += [kpi_scores(stages, k) for k in kpis if k.subject_type == subject_type and k.panel == "stage"]
    if not frames:  # a pipeline with no stage busy enough for a conversion: scored, nothing to say
        frames = [pl.DataFrame(schema=SCORES_SCHEMA)]
    scored = pl.concat(frames, how="vertical_relaxed")
    if days is not None:
        scored = scored.filter(pl.col("day").is_in(days))
        panel = panel.filter(pl.col("day").is_in(days))
    scored = scored.with_columns(
        ((pl.col("severity") >= pl.col("z_min")) & pl.col("material")).alias("flag"),
        pl.when(pl.col("window_days") > 1)
        .then(pl.format("{} ({} дн.) {}σ", "metric", "window_days", pl.col("z").round(1)))
        .when(pl.col("gate_value").is_not_null())
        .then(
            pl.format(
                "{} {} {}σ (без одного менеджера {} %)",
                "metric",
                "detail",
                pl.col("z").round(1),
                pl.col("gate_value").round(1),
            )
        )
        .when(pl.col("detail").is_not_null())
        .then(pl.format("{} {} {}σ", "metric", "detail", pl.col("z").round(1)))
        .otherwise(pl.format("{} {}σ", "metric", pl.col("z").round(1)))
        .alias("driver"),
    )
    # the top KPI: a flagged one first, then the most severe
    top = (
        scored.sort(["flag", "severity"], descending=[True, True])
        .group_by("day", "subject_id", maintain_order=True)
        .first()
    )
    drivers = (
        scored.filter(pl.col("severity") >= DRIVER_Z)
        .sort("severity", descending=True)
        .group_by("day", "subject_id")
        .agg(pl.col("driver").str.join(", ").alias("drivers"))
    )
    names = panel.select("day", "subject_id", "subject_name")
    out = (
        names.join(top, on=["day", "subject_id"], how="left")
        .join(drivers, on=["day", "subject_id"], how="left")
        .select(
            pl.col("day").alias("as_of_day"),
            pl.lit(subject_type).alias("subject_type"),
            "subject_id",
            (pl.col("subject_id").cast(pl.Int64, strict=False) if subject_type == "manager" else pl.lit(None))
            .cast(pl.Int64)
            .alias("manager_id"),
            pl.col("subject_name").alias("manager_name"),
            pl.col("severity").alias("score"),
            pl.col("flag").fill_null(False).alias("is_anomaly"),
            pl.col("metric").alias("top_metric"),
            pl.col("value").alias("metric_value"),
            pl.col("usual").alias("usual_value"),
            (100 * (pl.col("value") - pl.col("usual")) / pl.when(pl.col("usual") != 0).then(pl.col("usual"))).alias(
                "deviation_pct"
            ),
            "window_days",
            "drivers",
            pl.col("detail").alias("metric_detail"),
        )
    )
    return out.select(list(OUT_SCHEMA)).cast(OUT_SCHEMA)


def team_off_days(managers: pl.DataFrame) -> list[date]:
    """Working days on which the team's median activity fell below `TEAM_OFF_SHARE` of its median over
    the days before: the company did not work, whatever the calendar said."""
    if managers.is_empty():
        return []
    team = managers.group_by("day").agg(pl.col("activities_total").median().alias("team")).sort("day")
    usual = pl.col("team").shift(1).rolling_median(HISTORY_DAYS // 2, min_samples=5)
    off = team.filter(pl.col("team") < TEAM_OFF_SHARE * usual)
    return off["day"].to_list()


def score_days(
    daily: pl.DataFrame,
    channel_days: pl.DataFrame | None,
    days: list[date],
    stage_exits: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every active manager, channel and pipeline scored on each working day of `days` (OUT_SCHEMA rows).

    `daily` has the columns of marts.mart_manager_daily, `channel_days` those of marts.mart_channel,
    `stage_exits` those of marts.mart_stage_exits (None: no stage conversions); rows after the last
    of `days` are ignored, and each day only reads the days before it."""
    days = sorted(d for d in days if is_working_day(d))
    if not days:
        return empty_result()
    start, end = history_start(days[0], HISTORY_NEEDED), days[-1]
    managers = manager_panel(daily, start, end)
    stages = None
    if stage_exits is not None and not stage_exits.is_empty():
        stages = stage_panel(stage_exits.filter(pl.col("exited_day") <= end), managers)
    frames = [score_panel(managers, "manager", days, stages)]
    if channel_days is not None and not channel_days.is_empty():
        frames.append(score_panel(channel_panel(channel_days, start, end), "channel", days))
    if stage_exits is not None and not stage_exits.is_empty():
        pipelines = pipeline_panel(stage_exits, start, end)
        frames.append(score_panel(pipelines, "pipeline", days, pipeline_stage_panel(stage_exits, pipelines)))
    out = pl.concat(frames, how="vertical_relaxed")
    off = team_off_days(managers)
    out = out.with_columns((pl.col("is_anomaly") & ~pl.col("as_of_day").is_in(off)).alias("is_anomaly"))
    return out.sort(["as_of_day", "is_anomaly", "score"], descending=[False, True, True], nulls_last=True)


def score_day(
    daily: pl.DataFrame,
    as_of_day: date,
    channel_days: pl.DataFrame | None = None,
    stage_exits: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """`score_days` for one day (empty on weekends and holidays)."""
    return score_days(daily, channel_days, [as_of_day], stage_exits)
