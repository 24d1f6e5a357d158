"""The month-end forecast per department, manager and pipeline: the company's forecast allocated, pure functions.

A model per scope would cost a Prophet and a CatBoost fit per department and manager each as-of day;
instead the company's forecast is split, and the split is documented:

- month to date: exact (the scope's own won revenue from the 1st through the as-of day);
- the open pipeline: exact (the scope's own open deals × their probabilities, ml.forecast_deals);
- the rest of the company's remaining revenue (deals not yet created, and whatever the weights add
  beyond the pipeline) split by each scope's share of the won revenue of the last 90 days. When the
  weighted remainder is below the pipeline's expected revenue, the pipeline parts are scaled down
  instead, so the scopes of a kind always add up to the company's forecast (revenue of deals without
  a manager aside);
- the 80 % interval: here the company's interval around its remaining revenue, as a share of it,
  applied to the scope's remaining revenue, and the probability of plan from a normal distribution
  matching it. That assumes the scope moves with the company, far too narrow for a small scope: once
  the backfill holds enough of a kind's past months, scope_intervals.py replaces both with what the
  scopes' own past errors say;
- gap and leads needed: leads.py, on the scope's own won deals and assigned leads of the 90 days
  (a pipeline has no leads of its own: the company's lead-to-won rate, its own average won deal).

Inputs are cut at the as-of day like the company's (the caller passes frames up to it).
"""

import math
from datetime import timedelta
from statistics import NormalDist
from typing import Any

import polars as pl

from assets.forecast.leads import WINDOW_DAYS, LeadEconomics, gap_rub, leads_needed
from assets.forecast.model import INTERVAL, MonthEndForecast, month_bounds

SCOPE_TYPES = {"department": "department_id", "manager": "manager_id", "pipeline": "pipeline_id"}
Z_INTERVAL = NormalDist().inv_cdf((1 + INTERVAL) / 2)  # the interval's half-width in standard deviations

SCOPE_COLUMNS = {
    "as_of_day": pl.Date,
    "month": pl.Date,
    "scope_type": pl.Utf8,
    "scope_id": pl.Int64,
    "scope_name": pl.Utf8,
    "department_id": pl.Int64,
    "plan_rub": pl.Float64,
    "actual_mtd_rub": pl.Float64,
    "forecast_rub": pl.Float64,
    "forecast_low_rub": pl.Float64,
    "forecast_high_rub": pl.Float64,
    "prob_reach_plan": pl.Float64,
    "open_deals": pl.Int64,
    "open_deals_expected_rub": pl.Float64,
    "new_revenue_rub": pl.Float64,
    "won_share_90d": pl.Float64,
    "gap_rub": pl.Float64,
    "avg_won_deal_rub": pl.Float64,
    "lead_to_won_rate": pl.Float64,
    "leads_needed": pl.Float64,
    "method": pl.Utf8,
}
METHOD = "allocated: pipeline exact, the rest by 90-day won share"


def _prob(forecast: float, low: float, high: float, plan: float | None) -> float | None:
    """P(month >= plan) from a normal with the interval's centre and width."""
    if plan is None:
        return None
    sd = (high - low) / (2 * Z_INTERVAL)
    if sd <= 0:
        return float(forecast >= plan)
    return 0.5 * (1 - math.erf((plan - forecast) / (sd * math.sqrt(2))))


