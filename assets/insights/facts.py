"""The day's facts that every insight, digest and alert is written from (no Dagster here).

One small pydantic object, computed once from the warehouse's marts and ML tables, so the
template text, the GPT prompt and the Telegram digest all quote the same figures.

The business rules are dbt's (mart_plan_fact): plan, actual, fulfilment % and what is left come
from its manager and company roll-ups, and the pace tolerance from its `alert_kpi_deviation_pct`
column, so the text says what the report shows and a company's own vars reach the text too. Only
the pace itself (plan x days elapsed / days in month) is worked out here: it belongs to the as-of
day, which may be a day the marts hold no event of yet (the 06:00 run of today).
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from typing import Any, Protocol

import polars as pl
from pydantic import BaseModel, Field

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
    """One flagged day of a manager or a channel from the anomaly model."""

    manager_id: str = Field(description="the subject's id: a manager's id, or a channel's code")
    manager_name: str = Field(description="who owns it: the manager, or the channel's name")
    metric: str
    value: float | None
    usual: float | None
    score: float | None = None
    subject_type: str = "manager"
    window_days: int = 1
    detail: str | None = Field(default=None, description="what the metric is about: a stage conversion's stage pair")


class ForgottenDeal(BaseModel):
    """The largest forgotten deal: its CRM id, owner and amount only.

    No title and no client: deal titles are CRM free text (they often hold the client's name, and
    anyone who can edit a deal can write instructions into one), so they never reach a prompt.
    """

    deal_id: str = Field(description="the number the CRM shows (an export's own id), what the reader searches for")
    manager_name: str
    amount_rub: float | None = Field(
        description="None when no forgotten deal has an amount (an export without open deals' values): "
        "the deal is then the one idle longest, not a 'largest' one at 0 ₽"
    )
    days_idle: int
    threshold_days: int = Field(description="forgotten_deal_days as the mart applied it")


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
    fulfilment_pct: float | None = Field(
        default=None, description="actual / plan × 100 (mart_plan_fact); None without a plan"
    )
    remaining_rub: float = Field(default=0.0, description="max(plan − actual, 0) (mart_plan_fact)")
    won_mtd: int = Field(default=0, description="deals won this month to the day (mart_plan_fact)")
    lagging_managers: list[LaggingManager] = Field(default_factory=list)
    anomalies: list[AnomalyFact] = Field(default_factory=list)
    forecast_yesterday_rub: float | None = Field(
        default=None, description="the company forecast of the day before (ml.forecast_month_end)"
    )
    forgotten_deals: int | None = Field(
        default=None, description="open deals past forgotten_deal_days (mart_forgotten)"
    )
    forgotten_deals_rub: float = 0.0
    top_forgotten: ForgottenDeal | None = None
    open_leads: int | None = Field(
        default=None, description="open leads the CRM holds (mart_forgotten's lead rows); 0: a CRM without leads"
    )
    missed_calls_yesterday: int | None = Field(
        default=None, description="inbound calls of the day before never returned (mart_missed_calls)"
    )

    @property
    def forecast_change_rub(self) -> float | None:
        """Today's forecast minus yesterday's (None when either is missing)."""
        if self.forecast_rub is None or self.forecast_yesterday_rub is None:
            return None
        return self.forecast_rub - self.forecast_yesterday_rub

    @property
    def amounts_missing(self) -> bool:
        """Deals were won this month and not one ruble: the CRM (or an export, Olist's) has no amounts.

        Every ruble figure is then 0 for want of data, not of sales: neither the plan's fulfilment nor a
        forecast of 0 ₽ may be reported as news.
        """
        return self.won_mtd > 0 and self.actual_mtd_rub == 0

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
    flagged = anomalies.filter((pl.col("as_of_day").cast(pl.Date) == day) & pl.col("is_anomaly").cast(pl.Boolean)).sort(
        "score", descending=True, nulls_last=True
    )
    return [
        AnomalyFact(
            manager_id=str(row.get("subject_id") or row["manager_id"]),
            manager_name=str(row.get("manager_name") or row.get("subject_id") or row["manager_id"]),
            metric=str(row.get("top_metric") or ""),
            value=_num(row.get("metric_value")),
            usual=_num(row.get("usual_value")),
            score=_num(row.get("score")),
            subject_type=str(row.get("subject_type") or "manager"),
            window_days=int(row.get("window_days") or 1),
            detail=row.get("metric_detail") or None,
        )
        for row in flagged.iter_rows(named=True)
    ]


def lagging_managers(month_rows: pl.DataFrame, day: date) -> list[LaggingManager]:
    """Managers whose month's actual is behind the plan's pace for `day` by more than the mart's tolerance.

    `month_rows` are mart_plan_fact's lines of the day's month; every line carries its manager's
    month roll-up, so one row per manager is enough.
    """
    if month_rows.is_empty():
        return []
    pace = day.day / calendar.monthrange(day.year, day.month)[1]
    managers = (
        month_rows.filter(pl.col("manager_plan_rub") > 0)
        .unique(subset=["manager_id"], keep="first", maintain_order=True)
        .with_columns((pl.col("manager_plan_rub") * pace).alias("expected_rub"))
        .filter(pl.col("manager_actual_rub") < pl.col("expected_rub") * (1 - pl.col("alert_kpi_deviation_pct") / 100))
    )
    lagging = [
        LaggingManager(
            manager_id=str(row["manager_id"]),
            manager_name=str(row["manager_name"] or row["manager_id"]),
            department_name=row["department_name"],
            plan_rub=row["manager_plan_rub"],
            actual_rub=row["manager_actual_rub"],
            expected_rub=row["expected_rub"],
            fulfilment_pct=row["manager_fulfilment_pct"],
            expected_pct=pace * 100,
        )
        for row in managers.iter_rows(named=True)
    ]
    return sorted(lagging, key=lambda m: (-(m.expected_rub - m.actual_rub), m.manager_name))


# an id as CRMs and exports write them; anything else in the field (free text) stays out of a prompt
_SAFE_NUMBER = re.compile(r"[0-9A-Za-zА-Яа-яЁё_\-/.#]{1,40}")


def deal_number(row: dict) -> str:
    """The number the head of sales can search the CRM for: an export's own id ("1C1I7A6R"), not
    the surrogate the warehouse keys it by; the warehouse id when the number is missing or is not
    an id (an export column holding free text)."""
    number = row.get("entity_number")
    if isinstance(number, str) and _SAFE_NUMBER.fullmatch(number.strip()):
        return number.strip()
    return str(row["entity_id"])


def forgotten_deals(forgotten: pl.DataFrame) -> tuple[int, float, ForgottenDeal | None]:
    """Count, rubles and the largest of mart_forgotten's forgotten deals (leads and deals with a task aside)."""
    deals = forgotten.filter((pl.col("entity_type") == "deal") & pl.col("is_forgotten").cast(pl.Boolean))
    if deals.is_empty():
        return 0, 0.0, None
    valued = deals.filter(pl.col("amount_rub").fill_null(0.0) > 0)
    if valued.height:  # the largest forgotten deal
        top = valued.sort(["amount_rub", "entity_id"], descending=[True, False]).row(0, named=True)
    else:  # no amounts to rank by: the one forgotten longest
        top = deals.sort(["days_idle", "entity_id"], descending=[True, False], nulls_last=True).row(0, named=True)
    largest = ForgottenDeal(
        deal_id=deal_number(top),
        manager_name=str(top.get("manager_name") or top.get("manager_id") or "без менеджера"),
        amount_rub=float(top["amount_rub"]) if valued.height else None,
        days_idle=int(top["days_idle"]),
        threshold_days=int(top["threshold_days"]),
    )
    return deals.height, float(deals["amount_rub"].fill_null(0.0).sum()), largest


def missed_calls_of(day: date, missed: pl.DataFrame) -> int:
    """Missed inbound calls of `day` never returned (rows of mart_missed_calls)."""
    return missed.filter(pl.col("day").cast(pl.Date) == day).height


def build_facts(
    day: date,
    plan_fact: pl.DataFrame,
    forecast: pl.DataFrame | None = None,
    anomalies: pl.DataFrame | None = None,
    forgotten: pl.DataFrame | None = None,
    missed_calls: pl.DataFrame | None = None,
) -> DayFacts:
    """Pure: the facts of `day` from the tables' rows (frames may hold other days/months too).

    Plan, actual, fulfilment and what is left are mart_plan_fact's company roll-up of the month, the
    figures the report shows; the forecast rows add the forecast and its value the day before;
    mart_forgotten and mart_missed_calls (when the company has them) the deals and calls to chase.
    """
    month = day.replace(day=1)
    pf = plan_fact.filter(pl.col("month").cast(pl.Date) == month) if plan_fact.height else plan_fact
    company = pf.row(0, named=True) if pf.height else {}
    fc = _company_row(forecast if forecast is not None else pl.DataFrame(), day)
    found = anomalies_of_day(day, anomalies) if anomalies is not None else []
    before = _company_row(forecast if forecast is not None else pl.DataFrame(), day - timedelta(days=1))
    if before and fc and before.get("month") is not None and str(before["month"])[:7] != str(fc.get("month"))[:7]:
        before = None  # the 1st against the last day of the month before: two months' forecasts, no change
    count, rub, top = forgotten_deals(forgotten) if forgotten is not None else (None, 0.0, None)
    open_leads = forgotten.filter(pl.col("entity_type") == "lead").height if forgotten is not None else None

    return DayFacts(
        as_of_day=day,
        month=month,
        days_elapsed=day.day,
        days_in_month=calendar.monthrange(day.year, day.month)[1],
        plan_rub=_num(company.get("company_plan_rub")) or 0.0,
        actual_mtd_rub=_num(company.get("company_actual_rub")) or 0.0,
        fulfilment_pct=_num(company.get("company_fulfilment_pct")),
        remaining_rub=_num(company.get("company_remaining_rub")) or 0.0,
        won_mtd=int(pf["won_count"].sum() or 0) if "won_count" in pf.columns else 0,
        forecast_rub=_num(fc.get("forecast_rub")) if fc else None,
        forecast_low_rub=_num(fc.get("forecast_low_rub")) if fc else None,
        forecast_high_rub=_num(fc.get("forecast_high_rub")) if fc else None,
        prob_reach_plan=_num(fc.get("prob_reach_plan")) if fc else None,
        leads_needed=_num(fc.get("leads_needed")) if fc else None,
        lagging_managers=lagging_managers(pf, day)[:TOP_LAGGING],
        anomalies=found[:TOP_ANOMALIES],
        forecast_yesterday_rub=_num(before.get("forecast_rub")) if before else None,
        forgotten_deals=count,
        forgotten_deals_rub=rub,
        top_forgotten=top,
        open_leads=open_leads,
        missed_calls_yesterday=missed_calls_of(day - timedelta(days=1), missed_calls)
        if missed_calls is not None
        else None,
    )


def collect_facts(warehouse: Queryable, day: date) -> DayFacts:
    """Read the day's rows from marts.mart_plan_fact, ml.forecast_month_end (today's and yesterday's),
    ml.manager_anomalies, marts.mart_forgotten and marts.mart_missed_calls (absent tables: no such facts)."""
    month = day.replace(day=1)
    yesterday = day - timedelta(days=1)
    plan_fact = warehouse.query("select * from marts.mart_plan_fact where month = ?", [month])
    forecast = (
        warehouse.query("select * from ml.forecast_month_end where as_of_day in (?, ?)", [day, yesterday])
        if warehouse.table_exists("ml", "forecast_month_end")
        else None
    )
    forgotten = (
        # every column: entity_number arrived later, a warehouse built before it has none
        warehouse.query("select * from marts.mart_forgotten").drop("title", strict=False)
        if warehouse.table_exists("marts", "mart_forgotten")
        else None
    )
    missed = (
        warehouse.query("select call_id, day from marts.mart_missed_calls where day = ?", [yesterday])
        if warehouse.table_exists("marts", "mart_missed_calls")
        else None
    )
    anomalies = (
        warehouse.query("select * from ml.manager_anomalies where as_of_day = ?", [day])
        if warehouse.table_exists("ml", "manager_anomalies")
        else None
    )
    return build_facts(day, plan_fact, forecast, anomalies, forgotten, missed)
