"""Dagster asset: unusual manager-days, one partition per as-of day (ml.manager_anomalies).

Thin: read the manager-day mart for the trailing window, hand it to the pure model, write that
day's scores. Nothing after the as-of day is read, so a backfill scores history as it would have
looked then. A backfill is one run (single-run policy) with one read of the mart.
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

from assets.anomalies.model import ACTIVE_LOOKBACK_DAYS, WINDOW_DAYS, score_day
from assets.partitions import as_of_days, single_run_backfill
from assets.table_metadata import as_of_table_metadata
from resources.warehouse import Warehouse

SCHEMA, TABLE = "ml", "manager_anomalies"


@asset(
    key=["manager_anomalies"],
    group_name="ml",
    partitions_def=as_of_days,
    backfill_policy=single_run_backfill,
    deps=[AssetKey("mart_manager_daily")],
    kinds={"python"},
    description=(
        "Per-manager anomaly scores for the as-of working day: Isolation Forest (pyod) over each "
        "manager's deviation from their own trailing 60-day habits; flag, the metric that moved "
        "most, its value and usual value. Weekends and holidays write no rows. Table ml.manager_anomalies."
    ),
)
def manager_anomalies(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    """Score each as-of day of the run and replace that day's rows."""
    days = sorted(date.fromisoformat(k) for k in context.partition_keys)
    first_needed = days[0] - timedelta(days=WINDOW_DAYS + ACTIVE_LOOKBACK_DAYS)
    daily = warehouse.query(
        "select * from marts.mart_manager_daily where day between ? and ? order by day, manager_id",
        [first_needed, days[-1]],
    )
    flagged_lines: list[str] = []
    scored = flagged = 0
    for day in days:
        frame = score_day(daily, day)
        warehouse.replace_rows(SCHEMA, TABLE, frame, where={"as_of_day": day})
        hits = frame.filter(pl.col("is_anomaly"))
        scored += frame.height
        flagged += hits.height
        for row in hits.iter_rows(named=True):
            flagged_lines.append(
                f"- {day} {row['manager_name']}: {row['top_metric']} {row['metric_value']:g} "
                f"(usual {row['usual_value']:g}), score {row['score']:.3f}"
            )
        context.log.info(f"{day}: {frame.height} managers scored, {hits.height} flagged")
    return MaterializeResult(
        metadata={
            "managers_scored": MetadataValue.int(scored),
            "anomalies": MetadataValue.int(flagged),
            "flagged": MetadataValue.md("\n".join(flagged_lines[-50:]) or "none"),
            "partitions_in_run": MetadataValue.int(len(days)),
            **as_of_table_metadata(warehouse, SCHEMA, TABLE, days),
        }
    )
