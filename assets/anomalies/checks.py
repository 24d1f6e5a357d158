"""Asset checks on ml.manager_anomalies: a quiet day must mean "looked and found nothing".

- every active subject scored: each manager with some activity, each channel with a lead or spend
  and each pipeline a deal left a stage of in the `ACTIVE_LOOKBACK_DAYS` up to a working as-of day
  has a row that day (exactly one); a manager missing from the table is a manager nobody watches;
- every flag explained: a flagged row names its metric, value and usual value (what the alert and
  the report quote).

Partitioned like the asset (a backfill checks its range). A failure is an ERROR evaluation, which
the check-failure sensor (schedules/sensors.py) sends to on-call like a failed dbt test. The
comparisons are pure functions (`*_problems`) so a test can break each on purpose.
"""

import warnings
from datetime import date, timedelta

import polars as pl
from dagster import AssetCheckExecutionContext, AssetCheckResult, PreviewWarning, asset_check

from assets.anomalies.kpis import ACTIVE_LOOKBACK_DAYS, is_working_day, ru_holidays
from assets.check_results import check_result
from assets.partitions import as_of_days
from resources.warehouse import Warehouse

SCHEMA, TABLE = "ml", "manager_anomalies"

# partitioned checks are "preview" in Dagster 1.13 (see assets/forecast/checks.py)
warnings.filterwarnings("ignore", message=r"Specifying a partitions_def on an AssetCheckSpec", category=PreviewWarning)


def active_subjects(events: pl.DataFrame, days: list[date]) -> pl.DataFrame:
    """(as_of_day, subject_type, subject_id) that must be scored: a working day and an event of the
    subject within the lookback up to it. `events`: subject_type, subject_id, day (days with activity)."""
    hol = ru_holidays(sorted({d.year for d in days}))
    rows = []
    for day in days:
        if not is_working_day(day, hol):
            continue
        recent = (
            events.filter((pl.col("day") <= day) & (pl.col("day") > day - timedelta(days=ACTIVE_LOOKBACK_DAYS)))
            .select("subject_type", "subject_id")
            .unique()
        )
        rows.append(recent.with_columns(pl.lit(day).alias("as_of_day")))
    schema = {"subject_type": pl.Utf8, "subject_id": pl.Utf8, "as_of_day": pl.Date}
    return pl.concat(rows, how="vertical_relaxed").cast(schema) if rows else pl.DataFrame(schema=schema)  # type: ignore[arg-type]


def coverage_problems(scored: pl.DataFrame, active: pl.DataFrame) -> list[str]:
    """Active subjects without exactly one row on their day."""
    counts = scored.group_by("as_of_day", "subject_type", "subject_id").len()
    joined = active.join(counts, on=["as_of_day", "subject_type", "subject_id"], how="left")
    bad = joined.filter(pl.col("len").is_null() | (pl.col("len") != 1)).sort("as_of_day", "subject_id")
    return [
        f"{r['as_of_day']} {r['subject_type']} {r['subject_id']}: {r['len'] or 0} строк(и), ожидалась одна"
        for r in bad.iter_rows(named=True)
    ]


def explanation_problems(scored: pl.DataFrame) -> list[str]:
    """Flagged rows without their metric, value or usual value."""
    bad = scored.filter(
        pl.col("is_anomaly")
        & (pl.col("top_metric").is_null() | pl.col("metric_value").is_null() | pl.col("usual_value").is_null())
    )
    return [
        f"{r['as_of_day']} {r['subject_type']} {r['subject_id']}: аномалия без показателя"
        for r in bad.iter_rows(named=True)
    ]


def _days(context: AssetCheckExecutionContext) -> list[date]:
    return sorted(date.fromisoformat(k) for k in context.partition_keys)


def _scored(warehouse: Warehouse, days: list[date]) -> pl.DataFrame:
    if not warehouse.table_exists(SCHEMA, TABLE):
        return pl.DataFrame(
            schema={"as_of_day": pl.Date, "subject_type": pl.Utf8, "subject_id": pl.Utf8, "is_anomaly": pl.Boolean}
        )
    return warehouse.query(
        f"select * from {SCHEMA}.{TABLE} where as_of_day between ? and ?", [days[0], days[-1]]
    ).with_columns(pl.col("as_of_day").cast(pl.Date), pl.col("subject_id").cast(pl.Utf8))


def _events(warehouse: Warehouse, days: list[date]) -> pl.DataFrame:
    start = days[0] - timedelta(days=ACTIVE_LOOKBACK_DAYS)
    frames = [
        warehouse.query(
            "select 'manager' as subject_type, cast(manager_id as varchar) as subject_id, day "
            "from marts.mart_manager_daily where day between ? and ? and (activities_total > 0 or lost_count > 0)",
            [start, days[-1]],
        )
    ]
    if warehouse.table_exists("marts", "mart_channel"):
        frames.append(
            warehouse.query(
                "select 'channel' as subject_type, channel as subject_id, day from marts.mart_channel "
                "where day between ? and ? and channel <> '(none)' group by channel, day "
                "having sum(leads) > 0 or sum(spend_rub) > 0",
                [start, days[-1]],
            )
        )
    if warehouse.table_exists("marts", "mart_stage_exits"):
        frames.append(
            warehouse.query(
                "select distinct 'pipeline' as subject_type, cast(pipeline_id as varchar) as subject_id, "
                "exited_day as day from marts.mart_stage_exits "
                "where exited_day between ? and ? and pipeline_id is not null",
                [start, days[-1]],
            )
        )
    return pl.concat(frames, how="vertical_relaxed").with_columns(pl.col("day").cast(pl.Date))


@asset_check(
    asset="manager_anomalies",
    partitions_def=as_of_days,
    description=(
        "Every active manager (activity in the last 14 days), channel (a lead or spend in the last 14 days) and "
        "pipeline (a deal left one of its stages in the last 14 days) has exactly one scored row on each working "
        "as-of day of the run."
    ),
)
def anomalies_every_active_subject_scored(
    context: AssetCheckExecutionContext, warehouse: Warehouse
) -> AssetCheckResult:
    days = _days(context)
    scored = _scored(warehouse, days)
    problems = coverage_problems(scored, active_subjects(_events(warehouse, days), days))
    return check_result(problems, scored.height, "Не все активные менеджеры, каналы и воронки проверены на аномалии")


@asset_check(
    asset="manager_anomalies",
    partitions_def=as_of_days,
    description="Every flagged row names its metric, its value and the usual value.",
)
def anomalies_flags_explained(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
    days = _days(context)
    scored = _scored(warehouse, days)
    return check_result(explanation_problems(scored), scored.height, "Аномалия без показателя")


CHECKS = [anomalies_every_active_subject_scored, anomalies_flags_explained]
