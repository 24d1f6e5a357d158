"""What the optional sources (Direct, VK Ads, 1C, telephony) share: assets a run may skip.

A company may use any subset of the sources: an unconfigured one (outside demo mode) logs one line
and materializes nothing, so its asset specs are `skippable`.
"""
from __future__ import annotations

from dataclasses import dataclass

from dagster import AssetSpec
from dagster_dlt.translator import DltResourceTranslatorData

from assets.ingest.common import IngestTranslator


@dataclass
class OptionalSourceTranslator(IngestTranslator):
    """IngestTranslator whose assets may be skipped by a run (unconfigured source)."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        return super().get_asset_spec(data).replace_attributes(skippable=True)
