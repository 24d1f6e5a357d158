"""The week's forecast (assets/forecast/week.py) against the weekly ruler, on the M world or Superstore.

Builds the M world (seed 42, 24 months through --today) with the marts the forecast reads, then
walks forward over every day from MAX_WEEKS weeks before the scored year, forecasting each day's
ISO week for the company, each department, manager and pipeline exactly as the asset does (nothing
after the as-of day; the interval learned from the forecasts of the weeks that ended before).
Scored: every complete week of the 12 months before --today, as of each Monday … Saturday (Sunday
knows its week), against the realised week. The walk runs twice: as the product does (the estimates
blended with weights learned from earlier weeks) and with the weights never learned (the open deals'
estimate alone, the product before the blend). Printed per as-of weekday and kind of scope: scope-weeks,
MAPE of the model, of it without the learned weights, of the like days' estimate alone and of the ruler
(week to date ÷ working days elapsed × working days in the week; scope-weeks with no revenue are left out
of MAPE), the model's bias, its 80 % interval's coverage and mean width (share of the actual) and the
Brier score of P(week plan) beside always saying the base rate, with and without the learned weights;
then the weights the last scored week was forecast with.

--world superstore: the public Superstore orders instead (../shared/datasets through the CRM-export
source, as benchmarks/forecast_accuracy.py loads them; no plan, no open deals: the like days and the
ruler are weighed), scored over the year before the day after the last order. With --dagster, set
AS_OF_START_DATE early enough for the partitions to reach its years (2015-01-01).

--dagster N: instead, materialize the asset (with its check) through Dagster on the same world: one
as-of day (the day before --today), then one single-run backfill of the N months before it, both timed.

    .venv/bin/python -m benchmarks.forecast_week [--today 2026-12-01] [--cache /tmp/week_bench]
        [--profile-weeks 8] [--kinds company,department] [--dagster 12] [--world superstore [--datasets DIR]]
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from assets.forecast import week
from benchmarks.forecast_scopes import SELECT
from benchmarks.forecast_worlds import build_superstore, build_world

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


def read_inputs(path: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame | None, pl.DataFrame | None]:
    """Revenue per day and scope, the month plans per scope, the deals and their stages, as the asset reads them."""
    from assets.forecast.week_asset import week_deals, week_inputs
    from resources.warehouse import Warehouse

    warehouse = Warehouse(url=f"duckdb:///{path}")
    daily, plans, _ = week_inputs(warehouse, date(2000, 1, 1), date(2100, 1, 1))
    deals, stages = week_deals(warehouse, date(2100, 1, 1))
    return daily, plans, deals, stages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--today", default=None, help="default 2026-12-01 (M), the day after the last order (superstore)"
    )
    parser.add_argument("--cache", default="/tmp/week_bench", type=Path)
    parser.add_argument("--world", choices=("M", "superstore"), default="M")
    parser.add_argument("--datasets", default=None, type=Path, help="the datasets folder (default DATASETS_DIR)")
    parser.add_argument("--profile-weeks", type=int, default=week.PROFILE_WEEKS)
    parser.add_argument("--kinds", default="company,department,pipeline,manager")
    parser.add_argument("--no-pipeline", action="store_true", help="what if: without the open deals' part")
    parser.add_argument("--dagster", type=int, default=0, help="instead: the asset through Dagster, N months' backfill")
    args = parser.parse_args()
    week.PROFILE_WEEKS = args.profile_weeks
    args.cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.world == "superstore":
        from resources.settings import load_settings

        path = build_superstore(args.cache, args.datasets or load_settings().datasets_dir)
    else:
        args.today = args.today or "2026-12-01"
        path = build_world(args.cache, date.fromisoformat(args.today), SELECT)
    daily, plans, deals, stages = read_inputs(path)
    last_day: date = daily["day"].cast(pl.Date).max()  # type: ignore[assignment]
    today = date.fromisoformat(args.today) if args.today else last_day + timedelta(days=1)  # superstore's default
    if args.dagster:
        _through_dagster(path, today, args.dagster)
        return 0
    if args.no_pipeline:
        deals = stages = None
    kinds = args.kinds.split(",")
    daily = daily.filter(pl.col("scope_type").is_in(kinds))
    plans = plans.filter(pl.col("scope_type").is_in(kinds))
    first_scored = week.week_bounds(date(today.year - 1, today.month, today.day))[0]
    if first_scored < date(today.year - 1, today.month, today.day):
        first_scored += timedelta(weeks=1)
    last_scored = week.week_bounds(today)[0] - timedelta(weeks=1)  # the last complete week's Monday
    learned = _walk(daily, plans, deals, stages, first_scored, last_scored)
    walked = time.perf_counter()
    min_weeks, week.MIN_WEEKS = week.MIN_WEEKS, 10**9  # the same walk, the weights never learned
    fixed = _walk(daily, plans, deals, stages, first_scored, last_scored)
    week.MIN_WEEKS = min_weeks
    actuals = (
        daily.with_columns(pl.col("day").cast(pl.Date).dt.truncate("1w").alias("week_start"))
        .group_by(["scope_type", "scope_id", "week_start"])
        .agg(pl.col("revenue_rub").sum().alias("actual_rub"))
    )

    def scored(forecasts: pl.DataFrame) -> pl.DataFrame:
        return forecasts.join(actuals, on=["scope_type", "scope_id", "week_start"], how="left").with_columns(
            pl.col("actual_rub").fill_null(0.0), pl.col("as_of_day").dt.weekday().alias("weekday")
        )

    joined, before = scored(learned), scored(fixed)
    print(
        f"{'M world' if args.world == 'M' else 'Superstore'}, weeks {first_scored} … {last_scored + timedelta(days=6)} "
        f"({(last_scored - first_scored).days // 7 + 1} weeks), profile of {week.PROFILE_WEEKS} like days, "
        f"{'no open deals' if deals is None else 'with the open deals'}; "
        f"{walked - started:.0f} s to the learned weights' last forecast, {time.perf_counter() - walked:.0f} s without"
    )
    print(
        "| scope | as of | scope-weeks | model MAPE % | without learned weights | like days alone | ruler MAPE % "
        "| model bias % | 80 % covers (width) | without: covers (width) | Brier P(plan) (base rate) | without: Brier |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind in kinds:
        for number, name in enumerate(WEEKDAYS, 1):
            part = joined.filter((pl.col("scope_type") == kind) & (pl.col("weekday") == number))
            if part.is_empty():
                continue
            then = _scores(before.filter((pl.col("scope_type") == kind) & (pl.col("weekday") == number)))
            now = _scores(part)
            like = _scores(part.with_columns(pl.col("like_days_rub").alias("forecast_rub")))[1].strip("*")
            row = [now[0], now[1], then[1].strip("*"), like, now[2], now[3], now[4], then[4], now[5], then[5]]
            print(f"| {kind} | {name} | " + " | ".join(row) + " |")
    print(f"\nThe weights the last scored week ({last_scored}) was forecast with, per kind of scope and as-of weekday:")
    final = learned.filter(pl.col("week_start") == last_scored)
    for kind in kinds:
        for number, name in enumerate(WEEKDAYS, 1):
            said = final.filter((pl.col("scope_type") == kind) & (pl.col("as_of_day").dt.weekday() == number))["method"]
            if len(said):
                print(f"  {kind} {name}: {said[0].removeprefix(week.BLENDED + ': ')}")
    return 0


def _walk(
    daily: pl.DataFrame,
    plans: pl.DataFrame,
    deals: pl.DataFrame | None,
    stages: pl.DataFrame | None,
    first_scored: date,
    last_scored: date,
) -> pl.DataFrame:
    """Every day's forecast from MAX_WEEKS weeks before `first_scored` to the Saturday after `last_scored`,
    each learning from the days before it as the asset's backfill does; the scored days' rows."""
    day = first_scored - timedelta(weeks=week.MAX_WEEKS)
    past: list[pl.DataFrame] = []
    scored: list[pl.DataFrame] = []
    while day <= last_scored + timedelta(days=5):
        rows = week.forecast_week(daily, day, plans, pl.concat(past) if past else None, deals=deals, stages=stages)
        past.append(rows.select(list(week.PAST_COLUMNS)))
        if day >= first_scored:
            scored.append(rows)
        day += timedelta(days=1)
        if day.weekday() == 6:  # Sunday knows its week: nothing to forecast, nothing to learn
            day += timedelta(days=1)
    return pl.concat(scored)


def _through_dagster(path: Path, today: date, months: int) -> None:
    """The asset and its check as the daily job and a backfill run them, timed."""
    from dagster import materialize

    from assets.forecast.checks import WEEK_CHECKS
    from assets.forecast.week_asset import forecast_week
    from resources.warehouse import Warehouse

    warehouse = Warehouse(url=f"duckdb:///{path}")
    last = today - timedelta(days=1)
    index = last.year * 12 + last.month - months  # the first of the `months` months through last's
    first = date(index // 12, index % 12 + 1, 1)
    started = time.perf_counter()
    one = materialize([forecast_week, *WEEK_CHECKS], partition_key=last.isoformat(), resources={"warehouse": warehouse})
    rows = warehouse.query("select * from ml.forecast_week where as_of_day = ?", [last])
    print(
        f"one as-of day ({last}): {time.perf_counter() - started:.1f} s, {rows.height} rows, "
        f"checks {'pass' if all(e.passed for e in one.get_asset_check_evaluations()) else 'FAIL'}"
    )
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    started = time.perf_counter()
    run = materialize([forecast_week, *WEEK_CHECKS], tags=tags, resources={"warehouse": warehouse})
    written = warehouse.query(
        "select count(*) as n, count(distinct as_of_day) as days from ml.forecast_week where as_of_day between ? and ?",
        [first, last],
    ).row(0)
    print(
        f"backfill {first} … {last} in one run: {time.perf_counter() - started:.0f} s, {written[0]} rows over "
        f"{written[1]} days, run {'succeeded' if run.success else 'FAILED'}, checks "
        f"{'pass' if all(e.passed for e in run.get_asset_check_evaluations()) else 'FAIL'}"
    )
    after = warehouse.query(
        "select scope_type, scope_name, plan_rub, actual_wtd_rub, forecast_rub, forecast_low_rub,"
        " forecast_high_rub, round(prob_reach_plan * 100) as prob_plan_pct, ruler_rub from ml.forecast_week"
        " where as_of_day = ?"
        " and scope_type in ('company', 'department') order by scope_type, scope_id",
        [last],
    )
    with pl.Config(tbl_cols=-1, tbl_width_chars=200, float_precision=0, fmt_str_lengths=30):
        print(after)


def _scores(part: pl.DataFrame) -> list[str]:
    positive = part.filter(pl.col("actual_rub") > 0)
    actual = positive["actual_rub"].to_numpy()
    model = positive["forecast_rub"].to_numpy()
    ruler = positive["ruler_rub"].to_numpy()
    low, high = positive["forecast_low_rub"].to_numpy(), positive["forecast_high_rub"].to_numpy()
    planned = part.filter(pl.col("prob_reach_plan").is_not_null() & pl.col("plan_rub").is_not_null())
    brier = "—"
    if planned.height:
        hit = (planned["actual_rub"] >= planned["plan_rub"]).cast(pl.Float64).to_numpy()
        p = planned["prob_reach_plan"].to_numpy()
        base = float(hit.mean())
        brier = f"{np.mean((p - hit) ** 2):.3f} ({np.mean((base - hit) ** 2):.3f})"
    return [
        str(len(actual)),
        f"**{np.mean(np.abs(model - actual) / actual) * 100:.1f}**",
        f"{np.mean(np.abs(ruler - actual) / actual) * 100:.1f}",
        f"{np.mean((model - actual) / actual) * 100:+.1f}",
        f"{np.mean((low <= actual) & (actual <= high)):.2f} ({np.median((high - low) / actual) * 100:.0f} %)",
        brier,
    ]


if __name__ == "__main__":
    raise SystemExit(main())
