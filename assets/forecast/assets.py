"""Dagster asset: the month-end forecast, one partition per as-of day (ml.forecast_month_end).

Thin on purpose: read the marts (revenue per day, the deals and their stage history for the open
pipeline), cut them at the as-of day, call the pure model, write one row per day (and, where the
CRM has deals, each open deal's probability of being won by month end into ml.forecast_deals). The weights
between the model's parts and its interval are learned from the table's own earlier rows (the
forecasts of months that have ended, whose actual is now known): see assets/forecast/calibration.py. Because nothing after the as-of day is read, backfilling past days replays what the
forecast would have said then: the backtest behind docs/KPI.md's forecast accuracy.
A backfill runs as one run (single-run policy) that loops over its days, so a year of
backtest costs one process start and one read of the marts, not 365.
"""

import time
from datetime import date, datetime, timedelta
from typing import cast

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.forecast import calibration
from assets.forecast.accuracy import HORIZONS, SCOPE_SCHEMA, score, score_scopes
from assets.forecast.leads import WINDOW_DAYS, economics, with_leads
from assets.forecast.model import MonthEndForecast, month_bounds, to_frame
from assets.forecast.model import forecast_with_deals as predict
from assets.forecast.scope_intervals import apply as with_scope_intervals
from assets.forecast.scope_intervals import learn as learn_scope_errors
from assets.forecast.scope_intervals import relative_errors
from assets.forecast.scopes import allocate
from assets.partitions import as_of_days, single_run_backfill
from assets.table_metadata import as_of_table_metadata
from resources.warehouse import Warehouse

SCHEMA, TABLE = "ml", "forecast_month_end"
DEALS_TABLE = "forecast_deals"  # the forecast down to deals: each open deal's probability, per as-of day
SCOPES_TABLE = "forecast_scopes"  # per department, manager and pipeline, allocated from the company's (scopes.py)
# the columns of earlier forecasts that the weights and the interval are learned from
LEARNED_FROM = [
    "as_of_day",
    "month",
    "actual_mtd_rub",
    "prophet_rub",
    "catboost_rub",
    "last_year_rub",
    "pipeline_rub",
    "orders_rub",
]


def _company_revenue(warehouse: Warehouse, through: date) -> pl.DataFrame:
    """Company revenue per day (all departments) up to `through` inclusive."""
    return warehouse.query(
        "select day, sum(won_rub) as revenue_rub from marts.mart_revenue_daily "
        "where day <= ? group by day order by day",
        [through],
    )


def _won(warehouse: Warehouse, first: date, through: date) -> pl.DataFrame:
    """Won rubles and deals per day from `first` to `through` (the average won deal of leads needed)."""
    return warehouse.query(
        "select day, sum(won_rub) as won_rub, sum(won_count) as won_count from marts.mart_revenue_daily "
        "where day between ? and ? group by day order by day",
        [first, through],
    )


def _manager_days(warehouse: Warehouse, first: date, through: date) -> pl.DataFrame | None:
    """Each manager's won deals and assigned leads per day (the scopes' month to date, shares, leads needed)."""
    if not warehouse.table_exists("marts", "mart_manager_daily"):
        return None
    return warehouse.query(
        "select m.day, m.manager_id, m.manager_name, m.department_id, d.department_name,"
        " cast(m.won_rub as double precision) as won_rub, m.won_count, m.leads_assigned"
        " from marts.mart_manager_daily m left join (select department_id, max(department_name) as department_name"
        " from marts.mart_revenue_daily group by department_id) d on m.department_id = d.department_id"
        " where m.day between ? and ?",
        [first, through],
    )


def _plan_lines(warehouse: Warehouse, first: date, last: date) -> pl.DataFrame:
    """Plan lines per month, manager and department (the scopes' plans)."""
    return warehouse.query(
        "select month, manager_id, department_id, pipeline_id, plan_rub from marts.mart_plan_fact"
        " where month between ? and ?",
        [month_bounds(first)[0], month_bounds(last)[0]],
    ).with_columns(pl.col("month").cast(pl.Date))


def _pipeline_days(warehouse: Warehouse, first: date, through: date) -> pl.DataFrame | None:
    """Won rubles and deals per day and pipeline (the pipeline scopes); None without the deals mart's pipelines."""
    if not warehouse.table_exists("marts", "mart_deals"):
        return None
    if "pipeline_name" not in warehouse.query("select * from marts.mart_deals limit 0").columns:
        return None
    return warehouse.query(
        "select closed_day as day, pipeline_id, max(pipeline_name) as pipeline_name,"
        " sum(cast(amount_rub as double precision)) as won_rub, count(*) as won_count from marts.mart_deals"
        " where is_won and closed_day between ? and ? group by closed_day, pipeline_id",
        [first, through],
    )


