"""One as-of day of the month-end forecast for every scope of the M world, through Dagster, timed.

Builds the M world (seed 42, 24 months through --today) with the marts the scopes read, then
materializes `forecast_month_end` with its checks for one as-of day: the company forecast, every
department and manager (ml.forecast_scopes), the deals expected to close with their owners. Prints
the run's time (the goal: all scopes of M in under 60 s), the scopes written and whether they add
up to the company.

--months N: then days --days (10,15,20) of the N months before, one run each in order, and per day and
kind of scope over the last 12: MAPE, the 80 % interval's coverage (learned, and the company's shared
out as before) and the Brier score of P(plan) against always saying the base rate (the scored year's
share, the goal's yardstick, and the share of the months before each, known when it was forecast).
--backfill-months N: instead, one single-run backfill of forecast_month_end + forecast_accuracy over
every day of the N months before --today, timed (the goal: 24 months in under 30 min), and what
ml.forecast_accuracy / ml.forecast_scope_accuracy say on its last day.

    .venv/bin/python -m benchmarks.forecast_scopes [--today 2026-12-01] [--as-of 2026-11-15] [--cache /tmp/scopes_bench]
        [--months 20 [--days 10,15,20] | --backfill-months 24]
"""

import argparse
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import polars as pl
from dagster import materialize

from benchmarks.forecast_worlds import DBT_SELECT, build_world

if TYPE_CHECKING:
    from resources.warehouse import Warehouse

