"""Ingest stage: dlt loads from Bitrix24, the plan sheet, the CBR, Yandex.Direct, VK Ads, 1C and telephony into raw_* datasets (group `ingest`)."""
from __future__ import annotations

from dagster import Definitions, get_dagster_logger

from resources.settings import load_settings


def build_defs() -> Definitions:
    """All ingest assets; resources (dlt, bitrix24, demo_files, cbr, direct, vk_ads, onec, telephony, warehouse) come from definitions.py."""
    from assets.ingest.bitrix24.assets import bitrix24_raw
    from assets.ingest.cbr.assets import cbr_raw
    from assets.ingest.direct.assets import direct_raw
    from assets.ingest.files.assets import plan_raw
    from assets.ingest.onec.assets import onec_raw
    from assets.ingest.telephony.assets import telephony_raw
    from assets.ingest.vk.assets import vk_raw

    settings = load_settings()
    log = get_dagster_logger("ingest")
    assets: list = [plan_raw, cbr_raw]
    # Direct, VK Ads, 1C and telephony are always in the graph; a run skips an unconfigured one with one log line.
    assets += [direct_raw, vk_raw, onec_raw, telephony_raw]
    # Bitrix24 runs when its webhook is set, or in demo mode (no CRM configured at all). A company on
    # amoCRM or on export files has no Bitrix24: skipped with one line instead of failing every run.
    if settings.bitrix24_webhook_url is not None or settings.demo_mode:
        assets.append(bitrix24_raw)
    else:
        log.info("Bitrix24: skipped (BITRIX24_WEBHOOK_URL is not set; another CRM source is configured)")
    # amoCRM and the CRM export join the graph only when configured (their dbt staging stays empty).
    if settings.amocrm_base_url:
        from assets.ingest.amocrm.assets import amocrm_raw

        assets.append(amocrm_raw)
    if settings.crm_export_dir is not None:
        from assets.ingest.export.assets import export_raw

        assets.append(export_raw)
    return Definitions(assets=assets)
