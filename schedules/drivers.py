"""The digest's "main drivers": who moved the month-end forecast most since yesterday (pure, no Dagster).

The company's forecast change alone says that something moved, not whom to call; ml.forecast_scopes
holds each manager's (and department's, pipeline's) forecast per as-of day, so the change of each
scope between yesterday's and today's rows of the same month names the people behind it. Managers
first, since a head of sales acts on people; departments, then pipelines, when a company's forecast
has no manager rows. A scope present on one of the two days only moved from (or to) nothing.
Only the columns the forecast already writes are read (scope_type, scope_id, scope_name, month,
as_of_day, forecast_rub).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Protocol

import polars as pl
from pydantic import BaseModel

TOP_DRIVERS = 3
# A change under this many rubles is rounding, not news: never a driver.
MIN_CHANGE_RUB = 1_000.0
SCOPE_ORDER = ("manager", "department", "pipeline")


class Queryable(Protocol):
    def query(self, sql: str, params: list | None = None) -> pl.DataFrame: ...

    def table_exists(self, schema: str, table: str) -> bool: ...


class Driver(BaseModel):
    """One scope's forecast change between yesterday's and today's as-of day (rubles, signed)."""

    scope_type: str
    name: str
    change_rub: float


def forecast_drivers(rows: pl.DataFrame, day: date, top: int = TOP_DRIVERS) -> list[Driver]:
    """The `top` scopes of the first kind in SCOPE_ORDER present on `day` whose forecast moved most
    (by absolute change) since the day before, in that order. Empty when either day has no rows, or
    the two days forecast different months (the 1st of a month against the last of the one before)."""
    if rows.is_empty():
        return []
    frame = rows.with_columns(pl.col("as_of_day").cast(pl.Date), pl.col("month").cast(pl.Date))
    today = frame.filter(pl.col("as_of_day") == day)
    yesterday = frame.filter(pl.col("as_of_day") == day - timedelta(days=1))
    if today.is_empty() or yesterday.is_empty():
        return []
    if set(today["month"].to_list()) != set(yesterday["month"].to_list()):
        return []
    for scope_type in SCOPE_ORDER:
        now = today.filter(pl.col("scope_type") == scope_type)
        if now.is_empty():
            continue
        before = yesterday.filter(pl.col("scope_type") == scope_type)
        was = {row["scope_id"]: row for row in before.iter_rows(named=True)}
        is_ = {row["scope_id"]: row for row in now.iter_rows(named=True)}
        drivers = []
        for scope_id in is_.keys() | was.keys():
            row = is_.get(scope_id) or was[scope_id]
            change = float((is_.get(scope_id) or {}).get("forecast_rub") or 0.0) - float(
                (was.get(scope_id) or {}).get("forecast_rub") or 0.0
            )
            if abs(change) >= MIN_CHANGE_RUB:
                name = row.get("scope_name") or f"{scope_type} {scope_id}"
                drivers.append(Driver(scope_type=scope_type, name=str(name), change_rub=change))
        drivers.sort(key=lambda d: (-abs(d.change_rub), d.name))
        return drivers[:top]
    return []


def read_drivers(warehouse: Queryable, day: date, top: int = TOP_DRIVERS) -> list[Driver]:
    """forecast_drivers over ml.forecast_scopes' rows of `day` and the day before (none without the table)."""
    if not warehouse.table_exists("ml", "forecast_scopes"):
        return []
    rows = warehouse.query(
        "select as_of_day, month, scope_type, scope_id, scope_name, forecast_rub from ml.forecast_scopes"
        " where as_of_day in (?, ?)",
        [day, day - timedelta(days=1)],
    )
    return forecast_drivers(rows, day, top)


def compact_rub(amount: float) -> str:
    """A signed change as a phone line reads it: 912345 -> '+0,9 млн ₽', -45300 -> '−45 тыс. ₽', 700 -> '+700 ₽'."""
    sign = "+" if amount >= 0 else "−"
    value = abs(amount)
    if value >= 100_000:
        text = f"{value / 1_000_000:.1f}".replace(".", ",") + " млн ₽"
    elif value >= 1_000:
        text = f"{round(value / 1_000)} тыс. ₽"
    else:
        text = f"{round(value)} ₽"
    return sign + text
