"""The head of sales' report: an Evidence static site rebuilt whenever its inputs materialize.

Why its own DuckDB file: Evidence must never read the live warehouse (one writer per DuckDB file,
and a Postgres warehouse in production), and the DuckDB inside Evidence (node-api 1.4) cannot open
files written by Python duckdb 2.0's default storage format. So the asset copies the few tables the
report shows into `sources/rop/rop.duckdb` of the build's working copy of the Evidence project
(`DATA_DIR/evidence`, STORAGE_VERSION v1.4.0), written to a temp file and moved into place, then runs
`evidence sources` + `evidence build`.
"""

import hashlib
import os
import time
from datetime import date
from pathlib import Path
from typing import Any, cast

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.metric_labels import METRIC_LABELS, SUBJECT_WRAPS, metric_title
from resources.evidence import EvidenceCLI, EvidenceError
from resources.settings import load_settings
from resources.warehouse import Warehouse

# Report table -> (warehouse schema, table, required, columns in the report's file).
# Required tables are dbt marts (the asset depends on them) and keep the mart's name, so the page's
# SQL names the marts it reads (dbt_project/models/exposures.yml lists the same). ML tables may not
# exist yet on a fresh warehouse, and the page shows "no data" instead of failing.
# The plan rules travel as data: fulfilment, remaining and colour of each level and the thresholds
# are mart_plan_fact's columns; the page prints them and never restates the rule.
REPORT_TABLES: dict[str, tuple[str, str, bool, dict[str, pl.DataType]]] = {
    "mart_plan_fact": (
        "marts",
        "mart_plan_fact",
        True,
        {
            "month": pl.Date(),
            "department_id": pl.Utf8(),
            "department_name": pl.Utf8(),
            "manager_id": pl.Utf8(),
            "manager_name": pl.Utf8(),
            "pipeline_id": pl.Utf8(),
            "pipeline_name": pl.Utf8(),
            "plan_rub": pl.Float64(),
            "actual_rub": pl.Float64(),
            "won_count": pl.Int64(),
            "fulfilment_pct": pl.Float64(),
            "colour": pl.Utf8(),
            "remaining_rub": pl.Float64(),
            "manager_plan_rub": pl.Float64(),
            "manager_actual_rub": pl.Float64(),
            "manager_won_count": pl.Int64(),
            "manager_fulfilment_pct": pl.Float64(),
            "manager_colour": pl.Utf8(),
            "manager_remaining_rub": pl.Float64(),
            "company_plan_rub": pl.Float64(),
            "company_actual_rub": pl.Float64(),
            "company_fulfilment_pct": pl.Float64(),
            "company_colour": pl.Utf8(),
            "company_remaining_rub": pl.Float64(),
            "plan_red_below_pct": pl.Float64(),
            "plan_green_from_pct": pl.Float64(),
            "department_plan_rub": pl.Float64(),
            "department_actual_rub": pl.Float64(),
            "department_won_count": pl.Int64(),
            "department_fulfilment_pct": pl.Float64(),
            "department_colour": pl.Utf8(),
            "department_remaining_rub": pl.Float64(),
            "expected_pace_pct": pl.Float64(),
            "manager_pace_pct": pl.Float64(),
            "manager_pace_colour": pl.Utf8(),
            "department_pace_pct": pl.Float64(),
            "department_pace_colour": pl.Utf8(),
            "company_pace_pct": pl.Float64(),
            "company_pace_colour": pl.Utf8(),
            "bonus_total_rub": pl.Float64(),
        },
    ),
    "mart_same_date": (
        "marts",
        "mart_same_date",
        True,
        {
            "day": pl.Date(),
            "scope_type": pl.Utf8(),
            "scope_id": pl.Utf8(),
            "scope_name": pl.Utf8(),
            "mtd_won_rub": pl.Float64(),
            "prev_month_won_rub": pl.Float64(),
            "mom_change_pct": pl.Float64(),
            "mtd_won_count": pl.Int64(),
            "prev_month_won_count": pl.Int64(),
            "mtd_leads": pl.Int64(),
            "prev_month_leads": pl.Int64(),
        },
    ),
    "mart_deals": (
        "marts",
        "mart_deals",
        True,
        {
            "deal_id": pl.Utf8(),
            "deal_number": pl.Utf8(),
            "deal_title": pl.Utf8(),
            "crm_url": pl.Utf8(),
            "pipeline_name": pl.Utf8(),
            "stage_name": pl.Utf8(),
            "semantic": pl.Utf8(),
            "is_closed": pl.Boolean(),
            "manager_id": pl.Utf8(),
            "manager_name": pl.Utf8(),
            "department_name": pl.Utf8(),
            "channel": pl.Utf8(),
            "sale_type": pl.Utf8(),
            "amount_rub": pl.Float64(),
            "created_day": pl.Date(),
            "closed_day": pl.Date(),
            "cycle_days": pl.Int64(),
            "days_since_last_activity": pl.Int64(),
            "days_since_last_call": pl.Int64(),
            "open_tasks": pl.Int64(),
        },
    ),
    "mart_forgotten": (
        "marts",
        "mart_forgotten",
        True,
        {
            "as_of_day": pl.Date(),
            "entity_type": pl.Utf8(),
            "entity_id": pl.Utf8(),
            "entity_number": pl.Utf8(),
            "title": pl.Utf8(),
            "manager_name": pl.Utf8(),
            "department_id": pl.Utf8(),
            "created_day": pl.Date(),
            "last_activity_day": pl.Date(),
            "days_idle": pl.Int64(),
            "threshold_days": pl.Int64(),
            "is_forgotten": pl.Boolean(),
            "is_without_task": pl.Boolean(),
            "open_tasks": pl.Int64(),
            "overdue_tasks": pl.Int64(),
            "amount_rub": pl.Float64(),
            "crm_url": pl.Utf8(),
        },
    ),
    "mart_missed_calls": (
        "marts",
        "mart_missed_calls",
        True,
        {
            "call_id": pl.Utf8(),
            "started_at": pl.Datetime(),
            "day": pl.Date(),
            "manager_name": pl.Utf8(),
            "department_id": pl.Utf8(),
            "client_key": pl.Utf8(),
            "entity_type": pl.Utf8(),
            "entity_id": pl.Utf8(),
        },
    ),
    "mart_call_load_hourly": (
        "marts",
        "mart_call_load_hourly",
        True,
        {
            "day": pl.Date(),
            "manager_name": pl.Utf8(),
            "department_id": pl.Utf8(),
            "hour_of_day": pl.Int64(),
            "calls_out": pl.Int64(),
            "calls_in": pl.Int64(),
            "calls_missed": pl.Int64(),
            "call_minutes": pl.Float64(),
        },
    ),
    "mart_manager_ranking": (
        "marts",
        "mart_manager_ranking",
        True,
        {
            "month": pl.Date(),
            "manager_name": pl.Utf8(),
            "score": pl.Float64(),
            "score_rank": pl.Int64(),
            "badges": pl.Utf8(),
            "fulfilment_pct": pl.Float64(),
            "win_rate_pct": pl.Float64(),
            "avg_deal_rub": pl.Float64(),
            "activity_index": pl.Float64(),
            "median_response_minutes": pl.Float64(),
        },
    ),
    "mart_manager_daily": (
        "marts",
        "mart_manager_daily",
        True,
        {
            "day": pl.Date(),
            "manager_name": pl.Utf8(),
            "calls_out": pl.Int64(),
            "calls_in": pl.Int64(),
            "calls_missed": pl.Int64(),
            "call_minutes": pl.Float64(),
            "calls_out_norm": pl.Int64(),
            "calls_out_norm_met": pl.Boolean(),
            "tasks_done": pl.Int64(),
            "tasks_overdue": pl.Int64(),
        },
    ),
    "mart_revenue_daily": (
        "marts",
        "mart_revenue_daily",
        True,
        {
            "day": pl.Date(),
            "department_id": pl.Utf8(),
            "department_name": pl.Utf8(),
            "won_rub": pl.Float64(),
            "won_count": pl.Int64(),
        },
    ),
    # The funnel, channel and finance pages (Воронка, Источники, Финансы).
    "mart_funnel_stages": (
        "marts",
        "mart_funnel_stages",
        True,
        {
            "month": pl.Date(),
            "scope_type": pl.Utf8(),
            "scope_id": pl.Utf8(),
            "scope_name": pl.Utf8(),
            "pipeline_id": pl.Utf8(),
            "pipeline_name": pl.Utf8(),
            "stage_id": pl.Utf8(),
            "stage_name": pl.Utf8(),
            "stage_sort": pl.Int64(),
            "entered_weekday": pl.Int64(),
            "entered": pl.Int64(),
            "advanced": pl.Int64(),
            "conversion_pct": pl.Float64(),
            "median_days_in_stage": pl.Float64(),
        },
    ),
    "mart_lost_reasons": (
        "marts",
        "mart_lost_reasons",
        True,
        {
            "month": pl.Date(),
            "pipeline_id": pl.Utf8(),
            "pipeline_name": pl.Utf8(),
            "manager_name": pl.Utf8(),
            "department_name": pl.Utf8(),
            "lost_reason": pl.Utf8(),
            "lost_count": pl.Int64(),
            "lost_rub": pl.Float64(),
        },
    ),
    "mart_channel_monthly": (
        "marts",
        "mart_channel_monthly",
        True,
        {
            "month": pl.Date(),
            "breakdown": pl.Utf8(),
            "channel": pl.Utf8(),
            "source_name": pl.Utf8(),
            "utm_source": pl.Utf8(),
            "utm_medium": pl.Utf8(),
            "utm_campaign": pl.Utf8(),
            "spend_rub": pl.Float64(),
            "leads": pl.Int64(),
            "leads_won": pl.Int64(),
            "won_count": pl.Int64(),
            "revenue_rub": pl.Float64(),
            "cpl_rub": pl.Float64(),
            "cpa_rub": pl.Float64(),
            "romi_pct": pl.Float64(),
            "lead_to_won_pct": pl.Float64(),
        },
    ),
    "mart_reconciliation": (
        "marts",
        "mart_reconciliation",
        True,
        {
            "month": pl.Date(),
            "ad_platform_leads": pl.Int64(),
            "crm_leads": pl.Int64(),
            "crm_won_count": pl.Int64(),
            "crm_won_rub": pl.Float64(),
            "payments_count": pl.Int64(),
            "payments_rub": pl.Float64(),
            "gap_crm_vs_ad_leads_pct": pl.Float64(),
            "lead_to_won_pct": pl.Float64(),
            "gap_payments_vs_won_pct": pl.Float64(),
        },
    ),
    "mart_open_invoices": (
        "marts",
        "mart_open_invoices",
        True,
        {
            "as_of_day": pl.Date(),
            "invoice_id": pl.Utf8(),
            "invoice_day": pl.Date(),
            "deal_title": pl.Utf8(),
            "crm_url": pl.Utf8(),
            "counterparty": pl.Utf8(),
            "manager_name": pl.Utf8(),
            "department_name": pl.Utf8(),
            "status": pl.Utf8(),
            "currency_code": pl.Utf8(),
            "amount": pl.Float64(),
            "paid_amount": pl.Float64(),
            "outstanding_amount": pl.Float64(),
            "outstanding_rub": pl.Float64(),
            "days_open": pl.Int64(),
        },
    ),
    "forecast": (
        "ml",
        "forecast_month_end",
        False,
        {
            "as_of_day": pl.Date(),
            "month": pl.Date(),
            "scope": pl.Utf8(),
            "plan_rub": pl.Float64(),
            "actual_mtd_rub": pl.Float64(),
            "forecast_rub": pl.Float64(),
            "forecast_low_rub": pl.Float64(),
            "forecast_high_rub": pl.Float64(),
            "prob_reach_plan": pl.Float64(),
            "ruler_rub": pl.Float64(),
            "model": pl.Utf8(),
            "history_days": pl.Int64(),
            "gap_rub": pl.Float64(),
            "leads_needed": pl.Float64(),
            "open_deals": pl.Int64(),
            "open_deals_expected_rub": pl.Float64(),
        },
    ),
    # The forecast page's tables; of each only the latest as-of day is copied (LATEST_DAY_ONLY).
    "forecast_scopes": (
        "ml",
        "forecast_scopes",
        False,
        {
            "as_of_day": pl.Date(),
            "scope_type": pl.Utf8(),
            "scope_id": pl.Int64(),
            "scope_name": pl.Utf8(),
            "plan_rub": pl.Float64(),
            "actual_mtd_rub": pl.Float64(),
            "forecast_rub": pl.Float64(),
            "forecast_low_rub": pl.Float64(),
            "forecast_high_rub": pl.Float64(),
            "prob_reach_plan": pl.Float64(),
            "gap_rub": pl.Float64(),
            "leads_needed": pl.Float64(),
            "open_deals": pl.Int64(),
        },
    ),
    "forecast_week": (
        "ml",
        "forecast_week",
        False,
        {
            "as_of_day": pl.Date(),
            "week_start": pl.Date(),
            "week_end": pl.Date(),
            "scope_type": pl.Utf8(),
            "scope_id": pl.Int64(),
            "scope_name": pl.Utf8(),
            "plan_rub": pl.Float64(),
            "actual_wtd_rub": pl.Float64(),
            "forecast_rub": pl.Float64(),
            "forecast_low_rub": pl.Float64(),
            "forecast_high_rub": pl.Float64(),
            "prob_reach_plan": pl.Float64(),
            "gap_rub": pl.Float64(),
            "ruler_rub": pl.Float64(),
            "working_days_elapsed": pl.Int64(),
            "working_days_in_week": pl.Int64(),
            "open_deals": pl.Int64(),
            "open_deals_expected_rub": pl.Float64(),
            "pipeline_rub": pl.Float64(),
            "like_days_rub": pl.Float64(),
        },
    ),
    "forecast_deals": (
        "ml",
        "forecast_deals",
        False,
        {
            "as_of_day": pl.Date(),
            "deal_id": pl.Int64(),
            "stage_id": pl.Utf8(),
            "age_days": pl.Int64(),
            "amount_rub": pl.Float64(),
            "probability": pl.Float64(),
            "expected_rub": pl.Float64(),
        },
    ),
    "forecast_accuracy": (
        "ml",
        "forecast_accuracy",
        False,
        {
            "as_of_day": pl.Date(),
            "horizon_day": pl.Int64(),
            "method": pl.Utf8(),
            "months": pl.Int64(),
            "mape": pl.Float64(),
            "bias": pl.Float64(),
            "interval_coverage": pl.Float64(),
        },
    ),
    "anomalies": (
        "ml",
        "manager_anomalies",
        False,
        {
            "as_of_day": pl.Date(),
            "manager_id": pl.Utf8(),
            "manager_name": pl.Utf8(),
            "score": pl.Float64(),
            "is_anomaly": pl.Boolean(),
            "top_metric": pl.Utf8(),
            "metric_value": pl.Float64(),
            "usual_value": pl.Float64(),
            "subject_type": pl.Utf8(),
            "subject_id": pl.Utf8(),
            "deviation_pct": pl.Float64(),
            "window_days": pl.Int64(),
            "drivers": pl.Utf8(),
            "metric_detail": pl.Utf8(),
        },
    ),
    "insights": (
        "ml",
        "insights",
        False,
        {"as_of_day": pl.Date(), "rank": pl.Int64(), "text": pl.Utf8(), "source": pl.Utf8()},
    ),
    # Written by every ingest run (assets/ingest/guard.py): the page says which source is stale.
    # The error text stays in Dagster: the site shows status and times only.
    "source_status": (
        "ops",
        "source_status",
        False,
        {"source": pl.Utf8(), "status": pl.Utf8(), "attempted_at": pl.Datetime(), "last_success_at": pl.Datetime()},
    ),
}