def allocate(
    company: MonthEndForecast,
    expected_deals: pl.DataFrame,
    manager_days: pl.DataFrame,
    plans: pl.DataFrame,
    pipeline_days: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per department, manager and (given `pipeline_days`) pipeline (SCOPE_COLUMNS) for
    `company`'s as-of day.

    `expected_deals`: ml.forecast_deals rows of the day with manager_id, department_id, pipeline_id (may
    be empty); `manager_days`: day, manager_id, manager_name, department_id, department_name, won_rub,
    won_count, leads_assigned (mart_manager_daily, any days: cut here); `plans`: the month's plan lines
    (manager_id, department_id, pipeline_id, plan_rub); `pipeline_days`: day, pipeline_id, pipeline_name,
    won_rub, won_count. Leads are not assigned to pipelines, so a pipeline's leads needed use the
    company's lead-to-won rate (its own average won deal).
    """
    day = company.as_of_day
    month_start = month_bounds(day)[0]
    first = day - timedelta(days=WINDOW_DAYS - 1)
    remaining = company.forecast_rub - company.actual_mtd_rub
    low_ratio = (company.forecast_low_rub - company.actual_mtd_rub) / remaining if remaining > 0 else 1.0
    high_ratio = (company.forecast_high_rub - company.actual_mtd_rub) / remaining if remaining > 0 else 1.0
    pipeline_total = float(expected_deals["expected_rub"].sum()) if expected_deals.height else 0.0
    # the company's remainder beyond its open deals; below zero the pipeline parts are scaled instead
    rest = remaining - pipeline_total
    pipeline_scale = remaining / pipeline_total if rest < 0 and pipeline_total > 0 else 1.0

    sources = [("department", "department_id", manager_days), ("manager", "manager_id", manager_days)]
    if pipeline_days is not None:
        sources.append(("pipeline", "pipeline_id", pipeline_days))
    rows: list[dict[str, Any]] = []
    for scope_type, key, source in sources:
        days = source.with_columns(pl.col("day").cast(pl.Date)).filter(pl.col("day") <= day)
        window = days.filter(pl.col("day") >= first)
        won_total = float(window["won_rub"].sum()) if window.height else 0.0
        names = _names(days, key)
        mtd = _sums(days.filter(pl.col("day") >= month_start), key, "won_rub")
        won = _sums(window, key, "won_rub")
        won_count = _sums(window, key, "won_count")
        leads = _sums(window, key, "leads_assigned") if "leads_assigned" in days.columns else None
        pipeline = _sums(expected_deals, key, "expected_rub")
        open_deals = _counts(expected_deals, key)
        plan = _sums(plans, key, "plan_rub")
        departments = _department_of(days) if scope_type == "manager" else {}
        # a pipeline is one the deals know; a plan line's pipeline alone may be "none" (0)
        ids = set(names) | set(pipeline) | (set(plan) if scope_type != "pipeline" else set())
        for scope_id in sorted(ids):
            share = won.get(scope_id, 0.0) / won_total if won_total > 0 else 0.0
            new = max(rest, 0.0) * share
            scope_remaining = pipeline.get(scope_id, 0.0) * pipeline_scale + new
            scope_mtd = mtd.get(scope_id, 0.0)
            forecast = scope_mtd + scope_remaining
            low, high = scope_mtd + scope_remaining * low_ratio, scope_mtd + scope_remaining * high_ratio
            scope_plan = plan.get(scope_id) or None
            gap = gap_rub(scope_plan, forecast)
            economics = LeadEconomics(
                won_rub=won.get(scope_id, 0.0),
                won_count=int(won_count.get(scope_id, 0)),
                leads=int(leads.get(scope_id, 0)) if leads is not None else 0,
            )
            avg = economics.avg_won_deal_rub
            rate = economics.lead_to_won_rate if leads is not None else company.lead_to_won_rate
            needed = leads_needed(gap, economics) if leads is not None else _needed(gap, avg, rate)
            rows.append(
                {
                    "as_of_day": day,
                    "month": month_start,
                    "scope_type": scope_type,
                    "scope_id": scope_id,
                    "scope_name": names.get(scope_id),
                    "department_id": scope_id if scope_type == "department" else departments.get(scope_id),
                    "plan_rub": scope_plan,
                    "actual_mtd_rub": round(scope_mtd, 2),
                    "forecast_rub": round(forecast, 2),
                    "forecast_low_rub": round(low, 2),
                    "forecast_high_rub": round(high, 2),
                    "prob_reach_plan": _prob(forecast, low, high, scope_plan),
                    "open_deals": int(open_deals.get(scope_id, 0)),
                    "open_deals_expected_rub": round(pipeline.get(scope_id, 0.0), 2),
                    "new_revenue_rub": round(new, 2),
                    "won_share_90d": round(share, 6),
                    "gap_rub": None if gap is None else round(gap, 2),
                    "avg_won_deal_rub": None if avg is None else round(avg, 2),
                    "lead_to_won_rate": None if rate is None else round(rate, 6),
                    "leads_needed": None if needed is None else round(needed, 1),
                    "method": METHOD,
                }
            )
    return pl.DataFrame(rows, schema=SCOPE_COLUMNS, orient="row")


def _needed(gap: float | None, avg: float | None, rate: float | None) -> float | None:
    """leads.leads_needed with a rate from elsewhere (a pipeline borrows the company's)."""
    if gap is None:
        return None
    if gap == 0:
        return 0.0
    return gap / avg / rate if avg and rate else None


def _sums(frame: pl.DataFrame, key: str, value: str) -> dict[int, float]:
    if not frame.height or key not in frame.columns:
        return {}
    grouped = frame.filter(pl.col(key).is_not_null()).group_by(key).agg(pl.col(value).cast(pl.Float64).sum())
    return {int(k): float(v) for k, v in zip(grouped[key].to_list(), grouped[value].to_list())}


def _counts(frame: pl.DataFrame, key: str) -> dict[int, int]:
    if not frame.height or key not in frame.columns:
        return {}
    grouped = frame.filter(pl.col(key).is_not_null()).group_by(key).len()
    return {int(k): int(n) for k, n in zip(grouped[key].to_list(), grouped["len"].to_list())}


def _names(days: pl.DataFrame, key: str) -> dict[int, str | None]:
    """Each scope seen in the manager days, with its latest name."""
    name = {"department_id": "department_name", "manager_id": "manager_name", "pipeline_id": "pipeline_name"}[key]
    if not days.height:
        return {}
    latest = days.filter(pl.col(key).is_not_null()).sort("day").group_by(key).agg(pl.col(name).last())
    return {int(k): v for k, v in zip(latest[key].to_list(), latest[name].to_list())}


def _department_of(days: pl.DataFrame) -> dict[int, int | None]:
    if not days.height:
        return {}
    latest = (
        days.filter(pl.col("manager_id").is_not_null())
        .sort("day")
        .group_by("manager_id")
        .agg(pl.col("department_id").last())
    )
    return dict(zip(latest["manager_id"].to_list(), latest["department_id"].to_list()))


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=SCOPE_COLUMNS)