SELECT = [*DBT_SELECT, "+mart_deals", "+mart_manager_daily", "+mart_channel"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--today", default="2026-12-01")
    parser.add_argument("--as-of", default="2026-11-15")
    parser.add_argument("--cache", default="/tmp/scopes_bench")
    parser.add_argument("--size", choices=("M", "L"), default="M", help="the world: L has 30 departments, 240 managers")
    parser.add_argument("--months", type=int, default=0, help="also forecast day --day of this many past months")
    parser.add_argument("--days", default="10,15,20", help="the as-of days of month forecast in each past month")
    parser.add_argument(
        "--backfill-months",
        type=int,
        default=0,
        help="instead: one single-run backfill of forecast_month_end + forecast_accuracy over every day of this many past months",
    )
    args = parser.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    path = build_world(cache, date.fromisoformat(args.today), SELECT, args.size)
    print(f"{args.size} world with its marts: {time.perf_counter() - started:.0f} s ({path})")
    if args.backfill_months:
        _backfill(path, date.fromisoformat(args.today), args.backfill_months)
        return

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
        _accuracy(warehouse, date.fromisoformat(args.today), args.months, [int(d) for d in args.days.split(",")])


def _backfill(path: Path, today: date, months: int) -> None:
    """Every as-of day of the `months` months before `today`'s in one run (the single-run backfill a
    `dagster asset materialize --partition-range` makes), timed; then what ml.forecast_accuracy and
    ml.forecast_scope_accuracy say on the last day: the backtest as the asset keeps it."""
    from datetime import timedelta

    from assets.forecast.assets import forecast_accuracy, forecast_month_end
    from resources.warehouse import Warehouse

    warehouse = Warehouse(url=f"duckdb:///{path}")
    first, last = _months_before(today, months)[0], today - timedelta(days=1)
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    started = time.perf_counter()
    result = materialize([forecast_month_end, forecast_accuracy], tags=tags, resources={"warehouse": warehouse})
    elapsed = time.perf_counter() - started
    days = (last - first).days + 1
    print(
        f"backfill {first} … {last}: {days} as-of days in one run, {'success' if result.success else 'FAILED'}: "
        f"{elapsed:.0f} s = {elapsed / 60:.1f} min ({elapsed / days:.2f} s an as-of day; goal: 24 months < 30 min)"
    )
    with pl.Config(tbl_rows=100, tbl_cols=20, tbl_width_chars=200):
        print(
            warehouse.query(
                "select horizon_day, method, months, mape, bias, interval_coverage, interval_width, plan_months, brier,"
                " brier_base_rate from ml.forecast_accuracy where as_of_day = ? and method in ('model', 'ruler')"
                " order by horizon_day, method",
                [last],
            )
        )
        print(
            warehouse.query(
                "select horizon_day, scope_type, scopes, scope_months, mape, bias, interval_coverage, interval_width,"
                " plan_months, brier, brier_base_rate from ml.forecast_scope_accuracy where as_of_day = ?"
                " order by scope_type, horizon_day",
                [last],
            )
        )


def _months_before(today: date, months: int) -> list[date]:
    first = date(today.year, today.month, 1)
    starts = []
    for _ in range(months):
        first = date(first.year - (first.month == 1), 12 if first.month == 1 else first.month - 1, 1)
        starts.append(first)
    return starts[::-1]


def _brier(p: "pl.Series", reached: "pl.Series") -> tuple[float, float]:
    """Brier score of `p` and of always saying the base rate (share reached), counted here on their own."""
    o = reached.cast(pl.Float64)
    base = float(cast(float, o.mean()))
    return float(cast(float, ((p - o) ** 2).mean())), float(cast(float, ((base - o) ** 2).mean()))


def _brier_known_then(planned: "pl.DataFrame", history: "pl.DataFrame") -> float | None:
    """Brier score of saying, for each scope-month, the share of the kind's earlier scope-months (in
    `history`: month, reached) that reached plan: the base rate as it was known when the forecast was
    made, where the goal's base rate is the scored year's own share (known only after it)."""
    said, seen = [], []
    for month, reached in planned.select("month", pl.col("actual_rub") >= pl.col("plan_rub")).iter_rows():
        earlier = history.filter(pl.col("month") < month)["reached"]
        if earlier.len():
            said.append(float(cast(float, earlier.cast(pl.Float64).mean())))
            seen.append(float(reached))
    return float(np.mean((np.asarray(said) - np.asarray(seen)) ** 2)) if said else None


def _accuracy(warehouse: "Warehouse", today: date, months: int, days: list[int]) -> None:
    """Forecast days `days` of each of the `months` months before `today`'s, one run each in order (the
    weights and the scopes' intervals learn from the earlier ones, as the daily runs would), then per
    day and scope kind over the last 12 of them: MAPE, the 80 % interval's coverage (the learned one
    and, beside it, the company's relative interval shared out as before) and the Brier score of P(plan)
    against always saying the base rate; all counted here from the tables and the marts."""
    from assets.forecast.assets import forecast_month_end
    from assets.forecast.checks import CHECKS

    starts = _months_before(today, months)
    started = time.perf_counter()
    failed = 0
    for month in starts:
        for day in days:
            result = materialize(
                [forecast_month_end, *CHECKS],
                partition_key=month.replace(day=day).isoformat(),
                resources={"warehouse": warehouse},
            )
            failed += sum(not e.passed for e in result.get_asset_check_evaluations())
    print(f"{months} months × days {days}: {time.perf_counter() - started:.0f} s, failed checks {failed}")
    scored = starts[-12:]
    scopes = warehouse.query(
        "select as_of_day, month, scope_type, scope_id, plan_rub, actual_mtd_rub, forecast_rub, forecast_low_rub,"
        " forecast_high_rub, prob_reach_plan from ml.forecast_scopes"
    ).with_columns(pl.col("month").cast(pl.Date), pl.col("as_of_day").cast(pl.Date))
    company = warehouse.query(
        "select as_of_day, month, plan_rub, actual_mtd_rub, forecast_rub, forecast_low_rub, forecast_high_rub,"
        " prob_reach_plan, ruler_rub from ml.forecast_month_end"
    ).with_columns(pl.col("month").cast(pl.Date), pl.col("as_of_day").cast(pl.Date))
    won = warehouse.query(
        "select day, manager_id, department_id, won_rub from marts.mart_manager_daily where day < ?", [today]
    ).with_columns(pl.col("day").cast(pl.Date).dt.truncate("1mo").alias("month"))
    actual = pl.concat(
        [
            won.group_by("month", pl.col(key).alias("scope_id"))
            .agg(pl.col("won_rub").cast(pl.Float64).sum().alias("actual_rub"))
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
    company_actual = won.group_by("month").agg(pl.col("won_rub").cast(pl.Float64).sum().alias("actual_rub"))
    history = pl.concat(  # every benchmarked scope-month with a plan: did it reach it
        [
            scopes.join(actual, on=["month", "scope_type", "scope_id"], how="left"),
            company.join(company_actual, on="month").with_columns(pl.lit("company").alias("scope_type")),
        ],
        how="diagonal_relaxed",
    ).filter((pl.col("plan_rub") > 0) & (pl.col("month") < date(today.year, today.month, 1)))
    history = history.unique(["month", "scope_type", "scope_id"]).select(
        "month", "scope_type", (pl.col("actual_rub").fill_null(0.0) >= pl.col("plan_rub")).alias("reached")
    )
    print(
        "| as-of day | scope | scope-months | MAPE % (median) | 80 % covers (width) | before: company's interval "
        "shared out | Brier (base rate, better by) | base rate known then: Brier (better by) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for day in days:
        c = company.filter(pl.col("month").is_in(scored) & (pl.col("as_of_day").dt.day() == day)).join(
            company_actual, on="month"
        )
        ratios = c.select(
            "month",
            (
                (pl.col("forecast_low_rub") - pl.col("actual_mtd_rub"))
                / (pl.col("forecast_rub") - pl.col("actual_mtd_rub"))
            ).alias("low_ratio"),
            (
                (pl.col("forecast_high_rub") - pl.col("actual_mtd_rub"))
                / (pl.col("forecast_rub") - pl.col("actual_mtd_rub"))
            ).alias("high_ratio"),
        )
        _line(
            day,
            "company",
            c,
            c.with_columns(
                pl.col("forecast_low_rub").alias("before_low"), pl.col("forecast_high_rub").alias("before_high")
            ),
            history.filter(pl.col("scope_type") == "company"),
        )
        at = (
            scopes.filter(pl.col("month").is_in(scored) & (pl.col("as_of_day").dt.day() == day))
            .join(actual, on=["month", "scope_type", "scope_id"], how="left")
            .with_columns(pl.col("actual_rub").fill_null(0.0))
            .join(ratios, on="month")
            .with_columns(
                (
                    pl.col("actual_mtd_rub") + (pl.col("forecast_rub") - pl.col("actual_mtd_rub")) * pl.col("low_ratio")
                ).alias("before_low"),
                (
                    pl.col("actual_mtd_rub")
                    + (pl.col("forecast_rub") - pl.col("actual_mtd_rub")) * pl.col("high_ratio")
                ).alias("before_high"),
            )
        )
        for kind in ("department", "manager", "pipeline"):
            part = at.filter(pl.col("scope_type") == kind)
            _line(day, kind, part, part, history.filter(pl.col("scope_type") == kind))


def _line(day: int, kind: str, rows: "pl.DataFrame", before: "pl.DataFrame", history: "pl.DataFrame") -> None:
    """One table line: errors and coverage over the scope-months that made something, Brier over those with a plan."""
    made = rows.filter(pl.col("actual_rub") > 0)
    ape = (made["forecast_rub"] - made["actual_rub"]).abs() / made["actual_rub"]
    inside = made["actual_rub"].is_between(made["forecast_low_rub"], made["forecast_high_rub"])
    width = (made["forecast_high_rub"] - made["forecast_low_rub"]) / made["actual_rub"]
    b = before.filter(pl.col("actual_rub") > 0)
    inside_before = b["actual_rub"].is_between(b["before_low"], b["before_high"])
    planned = rows.filter((pl.col("plan_rub") > 0) & pl.col("prob_reach_plan").is_not_null())
    brier = then = "—"
    if planned.height:
        score, base = _brier(planned["prob_reach_plan"], planned["actual_rub"] >= planned["plan_rub"])
        better = f"{(1 - score / base):+.0%}" if base > 0 else "base rate exact"
        brier = f"{score:.3f} ({base:.3f}, {better}; {planned.height})"
        known = _brier_known_then(planned, history)
        if known is not None and known > 0:
            then = f"{known:.3f} ({1 - score / known:+.0%})"
    print(
        f"| {day} | {kind} | {made.height} | {float(cast(float, ape.mean())):.1%} ({float(cast(float, ape.median())):.1%}) "
        f"| {float(cast(float, inside.mean())):.0%} ({float(cast(float, width.mean())):.0%}) "
        f"| {float(cast(float, inside_before.mean())):.0%} | {brier} | {then} |"
    )


if __name__ == "__main__":
    main()
