"""Dagster asset for VK Ads daily campaign statistics: raw_vk/campaign_stats."""

from collections.abc import Iterator
from datetime import date
from typing import Any

from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, dlt_assets

from assets.ingest.common import IngestConfig, IngestTranslator, load_format, run_kwargs, run_pipeline, spec_pipeline
from assets.ingest.guard import load_or_report
from assets.ingest.sources import SourceNotConfigured
from assets.ingest.vk.source import vk_source
from resources.vk_ads import VKAds
from resources.warehouse import Warehouse

VK_TRANSLATOR = IngestTranslator(dataset_name="raw_vk", source_tag="vk")


@dlt_assets(
    dlt_source=vk_source(base_url="https://ads.vk.com", token="spec", start_date=date(2000, 1, 1)),
    dlt_pipeline=spec_pipeline("vk", "raw_vk"),
    name="vk_raw",
    dagster_dlt_translator=VK_TRANSLATOR,
    pool="warehouse_writer",
)
def vk_raw(
    context: AssetExecutionContext,
    config: IngestConfig,
    dlt: DagsterDltResource,
    vk_ads: VKAds,
    warehouse: Warehouse,
) -> Iterator[Any]:
    """VK Ads spend, shows, clicks and goals by campaign and day (look-back merge; quarantine for bad values)."""

    def load() -> Iterator[Any]:
        with vk_ads.endpoint() as ep:
            if ep is None:
                raise SourceNotConfigured("vk")
            context.log.info(
                f"VK Ads statistics from {ep.base_url} since {ep.start_date}, look-back {ep.lookback_days} days"
            )
            yield from dlt.run(
                context=context,
                dlt_source=vk_source(
                    base_url=ep.base_url,
                    token=ep.token,
                    currency=ep.currency,
                    start_date=ep.start_date,
                    end_date=ep.end_date,
                    lookback_days=ep.lookback_days,
                ),
                dlt_pipeline=run_pipeline("vk", "raw_vk", warehouse),
                dagster_dlt_translator=VK_TRANSLATOR,
                **run_kwargs(config),
                **load_format(warehouse),
            )

    yield from load_or_report(context, "vk", warehouse, load)
