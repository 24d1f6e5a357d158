"""Schedules and sensors: the 15-minute refresh, the 06:00 forecast, the 09:00 digest, alerts."""

from __future__ import annotations

from dagster import Definitions

from resources.settings import load_settings


def build_defs() -> Definitions:
    """Jobs, schedules and sensors (resources `warehouse` and `telegram` come from definitions.py)."""
    from schedules.jobs import incremental_refresh_job, morning_digest_job, morning_forecast_job
    from schedules.schedules import build_schedules
    from schedules.sensors import build_sensors

    tz = load_settings().company_timezone  # read when the definitions load, not at import
    return Definitions(
        jobs=[incremental_refresh_job, morning_forecast_job, morning_digest_job],
        schedules=build_schedules(tz),
        sensors=build_sensors(tz),
    )