# How the page names each source (assets/ingest/sources.py has the same keys).
SOURCE_TITLES_RU = {
    "bitrix24": "Битрикс24",
    "amocrm": "amoCRM",
    "export": "Выгрузка CRM",
    "plan": "План продаж",
    "cbr": "Курсы ЦБ",
    "direct": "Яндекс.Директ",
    "vk": "VK Реклама",
    "onec": "1С: оплаты",
    "telephony": "Телефония",
}


def source_freshness(frame: pl.DataFrame, tz: str) -> pl.DataFrame:
    """The sources as a person reads them: Russian name, status, last good load in the company's time zone."""

    def local(col: str) -> pl.Expr:
        return (
            pl.col(col)
            .dt.replace_time_zone("UTC")
            .dt.convert_time_zone(tz)
            .dt.strftime("%d.%m.%Y %H:%M")
            .fill_null("никогда")
        )

    return frame.select(
        pl.col("source"),
        pl.col("source").replace_strict(SOURCE_TITLES_RU, default=pl.col("source")).alias("source_title"),
        pl.col("status"),
        pl.when(pl.col("status") == "ok")
        .then(pl.lit("обновлён"))
        .otherwise(pl.lit("НЕ обновился: данные устарели"))
        .alias("status_text"),
        local("last_success_at").alias("last_success_text"),
        local("attempted_at").alias("attempted_text"),
    ).sort("source_title")


