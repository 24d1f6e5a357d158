"""Dagster asset: the current week's forecast, one partition per as-of day (ml.forecast_week).

Thin like forecast_month_end: read each scope's won revenue per day (company, departments, managers,
pipelines), the month plans and the deals with their stage entries, call the pure model (week.py), write one row per scope and day. The
interval is learned from the table's own rows of weeks that have ended, so a backfill is a backtest
and learns as it goes (single-run policy: one read of the marts for a range of days).
"""

from collections.abc import Mapping
from datetime import date, timedelta

import polars as pl
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from assets.forecast import week
from assets.forecast.assets import format_amount
from assets.forecast.model import month_bounds
from assets.partitions import as_of_days, single_run_backfill
from assets.table_metadata import as_of_table_metadata
from resources.warehouse import Warehouse

SCHEMA, TABLE = "ml", "forecast_week"


def _typed(frame: pl.DataFrame, columns: Mapping[str, pl.DataType | type[pl.DataType]]) -> pl.DataFrame:
    return frame.select([pl.col(c).cast(t) for c, t in columns.items()])


def _has_columns(warehouse: Warehouse, schema: str, table: str, columns: set[str]) -> bool:
    if not warehouse.table_exists(schema, table):
        return False
    return columns <= set(warehouse.query(f"select * from {schema}.{table} limit 0").columns)


