"""Asset checks on ml.forecast_month_end: what must hold for a head of sales to read the forecast.

Four checks, each on the as-of days the run wrote (one day, or a backfill's range):

- the 80 % interval holds the point (low <= forecast <= high);
- nothing negative (money columns >= 0, the probability of plan within 0..1);
- every scope present (each as-of day has exactly one company row, and, once the scopes are written,
  one row in ml.forecast_scopes for each department and manager with a plan that month);
- no data after the as-of day: the month to date equals the revenue mart's month through that day
  (not beyond), the history is no longer than the mart's days up to it, and every deal listed in
  ml.forecast_deals was created by that day and still open at its end.

Two more on ml.forecast_week: its interval holds the point (from the week to date up), and the
company's week to date is the revenue mart's from Monday through the as-of day.

They are partitioned like the asset, so a daily run checks its day and a backfill its range. A
failure is an ERROR evaluation; the check-failure sensor (schedules/sensors.py) sends it to the
on-call chat like a failed dbt test. Non-blocking: the insights still run, on-call decides.
The comparisons are pure functions (`*_problems`) so a test can break each on purpose.
"""

import warnings
from datetime import date, timedelta

import polars as pl
from dagster import AssetCheckExecutionContext, AssetCheckResult, PreviewWarning, asset_check

from assets.check_results import check_result
from assets.forecast.model import month_bounds
from assets.partitions import as_of_days
from resources.warehouse import Warehouse

SCHEMA, TABLE, DEALS_TABLE, SCOPES_TABLE = "ml", "forecast_month_end", "forecast_deals", "forecast_scopes"
SCOPES = ("company",)  # the scopes every as-of day must have a row for
MONEY = [
    "plan_rub",
    "actual_mtd_rub",
    "forecast_rub",
    "forecast_low_rub",
    "forecast_high_rub",
    "ruler_rub",
    "prophet_rub",
    "catboost_rub",
    "last_year_rub",
    "pipeline_rub",
    "orders_rub",
    "open_deals_expected_rub",
    "gap_rub",
    "leads_needed",
]
TOLERANCE_RUB = 0.5  # the table rounds to kopecks; half a rouble is rounding, more is a different figure

# Partitioned checks (a backfill checks each of its days) are "preview" in Dagster 1.13; we rely on them
# knowingly, as assets/partitions.py does on backfill_policy, so the warning is silenced here, narrowly.
warnings.filterwarnings("ignore", message=r"Specifying a partitions_def on an AssetCheckSpec", category=PreviewWarning)


def interval_problems(rows: pl.DataFrame) -> list[str]:
    """Rows whose 80 % interval does not hold the point forecast."""
    bad = rows.filter(
        pl.col("forecast_low_rub").is_null()
        | pl.col("forecast_high_rub").is_null()
        | (pl.col("forecast_low_rub") > pl.col("forecast_rub") + TOLERANCE_RUB)
        | (pl.col("forecast_high_rub") < pl.col("forecast_rub") - TOLERANCE_RUB)
    )
    return [
        f"{r['as_of_day']} {r['scope']}: прогноз {r['forecast_rub']} вне интервала "
        f"[{r['forecast_low_rub']}; {r['forecast_high_rub']}]"
        for r in bad.iter_rows(named=True)
    ]


def negative_problems(rows: pl.DataFrame) -> list[str]:
    """Negative money figures, or a probability of plan outside 0..1."""
    problems = []
    for r in rows.iter_rows(named=True):
        for column in MONEY:
            value = r.get(column)
            if value is not None and value < 0:
                problems.append(f"{r['as_of_day']} {r['scope']}: {column} = {value} < 0")
        prob = r.get("prob_reach_plan")
        if prob is not None and not 0.0 <= prob <= 1.0:
            problems.append(f"{r['as_of_day']} {r['scope']}: prob_reach_plan = {prob} вне 0..1")
    return problems