# The marts the report copies (the same list as its dbt exposure), then the ML outputs.
REPORT_MARTS = [table for schema, table, required, _ in REPORT_TABLES.values() if required]
UPSTREAM_KEYS = [
    *(AssetKey(table) for table in REPORT_MARTS),
    AssetKey("forecast_month_end"),
    AssetKey("forecast_week"),
    AssetKey("manager_anomalies"),
    AssetKey("insights"),
]


def conform(frame: pl.DataFrame, columns: dict[str, pl.DataType], name: str, tz: str = "UTC") -> pl.DataFrame:
    """The report's column set and types, whatever the warehouse returned (DuckDB or Postgres).

    Postgres numerics arrive as Decimal, ids as ints or strings; missing optional columns become
    nulls (`scope` defaults to 'company': the ML stage may write company rows only). An instant
    (timestamp with a zone) becomes the company's wall-clock time `tz`: the page prints it as is.
    """
    exprs = []
    for col, dtype in columns.items():
        source = frame.schema.get(col)
        if col in frame.columns:
            if isinstance(dtype, pl.Datetime) and isinstance(source, pl.Datetime) and source.time_zone:
                expr = pl.col(col).dt.convert_time_zone(tz).dt.replace_time_zone(None)
            elif isinstance(dtype, pl.Date) and isinstance(source, pl.Datetime):
                expr = pl.col(col).dt.date()
            else:
                expr = pl.col(col).cast(dtype, strict=False)
        elif name == "forecast" and col == "scope":
            expr = pl.lit("company", dtype=pl.Utf8)
        else:
            expr = pl.lit(None, dtype=dtype)
        exprs.append(expr.alias(col))
    return frame.select(exprs)


