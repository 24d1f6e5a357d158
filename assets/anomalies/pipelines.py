"""A pipeline's stage conversions: the subject a pipeline-wide fall shows on.

When a whole pipeline's proposal → invoice conversion falls (a new price list, a broken integration),
each manager's share of their own last 15 deals falls a little and none may cross the manager
threshold, while the pipeline's share of its last `PIPELINE_EXITS_WINDOW` deals leaving the stage
falls a lot. Pure polars and numpy over marts.mart_stage_exits, no Dagster:
- `pipeline_panel`: working day x pipeline while the pipeline is active (a deal left one of its
  stages within `ACTIVE_LOOKBACK_DAYS`), named by the pipeline;
- `pipeline_stage_panel`: per pipeline, stage and day, the share (%) of the pipeline's last
  `PIPELINE_EXITS_WINDOW` exits up to that day that moved on (an exit is decided on its day, so
  the day's value never looks ahead), and `stage_conversion_spread`: the same share without the one
  manager whose deals drag it down most. One manager's collapse alone leaves the spread share at its
  usual level (that manager's own stage conversion flags it); a fall spread over two managers or more
  lowers both, and only then does the model flag the pipeline (assets.anomalies.model, `Kpi.gate`).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import cast

import numpy as np
import polars as pl

from assets.anomalies.kpis import PANEL_SCHEMA, STAGE_RECENT_DAYS, dense_panel, stage_values_by_day

PIPELINE_EXITS_WINDOW = 40  # the pipeline's last deals that left a stage: the conversion's denominator
NO_MANAGER = "—"  # exits of deals without a manager count as one more "manager" for the spread
PIPELINE_STAGE_SCHEMA = {
    **PANEL_SCHEMA,
    "parent_id": pl.Utf8,
    "stage_label": pl.Utf8,
    "stage_conversion": pl.Float64,
    "stage_conversion_spread": pl.Float64,
}


def _exits(exits: pl.DataFrame, end: date) -> pl.DataFrame:
    """Exits known by `end`, typed: day, pipeline (as text), its name, manager (as text), advanced (0/1)."""
    return (
        exits.filter(pl.col("exited_day").is_not_null() & pl.col("pipeline_id").is_not_null())
        .with_columns(
            pl.col("exited_day").cast(pl.Date).alias("day"),
            pl.col("pipeline_id").cast(pl.Int64).cast(pl.Utf8).alias("parent_id"),
            pl.col("manager_id").cast(pl.Int64).cast(pl.Utf8).fill_null(NO_MANAGER),
            pl.col("advanced").cast(pl.Float64),
        )
        .with_columns(pl.col("pipeline_name").cast(pl.Utf8).fill_null(pl.format("Воронка {}", "parent_id")))
        .filter(pl.col("day") <= end)
    )


def pipeline_panel(exits: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """Working day x pipeline (day, subject_id = the pipeline's id, subject_name = its name) while a
    deal left one of its stages within the lookback: an active pipeline is scored every working day."""
    if exits.is_empty():
        return pl.DataFrame(schema=PANEL_SCHEMA)
    rows = (
        _exits(exits, end)
        .filter(pl.col("day") >= start - timedelta(days=STAGE_RECENT_DAYS))
        .select("day", pl.col("parent_id").alias("subject_id"), pl.col("pipeline_name").alias("subject_name"))
        .unique(["day", "subject_id"], keep="last")
    )
    return dense_panel(rows, [], [], start, end, rows)


def _window_shares(
    advanced: np.ndarray, managers: np.ndarray, ends: np.ndarray, n: int
) -> tuple[list[float], list[float | None]]:
    """For each index in `ends`, the share (%) of advanced among the `n` exits up to it, and the same
    share without the manager whose removal raises it most (None with fewer than two managers)."""
    shares: list[float] = []
    spreads: list[float | None] = []
    for e in ends:
        a, m = advanced[e - n + 1 : e + 1], managers[e - n + 1 : e + 1]
        count, moved = np.bincount(m), np.bincount(m, weights=a)
        present = count > 0
        shares.append(100 * float(a.sum()) / n)
        if present.sum() < 2:
            spreads.append(None)
            continue
        without = (a.sum() - moved[present]) / (n - count[present])
        spreads.append(100 * float(without.max()))
    return shares, spreads


def pipeline_stage_panel(exits: pl.DataFrame, pipelines: pl.DataFrame, n: int = PIPELINE_EXITS_WINDOW) -> pl.DataFrame:
    """Per pipeline-day of `pipelines` (a `pipeline_panel`) and stage its deals leave: the share of the
    pipeline's last `n` exits (`PIPELINE_EXITS_WINDOW`) that moved on, and that share without the manager
    who drags it most; the subject is "<pipeline>:<stage>" so each stage has its own history.

    A stage with fewer exits, or whose last window reaches back further than `STAGE_RECENT_DAYS`,
    has no value that day (as for a manager's stage). Another `n` is for benchmarks comparing windows."""
    if exits.is_empty() or pipelines.is_empty():
        return pl.DataFrame(schema=PIPELINE_STAGE_SCHEMA)
    rows = (
        _exits(exits, cast(date, pipelines["day"].max()))
        .with_columns(pl.format("{}:{}", "parent_id", "stage_id").alias("subject_id"))
        .sort("subject_id", "day", "deal_id")
        .with_columns(pl.col("manager_id").rank("dense").cast(pl.Int64).alias("manager_code"))
    )
    frames = []
    for (subject_id,), group in rows.group_by("subject_id", maintain_order=True):
        if group.height < n:
            continue
        ends = np.flatnonzero(group["day"].is_last_distinct().to_numpy())
        ends = ends[ends >= n - 1]
        shares, spreads = _window_shares(group["advanced"].to_numpy(), group["manager_code"].to_numpy(), ends, n)
        day, label = group["day"], group.select(pl.format("«{}» → «{}»", "stage_name", "next_stage_name"))
        frames.append(
            pl.DataFrame(
                {
                    "subject_id": subject_id,
                    "parent_id": group["parent_id"][0],
                    "value_day": day.gather(ends),
                    "window_from": day.gather(ends - n + 1),
                    "stage_label": label.to_series().gather(ends),
                    "stage_conversion": shares,
                    "stage_conversion_spread": spreads,
                },
                schema_overrides={"stage_conversion_spread": pl.Float64},
            )
        )
    if not frames:
        return pl.DataFrame(schema=PIPELINE_STAGE_SCHEMA)
    return stage_values_by_day(pipelines, pl.concat(frames), PIPELINE_STAGE_SCHEMA)
