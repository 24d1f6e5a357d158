"""The digest's picture: the month's revenue so far against the plan's pace, and the forecast's fan to month end.

A head of sales sees at a glance what the digest's lines say in figures: where the month stands
against the straight line to the plan, and where the forecast (with its 80 % interval) lands. It is
rendered offline with matplotlib's Agg backend (no display, no network) into a PNG the Bot API takes
with sendPhoto. `picture_data` (pure) decides what is drawn, so a test checks the figures without
reading pixels; `render_png` only draws them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import Protocol

import polars as pl
from pydantic import BaseModel

from assets.insights.facts import DayFacts
from assets.insights.writer import format_day, format_rub

MONTHS = (
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
)
WIDTH_PX, HEIGHT_PX, DPI = 960, 540, 120


class Queryable(Protocol):
    def query(self, sql: str, params: list | None = None) -> pl.DataFrame: ...

    def table_exists(self, schema: str, table: str) -> bool: ...


class PictureData(BaseModel):
    """What the picture draws, in rubles by day of month."""

    title: str
    days_in_month: int
    actual: list[tuple[int, float]]  # (day of month, revenue from the 1st through that day)
    plan_rub: float | None
    forecast: tuple[float, float, float] | None  # (low, point, high) at month end
    as_of: tuple[int, float]  # the forecast's start: the as-of day and the month to date


def month_revenue(warehouse: Queryable, day: date) -> list[tuple[date, float]]:
    """Won revenue of each day from the 1st of `day`'s month through `day` (marts.mart_revenue_daily, all departments)."""
    if not warehouse.table_exists("marts", "mart_revenue_daily"):
        return []
    frame = warehouse.query(
        "select day, sum(won_rub) as won_rub from marts.mart_revenue_daily where day between ? and ? group by day"
        " order by day",
        [day.replace(day=1), day],
    )
    return [(d if isinstance(d, date) else date.fromisoformat(str(d)[:10]), float(v or 0)) for d, v in frame.rows()]


def picture_data(facts: DayFacts, daily: Sequence[tuple[date, float]]) -> PictureData:
    """The cumulative revenue of the month through the as-of day (a day without revenue keeps the total),
    the plan, and the forecast's interval at month end."""
    by_day = {d.day: v for d, v in daily if d.month == facts.month.month and d.year == facts.month.year}
    total, actual = 0.0, [(0, 0.0)]
    for n in range(1, facts.as_of_day.day + 1):
        total += by_day.get(n, 0.0)
        actual.append((n, total))
    forecast = None
    if facts.forecast_rub is not None:
        low = facts.forecast_low_rub if facts.forecast_low_rub is not None else facts.forecast_rub
        high = facts.forecast_high_rub if facts.forecast_high_rub is not None else facts.forecast_rub
        forecast = (low, facts.forecast_rub, high)
    return PictureData(
        title=f"Выручка за {MONTHS[facts.month.month - 1]} {facts.month.year}, на {format_day(facts.as_of_day)}",
        days_in_month=facts.days_in_month,
        actual=actual if daily else [(facts.as_of_day.day, facts.actual_mtd_rub)],
        plan_rub=facts.plan_rub or None,
        forecast=forecast,
        as_of=(facts.as_of_day.day, facts.actual_mtd_rub),
    )


def _millions(value: float) -> str:
    return f"{value / 1_000_000:.1f}".replace(".", ",")


def render_png(data: PictureData) -> bytes:
    """Draw `data` into a PNG of WIDTH_PX × HEIGHT_PX (matplotlib, Agg: offline, no display)."""
    from matplotlib.figure import Figure  # Figure without pyplot: no global state, no GUI backend
    from matplotlib.ticker import FuncFormatter

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    ax = figure.subplots()
    end = data.days_in_month
    if data.plan_rub:
        ax.plot([0, end], [0, data.plan_rub], linestyle="--", color="#888888", label="Темп плана")
        ax.axhline(data.plan_rub, color="#888888", linewidth=0.8)
        ax.annotate(f"План {_millions(data.plan_rub)} млн ₽", (1, data.plan_rub), va="bottom", color="#555555")
    days, totals = zip(*data.actual, strict=True)
    ax.step(days, totals, where="post", color="#1f5fbf", linewidth=2.2, label="Факт")
    if data.forecast is not None:
        low, point, high = data.forecast
        start_day, start = data.as_of
        ax.fill_between([start_day, end], [start, low], [start, high], color="#f28e2b", alpha=0.25, linewidth=0)
        ax.plot([start_day, end], [start, point], color="#f28e2b", linewidth=2, linestyle="-", label="Прогноз, 80 %")
        ax.annotate(
            f"{_millions(point)} млн ₽", (end, point), xytext=(-4, -8), textcoords="offset points", ha="right", va="top"
        )
    ax.set_xlim(0, end)
    top = max([data.plan_rub or 0.0, *(data.forecast or ()), *(t for _, t in data.actual)])
    ax.set_ylim(0, top * 1.1 if top > 0 else 1.0)
    ax.set_xlabel("День месяца")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1_000_000:g}".replace(".", ",")))
    ax.set_ylabel("млн ₽")
    ax.set_title(data.title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def picture_caption(facts: DayFacts) -> str:
    """The picture's caption (Telegram HTML, far below the Bot API's 1024 characters)."""
    parts = [f"План {format_rub(facts.plan_rub)}" if facts.plan_rub else "План не загружен"]
    if facts.forecast_rub is not None:
        forecast = f"прогноз {format_rub(facts.forecast_rub)}"
        if facts.forecast_low_rub is not None and facts.forecast_high_rub is not None:
            forecast += f" (80 %: {format_rub(facts.forecast_low_rub).removesuffix(' ₽')}–{format_rub(facts.forecast_high_rub)})"
        parts.append(forecast)
    return " · ".join(parts)
