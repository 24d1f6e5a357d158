"""Dagster asset for Yandex.Direct daily campaign statistics: raw_direct/campaign_stats."""

from collections.abc import Iterator
from datetime import date
from typing import Any

from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, dlt_assets

from assets.ingest.common import IngestConfig, IngestTranslator, load_format, run_kwargs, run_pipeline, spec_pipeline
from assets.ingest.direct.source import direct_source
from assets.ingest.guard import load_or_report
from assets.ingest.sources import SourceNotConfigured
from resources.direct import YandexDirect
from resources.warehouse import Warehouse

DIRECT_TRANSLATOR = IngestTranslator(dataset_name="raw_direct", source_tag="direct")


@dlt_assets(
    dlt_source=direct_source(base_url="https://api.direct.yandex.com", token="spec", start_date=date(2000, 1, 1)),
    dlt_pipeline=spec_pipeline("direct", "raw_direct"),
    name="direct_raw",
    dagster_dlt_translator=DIRECT_TRANSLATOR,
    pool="warehouse_writer",
)
def direct_raw(
    context: AssetExecutionContext,
    config: IngestConfig,
    dlt: DagsterDltResource,
    direct: YandexDirect,
    warehouse: Warehouse,
) -> Iterator[Any]:
    """Yandex.Direct spend, impressions and clicks by campaign and day (look-back merge; quarantine for bad lines)."""

    def load() -> Iterator[Any]:
        with direct.endpoint() as ep:
            if ep is None:
                raise SourceNotConfigured("direct")
            context.log.info(
                f"Yandex.Direct statistics from {ep.base_url} for login {ep.client_login or '(own)'} "
                f"since {ep.start_date}, look-back {ep.lookback_days} days"
            )
            yield from dlt.run(
                context=context,
                dlt_source=direct_source(
                    base_url=ep.base_url,
                    token=ep.token,
                    client_login=ep.client_login,
                    start_date=ep.start_date,
                    end_date=ep.end_date,
                    lookback_days=ep.lookback_days,
                ),
                dlt_pipeline=run_pipeline("direct", "raw_direct", warehouse),
                dagster_dlt_translator=DIRECT_TRANSLATOR,
                **run_kwargs(config),
                **load_format(warehouse),
            )

    yield from load_or_report(context, "direct", warehouse, load)