# Per-day ML tables the site shows for its latest day only (a year of forecast_deals is 200,000 rows).
LATEST_DAY_ONLY = {"forecast_scopes", "forecast_week", "forecast_deals", "forecast_accuracy"}


def read_report_tables(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    """Read every table the report shows; a missing optional (ML) table yields an empty frame."""
    frames: dict[str, pl.DataFrame] = {}
    tz = load_settings().company_timezone
    for name, (schema, table, required, columns) in REPORT_TABLES.items():
        if not warehouse.table_exists(schema, table):
            if required:
                raise RuntimeError(f"{schema}.{table} does not exist: materialize the dbt marts first")
            frames[name] = pl.DataFrame(schema=columns)
            continue
        frame = conform(warehouse.query(f'select * from "{schema}"."{table}"'), columns, name, tz)
        if name in LATEST_DAY_ONLY and frame.height:
            frame = frame.filter(pl.col("as_of_day") == pl.col("as_of_day").max())
        frames[name] = frame
    frames["source_status"] = source_freshness(frames["source_status"], tz)
    frames["anomalies"] = with_subject_titles(with_metric_titles(frames["anomalies"]))
    return frames


def with_metric_titles(anomalies: pl.DataFrame) -> pl.DataFrame:
    """Add `metric_label`, the Russian name of `top_metric`: the pages print it instead of keeping
    their own copies of the list (a metric added to the model later reads `Другой показатель`).
    A stage conversion names its stages: `Конверсия этапа «КП» → «Счёт» (Новые продажи), %`."""
    titles = {metric: metric_title(metric) for metric in METRIC_LABELS}
    title = pl.col("top_metric").replace_strict(titles, default=metric_title(None), return_dtype=pl.Utf8)
    detail = pl.col("metric_detail") if "metric_detail" in anomalies.columns else pl.lit(None, dtype=pl.Utf8)
    return anomalies.with_columns(
        pl.when((pl.col("top_metric") == "stage_conversion") & detail.is_not_null())
        .then(pl.concat_str(pl.lit("Конверсия этапа "), detail, pl.lit(", %")))
        .when(detail.is_not_null())
        .then(pl.concat_str(title, pl.lit(" ("), detail, pl.lit(")")))
        .otherwise(title)
        .alias("metric_label")
    )


def with_subject_titles(anomalies: pl.DataFrame) -> pl.DataFrame:
    """Add `subject_label`, who or what the anomaly is about as the page prints it: the manager's
    name, `Канал Яндекс.Директ`, `Воронка «Новые продажи»` (a table written before the channels and
    pipelines has no subject_type: every row is a manager's)."""
    name = pl.col("manager_name")
    if "subject_type" not in anomalies.columns:
        return anomalies.with_columns(name.alias("subject_label"))
    label: Any = pl.when(pl.lit(False)).then(name)
    for subject_type, (before, after) in SUBJECT_WRAPS.items():
        title = before[:1].upper() + before[1:]
        label = label.when(pl.col("subject_type") == subject_type).then(
            pl.concat_str(pl.lit(title), name, pl.lit(after))
        )
    return anomalies.with_columns(label.otherwise(name).alias("subject_label"))


def write_report_db(frames: dict[str, pl.DataFrame], path: Path) -> dict[str, int]:
    """Write the frames as tables of a DuckDB file Evidence can open; atomic (temp file + rename).

    An empty frame is written as one all-null row: `evidence sources` writes no Parquet file for
    a 0-row result and the page's queries would then fail. Every page query joins on the report
    day (or month), so the null row never shows. Returned counts are the real row counts.
    """
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{tmp.as_posix()}' AS rop (STORAGE_VERSION 'v1.4.0')")
        for name, frame in frames.items():
            if frame.height == 0:
                frame = pl.DataFrame([pl.Series(c, [None], dtype=t) for c, t in frame.schema.items()])
            con.register("_incoming", frame.to_arrow())
            con.execute(f'CREATE TABLE rop.main."{name}" AS SELECT * FROM _incoming')
            con.unregister("_incoming")
        con.execute("DETACH rop")
    finally:
        con.close()
    os.replace(tmp, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
    return {name: frame.height for name, frame in frames.items()}


# What the fingerprint leaves out: the times a source was last tried or loaded change with every
# 15-minute refresh even when no figure does. Whether a source is stale is kept (it changes the page).
_NOT_FINGERPRINTED = {"source_status": ("attempted_text", "last_success_text", "attempted_at", "last_success_at")}


def data_fingerprint(frames: dict[str, pl.DataFrame]) -> str:
    """A digest of every figure the site shows, independent of row order.

    Equal digests mean the pages would show the same numbers, so a refresh that changed nothing
    need not spend two minutes of CPU rebuilding the site.
    """
    digest = hashlib.sha256()
    for name in sorted(frames):
        frame = frames[name].drop(_NOT_FINGERPRINTED.get(name, ()), strict=False)
        digest.update(f"{name}:{sorted(frame.schema.items(), key=str)}:{frame.height}".encode())
        if frame.height and frame.width:
            digest.update(frame.hash_rows(seed=0).sort().to_numpy().tobytes())
    return digest.hexdigest()


def report_day(frames: dict[str, pl.DataFrame]) -> date | None:
    """The report's "today": the latest as-of day in the ML outputs, else the latest revenue day."""
    # date columns: polars types a column's max for every dtype, hence the cast
    days = [cast(date, frames[n]["as_of_day"].max()) for n in ("forecast", "anomalies", "insights") if frames[n].height]
    days = [d for d in days if d is not None]
    if days:
        return max(days)
    revenue = frames["mart_revenue_daily"]
    return cast(date, revenue["day"].max()) if revenue.height else None


def manager_routes(frames: dict[str, pl.DataFrame]) -> list[str]:
    """A page per manager (`menedzher/<name>`): the people the list on pages/menedzher/index.md links
    to, from the same two tables (a plan line or a day of activity)."""
    names: set[str] = set()
    for table in ("mart_plan_fact", "mart_manager_daily"):
        frame = frames.get(table)
        if frame is not None and "manager_name" in frame.columns:
            names.update(name for name in frame["manager_name"].drop_nulls().to_list() if str(name).strip())
    return [f"menedzher/{name}" for name in sorted(names)]


# Eager, but not blocked by missing upstream data: the ML inputs are daily-partitioned and old
# days are rarely all materialized, while this unpartitioned asset should follow any new one.
REPORT_AUTOMATION = (
    AutomationCondition.eager().without(~AutomationCondition.any_deps_missing()).with_label("eager_allow_missing")
)


@asset(
    key=["report_site"],
    group_name="report",
    deps=UPSTREAM_KEYS,
    automation_condition=REPORT_AUTOMATION,
    kinds={"evidence", "duckdb"},
    description="Evidence static site for the head of sales: director, plan vs actual, forgotten, calls, deals.",
)
def report_site(context: AssetExecutionContext, warehouse: Warehouse, evidence: EvidenceCLI) -> MaterializeResult:
    """Copy the report's tables into its own DuckDB file and build the site, unless nothing changed.

    The site is rebuilt when a figure it shows, a page or the installed packages changed since the
    published build; otherwise the published site stays (and says so in the metadata). A failed
    build leaves the previous site published; the run fails, and on-call hears of it like any run.
    """
    frames = read_report_tables(warehouse)
    day = report_day(frames)
    counts = {name: frame.height for name, frame in frames.items()}
    rows = {f"rows_{name}": count for name, count in counts.items()}
    with evidence.locked():
        install_s = evidence.install()
        fingerprint = f"{data_fingerprint(frames)}-{evidence.project_digest()[:16]}"
        if evidence.published_fingerprint() == fingerprint:
            index = evidence.site_dir / "index.html"
            context.log.info(f"no figure, page or package changed since the published build: {index} stays")
            return MaterializeResult(
                metadata={
                    "site_path": MetadataValue.path(str(index)),
                    "as_of_day": str(day) if day else "",
                    "rebuilt": False,
                    "fingerprint": fingerprint,
                    **rows,
                }
            )
        write_report_db(frames, evidence.data_file)
        try:
            sources_s = evidence.sources()
            started = time.monotonic()
            index = evidence.build(fingerprint=fingerprint, routes=manager_routes(frames))
        except EvidenceError as exc:
            kept = evidence.site_dir / "index.html"
            # not chained: the on-call message quotes the innermost error, which must say the site stayed
            still = f"the previous site stays published at {kept}" if kept.exists() else "no site is published yet"
            raise EvidenceError(f"{str(exc).splitlines()[0].rstrip(':')}; {still}\n{exc}") from None
        build_s = time.monotonic() - started
    context.log.info(f"report built at {index} in {build_s:.2f} s (as of {day})")
    return MaterializeResult(
        metadata={
            "site_path": MetadataValue.path(str(index)),
            "as_of_day": str(day) if day else "",
            "rebuilt": True,
            "fingerprint": fingerprint,
            # publishing an app compiled earlier takes milliseconds: one decimal would say 0
            "build_seconds": round(build_s, 3),
            "sources_seconds": round(sources_s, 1),
            "install_seconds": round(install_s, 1),
            **rows,
        }
    )


report_automation_sensor = AutomationConditionSensorDefinition(
    "report_automation_sensor",
    target=AssetSelection.assets(report_site),
    default_status=DefaultSensorStatus.RUNNING,
    description="Rebuilds the report whenever a mart or ML output it shows materializes.",
)


def build_defs() -> Definitions:
    """The report stage: one asset plus the sensor that evaluates its automation condition."""
    return Definitions(assets=[report_site], sensors=[report_automation_sensor])
