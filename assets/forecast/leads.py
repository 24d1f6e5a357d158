"""The gap to plan and the leads needed to close it (DOMAIN.md "Month-end forecast"): pure functions.

gap = plan − forecast when positive (0 when the forecast reaches plan; none without a plan);
leads needed = gap ÷ average won deal ÷ lead-to-won rate, both of the last `WINDOW_DAYS` days up to
the as-of day inclusive, read from the marts as they stood then:

- average won deal = won rubles ÷ won deals closed in the window (docs/KPI.md "Average deal size",
  mart_revenue_daily's won_rub and won_count);
- lead-to-won rate = deals won in the window ÷ leads created in the window, plain counts (docs/KPI.md's
  `mart_reconciliation.lead_to_won_pct` over 90 days instead of a month). Not the cohort rate
  (`mart_channel.leads_won`): whether a lead of the window is won is often known only after the
  as-of day, and the forecast must not see that.

No won deal or no lead in the window: the rate is unknown and leads needed stay empty (None), the
gap is still given.
"""

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from assets.forecast.model import MonthEndForecast

WINDOW_DAYS = 90


@dataclass(frozen=True)
class LeadEconomics:
    """The window's won deals and leads: what a rouble of gap costs in leads."""

    won_rub: float
    won_count: int
    leads: int

    @property
    def avg_won_deal_rub(self) -> float | None:
        return self.won_rub / self.won_count if self.won_count > 0 and self.won_rub > 0 else None

    @property
    def lead_to_won_rate(self) -> float | None:
        return self.won_count / self.leads if self.leads > 0 and self.won_count > 0 else None


def economics(won: pl.DataFrame, leads: pl.DataFrame | None, as_of_day: date, days: int = WINDOW_DAYS) -> LeadEconomics:
    """The window ending on `as_of_day` (inclusive; nothing after it is read).

    `won`: day, won_rub, won_count (any grain finer than a day, summed); `leads`: day, leads (None:
    the company's CRM has no leads, so the rate is unknown).
    """
    first = as_of_day - timedelta(days=days - 1)

    def window(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("day").cast(pl.Date).is_between(first, as_of_day))

    w = window(won)
    won_rub = float(w["won_rub"].cast(pl.Float64).sum()) if w.height else 0.0
    won_count = int(w["won_count"].cast(pl.Int64).sum()) if w.height else 0
    lead_count = int(window(leads)["leads"].cast(pl.Int64).sum()) if leads is not None and leads.height else 0
    return LeadEconomics(won_rub=won_rub, won_count=won_count, leads=lead_count)


def gap_rub(plan_rub: float | None, forecast_rub: float) -> float | None:
    """What the forecast leaves of the plan (0 when it reaches plan; None without a plan)."""
    if plan_rub is None or plan_rub <= 0:
        return None
    return max(plan_rub - forecast_rub, 0.0)


def leads_needed(gap: float | None, lead_economics: LeadEconomics) -> float | None:
    """gap ÷ average won deal ÷ lead-to-won rate; 0 when there is no gap; None when unknown."""
    avg, rate = lead_economics.avg_won_deal_rub, lead_economics.lead_to_won_rate
    if gap is None:
        return None
    if gap == 0:
        return 0.0
    if avg is None or rate is None:
        return None
    return gap / avg / rate


def with_leads(forecast: "MonthEndForecast", lead_economics: LeadEconomics) -> "MonthEndForecast":
    """The forecast row with its gap, the window's average won deal and rate, and the leads needed."""
    gap = gap_rub(forecast.plan_rub, forecast.forecast_rub)
    needed = leads_needed(gap, lead_economics)
    avg, rate = lead_economics.avg_won_deal_rub, lead_economics.lead_to_won_rate
    return replace(
        forecast,
        gap_rub=None if gap is None else round(gap, 2),
        avg_won_deal_rub=None if avg is None else round(avg, 2),
        lead_to_won_rate=None if rate is None else round(rate, 6),
        leads_needed=None if needed is None else round(needed, 1),
    )