def scope_problems(rows: pl.DataFrame, days: list[date], scopes: tuple[str, ...] = SCOPES) -> list[str]:
    """As-of days of the run missing a scope's row, or with more than one row for it."""
    counts = {
        (r["as_of_day"], r["scope"]): r["len"]
        for r in rows.group_by(["as_of_day", "scope"]).len().iter_rows(named=True)
    }
    problems = []
    for day in days:
        for scope in scopes:
            n = counts.get((day, scope), 0)
            if n != 1:
                problems.append(f"{day}: scope {scope} — {n} строк(и), ожидалась одна")
    return problems


def scope_table_problems(scoped: pl.DataFrame, plan_lines: pl.DataFrame, days: list[date]) -> list[str]:
    """Departments and managers with a plan for the month but no row (or several) in ml.forecast_scopes.

    `scoped`: as_of_day, scope_type, scope_id; `plan_lines`: month, manager_id, department_id, plan_rub.
    """
    counts = {
        (r["as_of_day"], r["scope_type"], r["scope_id"]): r["len"]
        for r in scoped.group_by(["as_of_day", "scope_type", "scope_id"]).len().iter_rows(named=True)
    }
    problems = []
    for day in days:
        month = plan_lines.filter((pl.col("month") == month_bounds(day)[0]) & (pl.col("plan_rub") > 0))
        for scope_type, key in (("department", "department_id"), ("manager", "manager_id")):
            for scope_id in sorted(set(month[key].drop_nulls().to_list())):
                n = counts.get((day, scope_type, scope_id), 0)
                if n != 1:
                    problems.append(f"{day}: {scope_type} {scope_id} с планом — {n} строк(и) прогноза, ожидалась одна")
    return problems


def leakage_problems(
    rows: pl.DataFrame, revenue: pl.DataFrame, listed: pl.DataFrame | None, deals: pl.DataFrame | None
) -> list[str]:
    """Signs that a forecast saw data after its as-of day.

    `revenue`: the company's revenue per day (day, revenue_rub), all of it; `listed`: ml.forecast_deals
    rows (as_of_day, deal_id); `deals`: marts.mart_deals (deal_id, created_day, closed_day).
    """
    problems = []
    by_day = revenue.select(pl.col("day").cast(pl.Date), pl.col("revenue_rub").cast(pl.Float64))
    first_day = by_day["day"].min() if by_day.height else None
    for r in rows.filter(pl.col("scope") == "company").iter_rows(named=True):
        day: date = r["as_of_day"]
        start = month_bounds(day)[0]
        mtd = float(by_day.filter(pl.col("day").is_between(start, day))["revenue_rub"].sum())
        if abs(float(r["actual_mtd_rub"]) - mtd) > TOLERANCE_RUB:
            problems.append(f"{day}: выручка с начала месяца {r['actual_mtd_rub']}, а в витрине по этот день {mtd:.2f}")
        if isinstance(first_day, date) and r["history_days"] > (day - first_day).days + 1:
            problems.append(
                f"{day}: история {r['history_days']} дн., а с первого дня данных ({first_day}) по этот день "
                f"{(day - first_day).days + 1}"
            )
    if listed is not None and deals is not None and listed.height:
        joined = listed.join(deals, on="deal_id", how="inner").filter(
            (pl.col("created_day") > pl.col("as_of_day"))
            | (pl.col("closed_day").is_not_null() & (pl.col("closed_day") <= pl.col("as_of_day")))
        )
        problems += [
            f"{r['as_of_day']}: сделка {r['deal_id']} в прогнозе, но создана {r['created_day']}, "
            f"закрыта {r['closed_day']}"
            for r in joined.iter_rows(named=True)
        ]
    return problems


# --- the Dagster checks: read the run's days, call the pure function, report ---------------------
def _days(context: AssetCheckExecutionContext) -> list[date]:
    return sorted(date.fromisoformat(k) for k in context.partition_keys)


