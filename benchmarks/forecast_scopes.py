"""One as-of day of the month-end forecast for every scope of the M world, through Dagster, timed.

Builds the M world (seed 42, 24 months through --today) with the marts the scopes read, then
materializes `forecast_month_end` with its checks for one as-of day: the company forecast, every
department and manager (ml.forecast_scopes), the deals expected to close with their owners. Prints
the run's time (the goal: all scopes of M in under 60 s), the scopes written and whether they add
up to the company.

    .venv/bin/python -m benchmarks.forecast_scopes [--today 2026-12-01] [--as-of 2026-11-15] [--cache /tmp/scopes_bench]
"""

import argparse
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, cast

from dagster import materialize

from benchmarks.forecast_worlds import DBT_SELECT, build_m

if TYPE_CHECKING:
    from resources.warehouse import Warehouse

SELECT = [*DBT_SELECT, "+mart_deals", "+mart_manager_daily", "+mart_channel"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--today", default="2026-12-01")
    parser.add_argument("--as-of", default="2026-11-15")
    parser.add_argument("--cache", default="/tmp/scopes_bench")
    parser.add_argument("--months", type=int, default=0, help="also forecast day --day of this many past months")
    parser.add_argument("--day", type=int, default=15)
    args = parser.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    path = build_m(cache, date.fromisoformat(args.today), SELECT)
    print(f"M world with its marts: {time.perf_counter() - started:.0f} s ({path})")

    from assets.forecast.assets import forecast_month_end
    from assets.forecast.checks import CHECKS
    from resources.warehouse import Warehouse

    warehouse = Warehouse(url=f"duckdb:///{path}")
    started = time.perf_counter()
    result = materialize([forecast_month_end, *CHECKS], partition_key=args.as_of, resources={"warehouse": warehouse})
    elapsed = time.perf_counter() - started
    failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    company = warehouse.query("select * from ml.forecast_month_end where as_of_day = ?", [args.as_of]).row(
        0, named=True
    )
    scopes = warehouse.query("select * from ml.forecast_scopes where as_of_day = ?", [args.as_of])
    deals = warehouse.query("select * from ml.forecast_deals where as_of_day = ?", [args.as_of])
    print(
        f"as of {args.as_of}: one run, company + {scopes.height} scopes, checks {'all pass' if not failed else failed}"
    )
    print(f"time: {elapsed:.1f} s (goal < 60 s)")
    print(
        f"company: forecast {company['forecast_rub']:,.0f} [{company['forecast_low_rub']:,.0f}; "
        f"{company['forecast_high_rub']:,.0f}], plan {company['plan_rub'] or 0:,.0f}, gap {company['gap_rub'] or 0:,.0f}, "
        f"leads needed {company['leads_needed']}"
    )
    for kind in ("department", "manager", "pipeline"):
        part = scopes.filter(scopes["scope_type"] == kind)
        print(
            f"{kind}s: {part.height}, forecasts add up to {part['forecast_rub'].sum():,.0f}; "
            f"with a plan {part['plan_rub'].is_not_null().sum()}, with leads needed {part['leads_needed'].is_not_null().sum()}"
        )
    print(
        scopes.filter(scopes["scope_type"] == "department").select(
            "scope_name",
            "plan_rub",
            "actual_mtd_rub",
            "forecast_rub",
            "forecast_low_rub",
            "forecast_high_rub",
            "prob_reach_plan",
            "gap_rub",
            "leads_needed",
        )
    )
    print(f"deals expected to close: {deals.height}, with a manager {deals['manager_id'].is_not_null().sum()}")
    if args.months:
        _accuracy(warehouse, date.fromisoformat(args.today), args.months, args.day)


def _accuracy(warehouse: "Warehouse", today: date, months: int, day: int) -> None:
    """Forecast day `day` of each of the `months` months before `today`'s, one run each in order (the
    weights learn from the earlier ones, as the daily runs would), then MAPE per scope kind over the last
    12 of them against each department's and manager's realised month."""
    import polars as pl

    from assets.forecast.assets import forecast_month_end
    from assets.forecast.checks import CHECKS

    first = date(today.year, today.month, 1)
    starts = []
    for _ in range(months):
        first = date(first.year - (first.month == 1), 12 if first.month == 1 else first.month - 1, 1)
        starts.append(first)
    starts.reverse()
    started = time.perf_counter()
    for month in starts:
        as_of = month.replace(day=day).isoformat()
        materialize([forecast_month_end, *CHECKS], partition_key=as_of, resources={"warehouse": warehouse})
    print(f"{months} months forecast on day {day}: {time.perf_counter() - started:.0f} s")
    scored = starts[-12:]
    scopes = warehouse.query(
        "select month, scope_type, scope_id, forecast_rub, forecast_low_rub, forecast_high_rub from ml.forecast_scopes"
        " where extract(day from as_of_day) = ?",
        [day],
    ).with_columns(pl.col("month").cast(pl.Date))
    company = warehouse.query(
        "select month, forecast_rub, ruler_rub from ml.forecast_month_end where extract(day from as_of_day) = ?", [day]
    ).with_columns(pl.col("month").cast(pl.Date))
    won = warehouse.query(
        "select day, manager_id, department_id, won_rub from marts.mart_manager_daily where day < ?", [today]
    ).with_columns(pl.col("day").cast(pl.Date).dt.truncate("1mo").alias("month"))
    actual = pl.concat(
        [
            won.group_by("month", pl.col(key).alias("scope_id"))
            .agg(pl.col("won_rub").sum().alias("actual_rub"))
            .with_columns(pl.lit(kind).alias("scope_type"))
            for kind, key in (("department", "department_id"), ("manager", "manager_id"))
        ],
        how="diagonal_relaxed",
    )
    pipelines = (
        warehouse.query(
            "select closed_day, pipeline_id, amount_rub from marts.mart_deals where is_won and closed_day < ?", [today]
        )
        .with_columns(pl.col("closed_day").cast(pl.Date).dt.truncate("1mo").alias("month"))
        .group_by("month", pl.col("pipeline_id").alias("scope_id"))
        .agg(pl.col("amount_rub").cast(pl.Float64).sum().alias("actual_rub"))
        .with_columns(pl.lit("pipeline").alias("scope_type"))
    )
    actual = pl.concat([actual, pipelines], how="diagonal_relaxed")
    joined = scopes.filter(pl.col("month").is_in(scored)).join(actual, on=["month", "scope_type", "scope_id"])
    joined = joined.filter(pl.col("actual_rub") > 0).with_columns(
        ((pl.col("forecast_rub") - pl.col("actual_rub")).abs() / pl.col("actual_rub")).alias("ape")
    )
    company_actual = won.group_by("month").agg(pl.col("won_rub").sum().alias("actual_rub"))
    c = company.filter(pl.col("month").is_in(scored)).join(company_actual, on="month")
    mape = float(cast(float, ((c["forecast_rub"] - c["actual_rub"]).abs() / c["actual_rub"]).mean()))
    ruler = float(cast(float, ((c["ruler_rub"] - c["actual_rub"]).abs() / c["actual_rub"]).mean()))
    print(f"MAPE at day {day} over {c.height} months: company {mape:.1%} (ruler {ruler:.1%})")
    for kind in ("department", "manager", "pipeline"):
        part = joined.filter(pl.col("scope_type") == kind)
        mean, median = float(cast(float, part["ape"].mean())), float(cast(float, part["ape"].median()))
        inside = part.filter(pl.col("actual_rub").is_between(pl.col("forecast_low_rub"), pl.col("forecast_high_rub")))
        print(
            f"  {kind}: {mean:.1%} over {part.height} scope-months (median {median:.1%}); "
            f"80 % interval covers {inside.height / max(part.height, 1):.0%}"
        )


if __name__ == "__main__":
    main()
