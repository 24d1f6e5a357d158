"""The one Definitions object: every stage's assets, checks, schedules and sensors, plus resources.

`dagster dev` (workspace.yaml) and the CLI load `defs`; tests call `build_definitions()` after
setting their environment, so nothing about the environment is decided at import time.
"""
from __future__ import annotations

from dagster import Definitions, in_process_executor

from resources.registry import build_resources
from resources.settings import load_settings


def build_definitions() -> Definitions:
    import schedules
    from assets import anomalies, forecast, ingest, insights, report, transform

    settings = load_settings()
    return Definitions.merge(
        ingest.build_defs(),
        transform.build_defs(),
        forecast.build_defs(),
        anomalies.build_defs(),
        insights.build_defs(),
        report.build_defs(),
        schedules.build_defs(),
        # In-process: one DuckDB writer at a time (dlt, dbt and the ML writers share one file).
        Definitions(resources=build_resources(settings), executor=in_process_executor),
    )


defs = build_definitions()
