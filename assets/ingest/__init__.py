"""Ingest stage: dlt loads from the company's sources into raw_* datasets (group `ingest`).

Only the configured sources join the graph (assets/ingest/sources.py decides); each has a
`source_refreshed` check that fails the run when its load failed (assets/ingest/guard.py).
"""

from __future__ import annotations

from dagster import AssetsDefinition, Definitions, get_dagster_logger

from resources.settings import load_settings


def source_assets() -> dict[str, AssetsDefinition]:
    """Every source's assets definition, by source name (imported here: each pulls in its dlt source)."""
    from assets.ingest.amocrm.assets import amocrm_raw
    from assets.ingest.bitrix24.assets import bitrix24_raw
    from assets.ingest.cbr.assets import cbr_raw
    from assets.ingest.direct.assets import direct_raw
    from assets.ingest.export.assets import export_raw
    from assets.ingest.files.assets import plan_raw
    from assets.ingest.onec.assets import onec_raw
    from assets.ingest.telephony.assets import telephony_raw
    from assets.ingest.vk.assets import vk_raw

    return {
        "bitrix24": bitrix24_raw,
        "amocrm": amocrm_raw,
        "export": export_raw,
        "plan": plan_raw,
        "cbr": cbr_raw,
        "direct": direct_raw,
        "vk": vk_raw,
        "onec": onec_raw,
        "telephony": telephony_raw,
    }


def build_defs() -> Definitions:
    """The configured sources' assets and their checks; resources come from definitions.py.

    Besides `source_refreshed` (the last load failed), each source's main table has Dagster's
    freshness check: no good load for SOURCE_STALE_HOURS (the refresh stopped, or the source has failed
    run after run) fails it, and the `source_freshness_checks` sensor evaluates it every few minutes;
    the check-failure sensor tells on-call.
    """
    import warnings
    from datetime import timedelta

    from dagster import (
        DefaultSensorStatus,
        SupersessionWarning,
        build_last_update_freshness_checks,
        build_sensor_for_freshness_checks,
    )

    from assets.ingest.checks import main_table_key, source_refreshed_check
    from assets.ingest.sources import SOURCES, configured_sources

    settings = load_settings()
    present = configured_sources(settings)
    absent = [SOURCES[name] for name in SOURCES if name not in present]
    if absent:
        get_dagster_logger("ingest").info(
            "sources not configured (absent from the graph, their staging stays empty): "
            + ", ".join(f"{s.title} ({s.setting})" for s in absent)
        )
    by_name = source_assets()
    assets = [by_name[name] for name in present]
    checks = [source_refreshed_check(SOURCES[name], by_name[name]) for name in present]
    if not present:
        return Definitions(assets=assets, asset_checks=checks)
    # Dagster marks these factories superseded by FreshnessPolicy, whose verdicts are freshness events,
    # not asset checks; checks go through the same on-call sensor (and streaks) as every other check.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SupersessionWarning)
        freshness = build_last_update_freshness_checks(
            assets=[main_table_key(SOURCES[name], by_name[name]) for name in present],
            lower_bound_delta=timedelta(hours=settings.source_stale_hours),
        )
        sensor = build_sensor_for_freshness_checks(
            freshness_checks=freshness,
            name="source_freshness_checks",
            minimum_interval_seconds=300,
            default_status=DefaultSensorStatus.RUNNING,
        )
    return Definitions(assets=assets, asset_checks=[*checks, *freshness], sensors=[sensor])
