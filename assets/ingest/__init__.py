"""Ingest stage: dlt loads from Bitrix24 and the plan/CBR files into raw_* datasets (group `ingest`)."""
from __future__ import annotations

from dagster import Definitions


def build_defs() -> Definitions:
    """All ingest assets; resources (dlt, bitrix24, demo_files, warehouse) come from definitions.py."""
    from assets.ingest.bitrix24.assets import bitrix24_raw
    from assets.ingest.files.assets import cbr_raw, plan_raw

    return Definitions(assets=[bitrix24_raw, plan_raw, cbr_raw])
