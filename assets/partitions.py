"""The one partitioning of the ML stage: the as-of business day (forecast, anomalies, insights share it).

Backfilling a range of these partitions replays history day by day, which is the forecast's backtest.
"""
from __future__ import annotations

import os

from dagster import DailyPartitionsDefinition

# History earlier than this is only used as training data, never as an as-of day.
AS_OF_START = "2024-01-01"

as_of_days = DailyPartitionsDefinition(
    start_date=AS_OF_START,
    # end_offset=1: today's partition exists, so the 06:00 forecast is "as of today so far".
    end_offset=1,
    timezone=os.environ.get("COMPANY_TIMEZONE") or "Europe/Moscow",
)
