"""The day's facts that every insight, digest and alert is written from (no Dagster here).

One small pydantic object, computed once from the warehouse's marts and ML tables, so the
template text, the GPT prompt and the Telegram digest all quote the same figures.
"""
from __future__ import annotations

import calendar
from datetime import date
from typing import Any, Protocol

import polars as pl
from pydantic import BaseModel, Field

# docs/KPI.md alert kpi_deviation: a month-to-date pace more than 10 % below plan is worth saying.
PACE_DEVIATION = 0.10
TOP_LAGGING = 3
TOP_ANOMALIES = 3


class Queryable(Protocol):
    """What facts need of the warehouse: SELECT in, polars frame out (resources.warehouse.Warehouse)."""

    def query(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame: ...

    def table_exists(self, schema: str, table: str) -> bool: ...


class LaggingManager(BaseModel):
    """A manager whose month-to-date actual is behind the plan's pace for this date."""

    manager_id: str
    manager_name: str
    department_name: str | None = None
    plan_rub: float
    actual_rub: float
    expected_rub: float = Field(description="plan × days elapsed / days in month")
    fulfilment_pct: float
    expected_pct: float


class AnomalyFact(BaseModel):
    """One flagged manager-day from the anomaly model."""

    manager_id: str
    manager_name: str
    metric: str
    value: float | None
    usual: float | None
    score: float | None = None


class DayFacts(BaseModel):
    """Everything the morning text needs about one as-of day (company level)."""

    as_of_day: date
    month: date
    days_elapsed: int
    days_in_month: int
    plan_rub: float
    actual_mtd_rub: float
    forecast_rub: float | None = None
    forecast_low_rub: float | None = None
    forecast_high_rub: float | None = None
    prob_reach_plan: float | None = None
    leads_needed: float | None = None
    lagging_managers: list[LaggingManager] = Field(default_factory=list)
    anomalies: list[AnomalyFact] = Field(default_factory=list)

    @property
    def fulfilment_pct(self) -> float | None:
        """actual / plan × 100 (docs/KPI.md); None when there is no plan."""
        return self.actual_mtd_rub / self.plan_rub * 100 if self.plan_rub > 0 else None

    @property
    def remaining_rub(self) -> float:
        """max(plan − actual, 0) (docs/KPI.md)."""
        return max(self.plan_rub - self.actual_mtd_rub, 0.0)

    @property
    def days_left(self) -> int:
        """Days after the as-of day until month end (the as-of day counts as elapsed)."""
        return self.days_in_month - self.days_elapsed


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _company_row(forecast: pl.DataFrame, day: date) -> dict[str, Any] | None:
    if forecast.is_empty():
        return None
    frame = forecast.filter(pl.col("as_of_day").cast(pl.Date) == day)
    if "scope" in frame.columns:
        frame = frame.filter(pl.col("scope").is_null() | (pl.col("scope") == "company"))
    return frame.row(0, named=True) if frame.height else None


def anomalies_of_day(day: date, anomalies: pl.DataFrame) -> list[AnomalyFact]:
    """Every row of ml.manager_anomalies flagged on `day`, most anomalous first."""
    if anomalies.is_empty():
        return []
    flagged = anomalies.filter(
        (pl.col("as_of_day").cast(pl.Date) == day) & pl.col("is_anomaly").cast(pl.Boolean)
    ).sort("score", descending=True, nulls_last=True)
    return [
        AnomalyFact(
            manager_id=str(row["manager_id"]),
            manager_name=str(row.get("manager_name") or row["manager_id"]),
            metric=str(row.get("top_metric") or ""),
            value=_num(row.get("metric_value")),
            usual=_num(row.get("usual_value")),
            score=_num(row.get("score")),
        )
        for row in flagged.iter_rows(named=True)
    ]


def build_facts(
    day: date,
    plan_fact: pl.DataFrame,
    forecast: pl.DataFrame | None = None,
    anomalies: pl.DataFrame | None = None,
) -> DayFacts:
    """Pure: the facts of `day` from the three tables' rows (frames may hold other days/months too)."""
    month = day.replace(day=1)
    days_in_month = calendar.monthrange(day.year, day.month)[1]
    elapsed = day.day
    pace = elapsed / days_in_month

    pf = plan_fact.filter(pl.col("month").cast(pl.Date) == month) if plan_fact.height else plan_fact
    plan_total = float(pf["plan_rub"].fill_null(0).sum()) if pf.height else 0.0
    actual_total = float(pf["actual_rub"].fill_null(0).sum()) if pf.height else 0.0

    fc = _company_row(forecast if forecast is not None else pl.DataFrame(), day)
    if fc is not None:
        # The forecast table records plan and actual as of the day itself: prefer it (right for backfills).
        plan_total = _num(fc.get("plan_rub")) or plan_total
        if fc.get("actual_mtd_rub") is not None:
            actual_total = float(fc["actual_mtd_rub"])

    lagging: list[LaggingManager] = []
    if pf.height:
        per_manager = (
            pf.group_by("manager_id")
            .agg(
                pl.col("manager_name").first(),
                pl.col("department_name").first(),
                pl.col("plan_rub").fill_null(0).sum(),
                pl.col("actual_rub").fill_null(0).sum(),
            )
            .filter(pl.col("plan_rub") > 0)
        )
        for row in per_manager.iter_rows(named=True):
            expected = row["plan_rub"] * pace
            if expected > 0 and row["actual_rub"] < expected * (1 - PACE_DEVIATION):
                lagging.append(
                    LaggingManager(
                        manager_id=str(row["manager_id"]),
                        manager_name=str(row["manager_name"] or row["manager_id"]),
                        department_name=row["department_name"],
                        plan_rub=row["plan_rub"],
                        actual_rub=row["actual_rub"],
                        expected_rub=expected,
                        fulfilment_pct=row["actual_rub"] / row["plan_rub"] * 100,
                        expected_pct=pace * 100,
                    )
                )
        lagging.sort(key=lambda m: (-(m.expected_rub - m.actual_rub), m.manager_name))

    found = anomalies_of_day(day, anomalies) if anomalies is not None else []

    return DayFacts(
        as_of_day=day,
        month=month,
        days_elapsed=elapsed,
        days_in_month=days_in_month,
        plan_rub=plan_total,
        actual_mtd_rub=actual_total,
        forecast_rub=_num(fc.get("forecast_rub")) if fc else None,
        forecast_low_rub=_num(fc.get("forecast_low_rub")) if fc else None,
        forecast_high_rub=_num(fc.get("forecast_high_rub")) if fc else None,
        prob_reach_plan=_num(fc.get("prob_reach_plan")) if fc else None,
        leads_needed=_num(fc.get("leads_needed")) if fc else None,
        lagging_managers=lagging[:TOP_LAGGING],
        anomalies=found[:TOP_ANOMALIES],
    )


def collect_facts(warehouse: Queryable, day: date) -> DayFacts:
    """Read the day's rows from marts.mart_plan_fact, ml.forecast_month_end, ml.manager_anomalies."""
    month = day.replace(day=1)
    plan_fact = warehouse.query("select * from marts.mart_plan_fact where month = ?", [month])
    forecast = (
        warehouse.query("select * from ml.forecast_month_end where as_of_day = ?", [day])
        if warehouse.table_exists("ml", "forecast_month_end")
        else None
    )
    anomalies = (
        warehouse.query("select * from ml.manager_anomalies where as_of_day = ?", [day])
        if warehouse.table_exists("ml", "manager_anomalies")
        else None
    )
    return build_facts(day, plan_fact, forecast, anomalies)