def _owners(warehouse: Warehouse) -> pl.DataFrame | None:
    """Each deal's manager and department (the forecast down to deals, per scope)."""
    if not warehouse.table_exists("marts", "mart_deals"):
        return None
    if not {"manager_id", "department_id"} <= set(warehouse.query("select * from marts.mart_deals limit 0").columns):
        return None
    return warehouse.query("select deal_id, manager_id, department_id from marts.mart_deals")


def _leads(warehouse: Warehouse, through: date) -> pl.DataFrame | None:
    """Leads created per day up to `through` (mart_channel); None when the company has no such mart."""
    if not warehouse.table_exists("marts", "mart_channel"):
        return None
    return warehouse.query(
        "select day, sum(leads) as leads from marts.mart_channel where day <= ? group by day order by day", [through]
    )


def _deals(warehouse: Warehouse, through: date) -> pl.DataFrame | None:
    """Every deal created by `through` (the pipeline part); None when the deals mart is absent."""
    if not warehouse.table_exists("marts", "mart_deals"):
        return None
    return warehouse.query(
        "select deal_id, pipeline_id, created_day, closed_day, is_won, cast(amount_rub as double precision) as amount_rub"
        " from marts.mart_deals where created_day <= ?",
        [through],
    )


def _stage_entries(warehouse: Warehouse, through: date) -> pl.DataFrame | None:
    """Entries into open stages by `through` (a CRM without history: none, the pipeline uses deal age)."""
    if not warehouse.table_exists("intermediate", "stage_history"):
        return None
    return warehouse.query(
        "select deal_id, stage_id, entered_day from intermediate.stage_history"
        " where stage_semantic = 'open' and entered_day <= ?",
        [through],
    )


def _past_forecasts(warehouse: Warehouse, before: date) -> pl.DataFrame:
    """The company's forecasts of the months before `before`'s: what the weights are learned from.
    A part's column the table does not have yet (rows from before the part existed) reads as nulls."""
    empty = to_frame([]).select(LEARNED_FROM)
    if not warehouse.table_exists(SCHEMA, TABLE):
        return empty
    frame = warehouse.query(
        f"select * from {SCHEMA}.{TABLE} where month < ? and scope = 'company'", [month_bounds(before)[0]]
    )
    return frame.select(
        [(pl.col(c) if c in frame.columns else pl.lit(None)).cast(empty.schema[c]).alias(c) for c in LEARNED_FROM]
    )


def _past_scopes(warehouse: Warehouse, before: date) -> pl.DataFrame:
    """The scopes' forecasts of the year of months before `before`'s: what their intervals are learned from."""
    columns = {
        "as_of_day": pl.Date,
        "month": pl.Date,
        "scope_type": pl.Utf8,
        "scope_id": pl.Int64,
        "forecast_rub": pl.Float64,
    }
    if not warehouse.table_exists(SCHEMA, SCOPES_TABLE):
        return pl.DataFrame(schema=columns)
    month = month_bounds(before)[0]
    frame = warehouse.query(
        f"select as_of_day, month, scope_type, scope_id, forecast_rub from {SCHEMA}.{SCOPES_TABLE}"
        " where month < ? and month >= ?",
        [month, date(month.year - 1, month.month, 1)],
    )
    return frame.select([pl.col(c).cast(t) for c, t in columns.items()])


def _scope_actuals(warehouse: Warehouse, first: date, before: date) -> pl.DataFrame:
    """Each department's, manager's and pipeline's won revenue per month from `first`'s month to the one
    before `before`'s (month, scope_type, scope_id, actual_rub): what the scopes' forecasts are scored on."""
    first_month, last_month = month_bounds(first)[0], month_bounds(before)[0]
    frames = []
    if warehouse.table_exists("marts", "mart_manager_daily"):
        for kind, key in (("department", "department_id"), ("manager", "manager_id")):
            frames.append(
                warehouse.query(
                    f"select cast(date_trunc('month', day) as date) as month, '{kind}' as scope_type,"
                    f" {key} as scope_id, sum(cast(won_rub as double precision)) as actual_rub"
                    f" from marts.mart_manager_daily where day >= ? and day < ? and {key} is not null group by 1, 3",
                    [first_month, last_month],
                )
            )
    if warehouse.table_exists("marts", "mart_deals"):
        frames.append(
            warehouse.query(
                "select cast(date_trunc('month', closed_day) as date) as month, 'pipeline' as scope_type,"
                " pipeline_id as scope_id, sum(cast(amount_rub as double precision)) as actual_rub from marts.mart_deals"
                " where is_won and closed_day >= ? and closed_day < ? and pipeline_id is not null group by 1, 3",
                [first_month, last_month],
            )
        )
    schema = {"month": pl.Date, "scope_type": pl.Utf8, "scope_id": pl.Int64, "actual_rub": pl.Float64}
    typed = [f.select([pl.col(c).cast(t) for c, t in schema.items()]) for f in frames]
    return pl.concat(typed) if typed else pl.DataFrame(schema=schema)