def _rows(warehouse: Warehouse, days: list[date]) -> pl.DataFrame:
    if not warehouse.table_exists(SCHEMA, TABLE):
        return pl.DataFrame(schema={"as_of_day": pl.Date, "scope": pl.Utf8})
    return warehouse.query(f"select * from {SCHEMA}.{TABLE} where as_of_day between ? and ?", [days[0], days[-1]])


@asset_check(
    asset="forecast_month_end",
    partitions_def=as_of_days,
    description="The 80 % interval holds the point forecast (low <= forecast <= high) on every row of the run's days.",
)
def forecast_interval_holds_point(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
    rows = _rows(warehouse, _days(context))
    return check_result(interval_problems(rows), rows.height, "Интервал прогноза не содержит прогноз")


@asset_check(
    asset="forecast_month_end",
    partitions_def=as_of_days,
    description="No negative money figure in the forecast, the probability of plan within 0..1.",
)
def forecast_not_negative(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
    rows = _rows(warehouse, _days(context))
    return check_result(negative_problems(rows), rows.height, "Отрицательные суммы в прогнозе")


@asset_check(
    asset="forecast_month_end",
    partitions_def=as_of_days,
    description=(
        "Each as-of day of the run has exactly one company row, and one department / manager row (ml.forecast_scopes)"
        " for each department and manager with a plan that month."
    ),
)
def forecast_every_scope_present(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
    days = _days(context)
    rows = _rows(warehouse, days)
    problems = scope_problems(rows, days)
    if warehouse.table_exists("marts", "mart_manager_daily"):  # the scopes are written: each planned one present
        scoped = (
            warehouse.query(
                f"select as_of_day, scope_type, scope_id from {SCHEMA}.{SCOPES_TABLE} where as_of_day between ? and ?",
                [days[0], days[-1]],
            )
            if warehouse.table_exists(SCHEMA, SCOPES_TABLE)
            else pl.DataFrame(schema={"as_of_day": pl.Date, "scope_type": pl.Utf8, "scope_id": pl.Int64})
        )
        plan_lines = warehouse.query(
            "select month, manager_id, department_id, plan_rub from marts.mart_plan_fact where month between ? and ?",
            [month_bounds(days[0])[0], month_bounds(days[-1])[0]],
        ).with_columns(pl.col("month").cast(pl.Date))
        problems += scope_table_problems(scoped, plan_lines, days)
    return check_result(problems, rows.height, "Прогноз неполон")


@asset_check(
    asset="forecast_month_end",
    partitions_def=as_of_days,
    description=(
        "No forecast saw data after its as-of day: month to date = the revenue mart through that day, history no "
        "longer than the mart's days up to it, every listed open deal created by then and still open at its end."
    ),
)
def forecast_no_data_after_as_of_day(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
    days = _days(context)
    rows = _rows(warehouse, days)
    revenue = warehouse.query(
        "select day, sum(won_rub) as revenue_rub from marts.mart_revenue_daily where day <= ? group by day order by day",
        [days[-1]],
    )
    listed = deals = None
    if warehouse.table_exists(SCHEMA, DEALS_TABLE) and warehouse.table_exists("marts", "mart_deals"):
        listed = warehouse.query(
            f"select as_of_day, deal_id from {SCHEMA}.{DEALS_TABLE} where as_of_day between ? and ?",
            [days[0], days[-1]],
        )
        deals = warehouse.query("select deal_id, created_day, closed_day from marts.mart_deals")
    return check_result(
        leakage_problems(rows, revenue, listed, deals), rows.height, "Прогноз видел данные после своего дня"
    )


CHECKS = [
    forecast_interval_holds_point,
    forecast_not_negative,
    forecast_every_scope_present,
    forecast_no_data_after_as_of_day,
]


# --- the week's forecast (ml.forecast_week) ---------------------------------------------------------
WEEK_TABLE = "forecast_week"


def week_problems(rows: pl.DataFrame) -> list[str]:
    """Week rows whose 80 % interval does not hold the point, whose low end is below the week to date, or
    whose week does not hold its as-of day (a forecast of another week)."""
    problems = []
    for r in rows.iter_rows(named=True):
        where = f"{r['as_of_day']} {r['scope_type']} {r['scope_id']}"
        low, point, high = r["forecast_low_rub"], r["forecast_rub"], r["forecast_high_rub"]
        if low is None or high is None or low > point + TOLERANCE_RUB or high < point - TOLERANCE_RUB:
            problems.append(f"{where}: прогноз недели {point} вне интервала [{low}; {high}]")
        elif low < r["actual_wtd_rub"] - TOLERANCE_RUB:
            problems.append(f"{where}: нижняя граница {low} меньше факта с начала недели {r['actual_wtd_rub']}")
        if not r["week_start"] <= r["as_of_day"] <= r["week_end"]:
            problems.append(f"{where}: неделя {r['week_start']}–{r['week_end']} не содержит день прогноза")
    return problems


@asset_check(
    asset="forecast_week",
    partitions_def=as_of_days,
    description=(
        "The week's 80 % interval holds the point forecast and starts no lower than the week to date, and each row's "
        "week holds its as-of day, on every row of the run's days."
    ),
)
def forecast_week_interval_holds_point(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
    rows = _week_rows(warehouse, _days(context))
    return check_result(week_problems(rows), rows.height, "Интервал прогноза недели не содержит прогноз")


def week_leakage_problems(rows: pl.DataFrame, revenue: pl.DataFrame) -> list[str]:
    """Company week rows whose week to date is not the revenue mart's from Monday through the as-of day
    (a day after it counted, or one of the week's days missed). `revenue`: day, revenue_rub."""
    by_day = revenue.select(pl.col("day").cast(pl.Date), pl.col("revenue_rub").cast(pl.Float64))
    problems = []
    for r in rows.filter(pl.col("scope_type") == "company").iter_rows(named=True):
        wtd = float(by_day.filter(pl.col("day").is_between(r["week_start"], r["as_of_day"]))["revenue_rub"].sum())
        if abs(float(r["actual_wtd_rub"]) - wtd) > TOLERANCE_RUB:
            problems.append(
                f"{r['as_of_day']}: выручка с начала недели {r['actual_wtd_rub']}, а в витрине по этот день {wtd:.2f}"
            )
    return problems


def _week_rows(warehouse: Warehouse, days: list[date]) -> pl.DataFrame:
    if not warehouse.table_exists(SCHEMA, WEEK_TABLE):
        return pl.DataFrame(schema={"as_of_day": pl.Date, "scope_type": pl.Utf8})
    return warehouse.query(
        f"select * from {SCHEMA}.{WEEK_TABLE} where as_of_day between ? and ?", [days[0], days[-1]]
    ).with_columns(pl.col("as_of_day", "week_start", "week_end").cast(pl.Date))


@asset_check(
    asset="forecast_week",
    partitions_def=as_of_days,
    description=(
        "No week forecast saw data after its as-of day: the company's week to date = the revenue mart from "
        "Monday through that day."
    ),
)
def forecast_week_no_data_after_as_of_day(
    context: AssetCheckExecutionContext, warehouse: Warehouse
) -> AssetCheckResult:
    days = _days(context)
    rows = _week_rows(warehouse, days)
    revenue = warehouse.query(
        "select day, sum(won_rub) as revenue_rub from marts.mart_revenue_daily where day between ? and ? group by day",
        [days[0] - timedelta(days=6), days[-1]],
    )
    return check_result(
        week_leakage_problems(rows, revenue), rows.height, "Прогноз недели видел данные после своего дня"
    )


WEEK_CHECKS = [forecast_week_interval_holds_point, forecast_week_no_data_after_as_of_day]