def week_inputs(warehouse: Warehouse, first: date, through: date) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(revenue per day and scope, month plans per scope, scope names) from `first` to `through`.

    Company: marts.mart_revenue_daily; departments and managers: mart_manager_daily; pipelines: the won
    deals of mart_deals. A company without one of those marts gets the scopes it has."""
    daily = [
        warehouse.query(
            f"select day, 'company' as scope_type, {week.COMPANY_ID} as scope_id, sum(won_rub) as revenue_rub"
            " from marts.mart_revenue_daily where day between ? and ? group by day",
            [first, through],
        )
    ]
    names = []
    managers = _has_columns(warehouse, "marts", "mart_manager_daily", {"manager_id", "department_id", "won_rub"})
    pipelines = _has_columns(warehouse, "marts", "mart_deals", {"pipeline_id", "pipeline_name", "closed_day"})
    if managers:
        for kind, key in (("department", "department_id"), ("manager", "manager_id")):
            daily.append(
                warehouse.query(
                    f"select day, '{kind}' as scope_type, {key} as scope_id, sum(won_rub) as revenue_rub"
                    f" from marts.mart_manager_daily where day between ? and ? and {key} is not null group by 1, 3",
                    [first, through],
                )
            )
        names.append(
            warehouse.query(
                "select 'department' as scope_type, department_id as scope_id, max(department_name) as scope_name,"
                " department_id from marts.mart_revenue_daily where department_id is not null group by department_id"
            )
        )
        names.append(
            warehouse.query(
                "select 'manager' as scope_type, manager_id as scope_id, manager_name as scope_name, department_id"
                " from (select manager_id, manager_name, department_id, row_number() over"
                " (partition by manager_id order by day desc) as latest from marts.mart_manager_daily"
                " where manager_id is not null) m where latest = 1"
            )
        )
    if pipelines:
        daily.append(
            warehouse.query(
                "select closed_day as day, 'pipeline' as scope_type, pipeline_id as scope_id,"
                " sum(cast(amount_rub as double precision)) as revenue_rub from marts.mart_deals"
                " where is_won and closed_day between ? and ? and pipeline_id is not null group by 1, 3",
                [first, through],
            )
        )
        names.append(
            warehouse.query(
                "select 'pipeline' as scope_type, pipeline_id as scope_id, max(pipeline_name) as scope_name,"
                " cast(null as bigint) as department_id from marts.mart_deals"
                " where pipeline_id is not null group by pipeline_id"
            )
        )
    months = [month_bounds(first)[0], month_bounds(through + timedelta(days=6))[0]]
    plans = [
        warehouse.query(
            f"select month, 'company' as scope_type, {week.COMPANY_ID} as scope_id, sum(plan_rub) as plan_rub"
            " from marts.mart_plan_fact where month between ? and ? group by month",
            months,
        )
    ]
    scoped_plans = [("department", "department_id"), ("manager", "manager_id")] if managers else []
    if pipelines:
        scoped_plans.append(("pipeline", "pipeline_id"))
    for kind, key in scoped_plans:
        known = " and pipeline_id in (select pipeline_id from marts.mart_deals)" if kind == "pipeline" else ""
        plans.append(
            warehouse.query(
                f"select month, '{kind}' as scope_type, {key} as scope_id, sum(plan_rub) as plan_rub"
                f" from marts.mart_plan_fact where month between ? and ? and {key} is not null{known} group by 1, 3",
                months,
            )
        )
    name_columns = {
        "scope_type": pl.Utf8(),
        "scope_id": pl.Int64(),
        "scope_name": pl.Utf8(),
        "department_id": pl.Int64(),
    }
    return (
        pl.concat([_typed(f, week.DAILY_COLUMNS) for f in daily]),
        pl.concat([_typed(f, week.PLAN_COLUMNS) for f in plans]),
        pl.concat([_typed(f, name_columns) for f in names]) if names else pl.DataFrame(schema=name_columns),
    )


def week_deals(warehouse: Warehouse, through: date) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """The deals created by `through` with their owners, and their open-stage entries by then (the
    open pipeline's part); (None, None) without the deals mart, no stages without stage history."""
    if not _has_columns(warehouse, "marts", "mart_deals", {"deal_id", "pipeline_id", "created_day", "closed_day"}):
        return None, None
    owners = _has_columns(warehouse, "marts", "mart_deals", {"manager_id", "department_id"})
    deals = warehouse.query(
        "select deal_id, pipeline_id, created_day, closed_day, is_won, cast(amount_rub as double precision) as amount_rub"
        + (", manager_id, department_id" if owners else "")
        + " from marts.mart_deals where created_day <= ?",
        [through],
    )
    stages = (
        warehouse.query(
            "select deal_id, stage_id, entered_day from intermediate.stage_history"
            " where stage_semantic = 'open' and entered_day <= ?",
            [through],
        )
        if warehouse.table_exists("intermediate", "stage_history")
        else None
    )
    return deals, stages


def _past(warehouse: Warehouse, first: date, before: date) -> pl.DataFrame:
    """The table's rows of the weeks from `first`'s to the one before `before`'s: what the interval learns from."""
    if not warehouse.table_exists(SCHEMA, TABLE):
        return pl.DataFrame(schema=week.PAST_COLUMNS)
    have = set(warehouse.query(f"select * from {SCHEMA}.{TABLE} limit 0").columns)
    kept = [c for c in week.PAST_COLUMNS if c in have]  # a table written before the estimates were kept lacks them
    frame = warehouse.query(
        f"select {', '.join(kept)} from {SCHEMA}.{TABLE} where week_start >= ? and week_start < ?",
        [week.week_bounds(first)[0], week.week_bounds(before)[0]],
    )
    return week.past_rows(frame)


@asset(
    key=["forecast_week"],
    group_name="ml",
    partitions_def=as_of_days,
    backfill_policy=single_run_backfill,
    deps=[
        AssetKey("mart_revenue_daily"),
        AssetKey("mart_plan_fact"),
        AssetKey("mart_manager_daily"),
        AssetKey("mart_deals"),
        AssetKey("stage_history"),
    ],
    kinds={"python"},
    description=(
        "The current ISO week's revenue forecast as of the partition's day, for the company and each department, "
        "manager and pipeline: three estimates of the week's end (week to date + the open deals × P(won by Sunday) "
        "+ the new deals' share of each remaining day at its recent same-weekday level; the like days alone; the "
        "weekly ruler), weighed as they did on the same weekday of earlier weeks; 80 % interval "
        "learned from earlier weeks' errors, the week's plan (the month's plan per working day × the week's "
        "working days), P(week plan), beside the weekly ruler. No data after the as-of day. Table ml.forecast_week."
    ),
)
def forecast_week(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    """Forecast each as-of day of the run (one, or a backfill's range); one row per scope and day."""
    days = sorted(date.fromisoformat(k) for k in context.partition_keys)
    first = week.week_bounds(days[0])[0] - timedelta(weeks=week.MAX_WEEKS + 1)
    daily, plans, names = week_inputs(warehouse, first, days[-1])
    past = _past(warehouse, first, days[0])
    deals, stages = week_deals(warehouse, days[-1])
    written: list[pl.DataFrame] = []
    for day in days:
        learned_from = pl.concat([past, *[w.select(list(week.PAST_COLUMNS)) for w in written]])
        rows = week.forecast_week(daily, day, plans, learned_from, names, deals=deals, stages=stages)
        warehouse.replace_rows(SCHEMA, TABLE, rows, where={"as_of_day": day})
        written.append(rows)
        company = rows.row(0, named=True)
        context.log.info(
            f"{day}: week {company['week_start']}: forecast {format_amount(company['forecast_rub'])} "
            f"[{format_amount(company['forecast_low_rub'])}; {format_amount(company['forecast_high_rub'])}], to date "
            f"{format_amount(company['actual_wtd_rub'])}, plan {format_amount(company['plan_rub'])}, ruler {format_amount(company['ruler_rub'])}; "
            f"{rows.height - 1} department, manager and pipeline rows"
        )
    last = written[-1].row(0, named=True)
    return MaterializeResult(
        metadata={
            "week_start": MetadataValue.text(str(last["week_start"])),
            "forecast_rub": MetadataValue.float(last["forecast_rub"]),
            "forecast_low_rub": MetadataValue.float(last["forecast_low_rub"]),
            "forecast_high_rub": MetadataValue.float(last["forecast_high_rub"]),
            "actual_wtd_rub": MetadataValue.float(last["actual_wtd_rub"]),
            "plan_rub": MetadataValue.float(last["plan_rub"])
            if last["plan_rub"] is not None
            else MetadataValue.text("no plan"),
            "ruler_rub": MetadataValue.float(last["ruler_rub"]),
            **as_of_table_metadata(warehouse, SCHEMA, TABLE, days),
        }
    )