def _company_plans(warehouse: Warehouse, first: date, last: date) -> dict[date, float | None]:
    """Company plan per month (sum over managers and pipelines); absent or zero -> None."""
    frame = warehouse.query(
        "select month, sum(plan_rub) as plan_rub from marts.mart_plan_fact where month between ? and ? group by month",
        [month_bounds(first)[0], month_bounds(last)[0]],
    )
    return {
        (m.date() if isinstance(m, datetime) else m): (float(p) if p is not None and float(p) > 0 else None)
        for m, p in zip(frame["month"].to_list(), frame["plan_rub"].to_list())
    }


def format_amount(value: float | None) -> str:
    """12345678.9 -> '12 345 679' (the run's log and metadata lines), None -> '—'."""
    return "—" if value is None else f"{value:,.0f}".replace(",", " ")


@asset(
    key=["forecast_month_end"],
    group_name="ml",
    partitions_def=as_of_days,
    backfill_policy=single_run_backfill,
    deps=[
        AssetKey("mart_revenue_daily"),
        AssetKey("mart_plan_fact"),
        AssetKey("mart_deals"),
        AssetKey("stage_history"),
    ],
    kinds={"python"},
    description=(
        "Month-end revenue forecast as of the partition's day: month to date + the open pipeline "
        "(each open deal × its probability of being won by month end) + the time series (Prophet, "
        "CatBoost), weighed as earlier months' forecasts taught; 80 % interval, probability of "
        "reaching plan, beside the run-rate ruler. Uses no data after the as-of day, so a backfill "
        "is a backtest. Table ml.forecast_month_end; the open deals with their probabilities (the "
        "forecast down to deals) in ml.forecast_deals."
    ),
)
def forecast_month_end(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    """Forecast each as-of day of the run (one, or a backfill's range) and write one row per day."""
    days = sorted(date.fromisoformat(k) for k in context.partition_keys)
    revenue = _company_revenue(warehouse, days[-1])
    plans = _company_plans(warehouse, days[0], days[-1])
    deals = _deals(warehouse, days[-1])
    stages = _stage_entries(warehouse, days[-1])
    past = _past_forecasts(warehouse, days[0])
    leads = _leads(warehouse, days[-1])
    won = _won(warehouse, days[0] - timedelta(days=WINDOW_DAYS), days[-1])
    manager_days = _manager_days(warehouse, days[0] - timedelta(days=WINDOW_DAYS), days[-1])
    plan_lines = _plan_lines(warehouse, days[0], days[-1]) if manager_days is not None else None
    owners = _owners(warehouse)
    pipeline_days = _pipeline_days(warehouse, days[0] - timedelta(days=WINDOW_DAYS), days[-1])
    past_scopes = _past_scopes(warehouse, days[0])
    scope_actuals = _scope_actuals(warehouse, date(days[0].year - 1, days[0].month, 1), days[-1])
    run_scopes: list[pl.DataFrame] = []  # this run's earlier days: a backfill learns as it goes
    results: list[MonthEndForecast] = []
    for day in days:
        # the run's own earlier days count too: a backfill learns as it goes, as the days did
        learned_from = pl.concat(
            [past, to_frame([r for r in results if r.month < month_bounds(day)[0]]).select(LEARNED_FROM)]
        )
        result, expected = predict(
            revenue, day, plans.get(month_bounds(day)[0]), deals=deals, stages=stages, past=learned_from
        )
        result = with_leads(result, economics(won, leads, day))
        warehouse.replace_rows(SCHEMA, TABLE, to_frame([result]), where={"as_of_day": day})
        if owners is not None:
            expected = expected.join(owners, on="deal_id", how="left")
        if deals is not None:
            warehouse.replace_rows(SCHEMA, DEALS_TABLE, expected, where={"as_of_day": day})
        if manager_days is not None and plan_lines is not None:
            started = time.perf_counter()
            scoped = allocate(
                result,
                expected,
                manager_days,
                plan_lines.filter(pl.col("month") == month_bounds(day)[0]),
                pipeline_days,
            )
            earlier = pl.concat([past_scopes, *[f for f in run_scopes if f["month"][0] < month_bounds(day)[0]]])
            errors = relative_errors(earlier, scope_actuals, day)
            scoped = with_scope_intervals(scoped, learn_scope_errors(errors))
            if scoped.height:
                run_scopes.append(scoped.select(past_scopes.columns))
            warehouse.replace_rows(SCHEMA, SCOPES_TABLE, scoped, where={"as_of_day": day})
            context.log.info(
                f"{day}: {scoped.height} department, manager and pipeline forecasts in {time.perf_counter() - started:.2f} s"
            )
        context.log.info(
            f"{day}: forecast {format_amount(result.forecast_rub)} [{format_amount(result.forecast_low_rub)}; "
            f"{format_amount(result.forecast_high_rub)}], plan {format_amount(result.plan_rub)}, gap {format_amount(result.gap_rub)}, "
            f"leads needed {format_amount(result.leads_needed)}, ruler {format_amount(result.ruler_rub)}, model {result.model}"
        )
        results.append(result)
    table_meta = as_of_table_metadata(warehouse, SCHEMA, TABLE, days)
    if len(results) == 1:
        return MaterializeResult(metadata={**_single_metadata(results[0]), **table_meta})
    # One run for a range: Dagster attaches the same metadata to every partition of the run,
    # so describe the run (the table holds each day's row).
    table = "\n".join(
        [
            "| as-of day | forecast | low | high | plan | P(plan) | gap | leads needed | ruler | model |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        + [
            f"| {r.as_of_day} | {format_amount(r.forecast_rub)} | {format_amount(r.forecast_low_rub)} | {format_amount(r.forecast_high_rub)} "
            f"| {format_amount(r.plan_rub)} | {'—' if r.prob_reach_plan is None else f'{r.prob_reach_plan:.0%}'} "
            f"| {format_amount(r.gap_rub)} | {format_amount(r.leads_needed)} | {format_amount(r.ruler_rub)} | {r.model} |"
            for r in results
        ]
    )
    return MaterializeResult(
        metadata={
            "partitions_in_run": MetadataValue.int(len(results)),
            "first_as_of_day": MetadataValue.text(days[0].isoformat()),
            "last_as_of_day": MetadataValue.text(days[-1].isoformat()),
            "forecasts": MetadataValue.md(table),
            **table_meta,
        }
    )


def _single_metadata(r: MonthEndForecast) -> dict[str, MetadataValue]:
    """What the asset page shows for one as-of day: the figures a head of sales reads."""
    return {
        "forecast_rub": MetadataValue.float(r.forecast_rub),
        "forecast_low_rub": MetadataValue.float(r.forecast_low_rub),
        "forecast_high_rub": MetadataValue.float(r.forecast_high_rub),
        "plan_rub": MetadataValue.float(r.plan_rub) if r.plan_rub is not None else MetadataValue.text("no plan"),
        "prob_reach_plan": (
            MetadataValue.float(r.prob_reach_plan) if r.prob_reach_plan is not None else MetadataValue.text("no plan")
        ),
        "actual_mtd_rub": MetadataValue.float(r.actual_mtd_rub),
        "gap_rub": MetadataValue.float(r.gap_rub) if r.gap_rub is not None else MetadataValue.text("no plan"),
        "leads_needed": (
            MetadataValue.float(r.leads_needed) if r.leads_needed is not None else MetadataValue.text("unknown")
        ),
        "ruler_rub": MetadataValue.float(r.ruler_rub),
        "model": MetadataValue.text(r.model),
        **(
            {
                "pipeline_rub": MetadataValue.float(r.pipeline_rub),
                "open_deals_expected_rub": MetadataValue.float(r.open_deals_expected_rub or 0.0),
                "open_deals": MetadataValue.int(r.open_deals or 0),
            }
            if r.pipeline_rub is not None
            else {}
        ),
    }


ACCURACY_TABLE = "forecast_accuracy"
SCOPE_ACCURACY_TABLE = "forecast_scope_accuracy"  # the same per kind of scope (department, manager, pipeline)


def _scope_forecasts(warehouse: Warehouse, before: date) -> pl.DataFrame | None:
    """The scopes' forecasts made on a scored day of month (5, 10, …) of the months before `before`'s."""
    if not warehouse.table_exists(SCHEMA, SCOPES_TABLE):
        return None
    return warehouse.query(
        "select as_of_day, month, scope_type, scope_id, plan_rub, forecast_rub, forecast_low_rub,"
        f" forecast_high_rub, prob_reach_plan from {SCHEMA}.{SCOPES_TABLE}"
        f" where month < ? and extract(day from as_of_day) in ({', '.join(str(h) for h in HORIZONS)})",
        [month_bounds(before)[0]],
    )


@asset(
    key=["forecast_accuracy"],
    group_name="ml",
    partitions_def=as_of_days,
    backfill_policy=single_run_backfill,
    deps=[AssetKey("forecast_month_end"), AssetKey("mart_revenue_daily"), AssetKey("mart_manager_daily")],
    kinds={"python"},
    description=(
        "How far the month-end forecasts of the months ended before the partition's day were from the "
        "realised month: MAPE, bias and 80 % interval coverage by horizon (as-of day 5, 10, 15, 20, 25), "
        "for the model, each part alone (Prophet, CatBoost, last year, the pipeline) and the run-rate ruler side by "
        "side, and the probability of plan's Brier score beside always saying the base rate. After a backfill of "
        "forecast_month_end it is the backtest. Table ml.forecast_accuracy; the same per kind of scope "
        "(department, manager, pipeline) in ml.forecast_scope_accuracy."
    ),
)
def forecast_accuracy(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    """Score every past forecast as known on each as-of day of the run; one set of rows per day."""
    days = sorted(date.fromisoformat(k) for k in context.partition_keys)
    revenue = _company_revenue(warehouse, days[-1])
    forecasts = (
        warehouse.query(f"select * from {SCHEMA}.{TABLE} where month < ?", [month_bounds(days[-1])[0]])
        if warehouse.table_exists(SCHEMA, TABLE)
        else to_frame([])
    )
    scope_forecasts = _scope_forecasts(warehouse, days[-1])
    scope_actuals = (
        _scope_actuals(warehouse, cast(date, scope_forecasts["month"].cast(pl.Date).min()), days[-1])
        if scope_forecasts is not None and scope_forecasts.height
        else None
    )
    latest = score(forecasts.head(0), {}, days[-1])
    latest_scopes = pl.DataFrame(schema=SCOPE_SCHEMA)
    for day in days:
        latest = score(forecasts, calibration.month_actuals(revenue, day), day)
        warehouse.replace_rows(SCHEMA, ACCURACY_TABLE, latest, where={"as_of_day": day})
        if scope_forecasts is not None:
            latest_scopes = (
                score_scopes(scope_forecasts, scope_actuals, day)
                if scope_actuals is not None
                else pl.DataFrame(schema=SCOPE_SCHEMA)
            )
            warehouse.replace_rows(SCHEMA, SCOPE_ACCURACY_TABLE, latest_scopes, where={"as_of_day": day})
    months = int(cast(int, latest["months"].max())) if latest.height else 0
    context.log.info(f"{days[-1]}: {latest.height} accuracy rows over up to {months} months")

    def covers(value: float | None) -> str:
        return "—" if value is None else f"{value:.0%}"

    lines = ["| as-of day of month | method | months | MAPE | bias | 80 % covers |", "|---|---|---|---|---|---|"] + [
        f"| {r['horizon_day']} | {r['method']} | {r['months']} | {r['mape']:.1%} | {r['bias']:+.1%} "
        f"| {covers(r['interval_coverage'])} |"
        for r in latest.iter_rows(named=True)
    ]
    scope_lines = [
        "| as-of day of month | scopes | scope-months | MAPE | 80 % covers | Brier (base rate) |",
        "|---|---|---|---|---|---|",
    ] + [
        f"| {r['horizon_day']} | {r['scope_type']} | {r['scope_months']} | {r['mape']:.1%} "
        f"| {covers(r['interval_coverage'])} | {_brier_text(r['brier'], r['brier_base_rate'])} |"
        for r in latest_scopes.iter_rows(named=True)
    ]
    return MaterializeResult(
        metadata={
            "accuracy": MetadataValue.md("\n".join(lines) if latest.height else "no month has ended yet"),
            "scope_accuracy": MetadataValue.md(
                "\n".join(scope_lines) if latest_scopes.height else "no scope's month has ended yet"
            ),
            **as_of_table_metadata(warehouse, SCHEMA, ACCURACY_TABLE, days),
        }
    )


def _brier_text(value: float | None, base: float | None) -> str:
    return "—" if value is None or base is None else f"{value:.3f} ({base:.3f})"
