"""Schedules and sensors: the 15-minute refresh, the 06:00 forecast, the 09:00 digest, alerts."""
from __future__ import annotations

import os

from dagster import Definitions


def company_timezone() -> str:
    """COMPANY_TIMEZONE (default Europe/Moscow), read when the definitions load."""
    return os.environ.get("COMPANY_TIMEZONE", "").strip() or "Europe/Moscow"


def build_defs() -> Definitions:
    """Jobs, schedules and sensors (resources `warehouse` and `telegram` come from definitions.py)."""
    from schedules.jobs import incremental_refresh_job, morning_digest_job, morning_forecast_job
    from schedules.schedules import build_schedules
    from schedules.sensors import build_sensors

    tz = company_timezone()
    return Definitions(
        jobs=[incremental_refresh_job, morning_forecast_job, morning_digest_job],
        schedules=build_schedules(tz),
        sensors=build_sensors(tz),
    )
