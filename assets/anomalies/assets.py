"""Dagster asset: unusual days of managers, channels and pipelines, one partition per as-of day (ml.manager_anomalies).

Thin: read the manager-day, channel and stage-exit marts for the history the model needs, hand them to the
pure model, write each day's rows (every active manager and channel, flagged or not). Nothing after
the as-of day is read, so a backfill scores history as it would have looked then. A backfill is one
run (single-run policy) with one read of each mart. The table keeps its name for its readers (the
insights, the alert sensor, the report); channel and pipeline rows sit beside the managers' with
subject_type (their manager_id is null: no manager owns a channel, and the CRM names no head of a
pipeline, so the head of sales gets them).
"""

from datetime import date, timedelta

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.anomalies.kpis import STAGE_RECENT_DAYS, history_start
from assets.anomalies.model import HISTORY_NEEDED, score_days
from assets.partitions import as_of_days, single_run_backfill
from assets.table_metadata import as_of_table_metadata
from resources.warehouse import Warehouse

SCHEMA, TABLE = "ml", "manager_anomalies"


def read_marts(warehouse: Warehouse, days: list[date]) -> tuple[pl.DataFrame, pl.DataFrame | None, pl.DataFrame | None]:
    """mart_manager_daily, mart_channel and mart_stage_exits (None before that mart exists) over the
    model's history (stage exits from `STAGE_RECENT_DAYS` earlier: the first day's window of deals)."""
    first_needed = history_start(days[0], HISTORY_NEEDED)
    daily = warehouse.query(
        "select * from marts.mart_manager_daily where day between ? and ? order by day, manager_id",
        [first_needed, days[-1]],
    )
    channels = (
        warehouse.query(
            "select day, channel, channel_name, spend_rub, leads, won_count from marts.mart_channel "
            "where day between ? and ?",
            [first_needed, days[-1]],
        )
        if warehouse.table_exists("marts", "mart_channel")
        else None
    )
    exits = (
        warehouse.query(
            "select deal_id, manager_id, pipeline_id, pipeline_name, stage_id, stage_name, next_stage_name, "
            "exited_day, advanced from marts.mart_stage_exits where exited_day between ? and ?",
            [first_needed - timedelta(days=STAGE_RECENT_DAYS), days[-1]],
        )
        if warehouse.table_exists("marts", "mart_stage_exits")
        else None
    )
    return daily, channels, exits


@asset(
    key=["manager_anomalies"],
    group_name="ml",
    partitions_def=as_of_days,
    backfill_policy=single_run_backfill,
    deps=[AssetKey("mart_manager_daily"), AssetKey("mart_channel"), AssetKey("mart_stage_exits")],
    kinds={"python"},
    description=(
        "Unusual days of each active manager (activities, calls, lost deals, response time, average deal, the "
        "conversion of each stage over the manager's last deals that left it) and "
        "channel (spend, leads, cost per lead) and pipeline (the conversion of each stage over the pipeline's last "
        "40 deals that left it, flagged only when the fall holds without its worst manager), each KPI against the subject's own earlier working days (robust "
        "z-score, one-day spikes and sustained drops); a severity threshold, so a quiet day flags nothing. One row "
        "per subject and working day with the top KPI, its value, usual value, deviation and the other drivers. "
        "Weekends and holidays write no rows. Table ml.manager_anomalies."
    ),
)
def manager_anomalies(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    """Score each as-of day of the run and replace that day's rows."""
    days = sorted(date.fromisoformat(k) for k in context.partition_keys)
    daily, channels, exits = read_marts(warehouse, days)
    scored = score_days(daily, channels, days, exits)
    flagged_lines: list[str] = []
    for day in days:
        frame = scored.filter(pl.col("as_of_day") == day)
        warehouse.replace_rows(SCHEMA, TABLE, frame, where={"as_of_day": day})
        hits = frame.filter(pl.col("is_anomaly"))
        for row in hits.iter_rows(named=True):
            detail = f" {row['metric_detail']}" if row["metric_detail"] else ""
            flagged_lines.append(
                f"- {day} {row['manager_name']}: {row['top_metric']}{detail} {row['metric_value']:g} "
                f"(usual {row['usual_value']:g}), score {row['score']:.1f}"
            )
        context.log.info(f"{day}: {frame.height} subjects scored, {hits.height} flagged")
    flags = scored.filter(pl.col("is_anomaly"))
    return MaterializeResult(
        metadata={
            "managers_scored": MetadataValue.int(scored.filter(pl.col("subject_type") == "manager").height),
            "channels_scored": MetadataValue.int(scored.filter(pl.col("subject_type") == "channel").height),
            "pipelines_scored": MetadataValue.int(scored.filter(pl.col("subject_type") == "pipeline").height),
            "anomalies": MetadataValue.int(flags.height),
            "flagged": MetadataValue.md("\n".join(flagged_lines[-50:]) or "none"),
            "partitions_in_run": MetadataValue.int(len(days)),
            **as_of_table_metadata(warehouse, SCHEMA, TABLE, days),
        }
    )
