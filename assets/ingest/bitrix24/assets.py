"""Dagster assets for the Bitrix24 dlt source: one asset per raw table, one run loads them together."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, dlt_assets

from assets.ingest.bitrix24.source import bitrix24_source
from assets.ingest.common import IngestConfig, IngestTranslator, load_format, run_kwargs, run_pipeline, spec_pipeline
from assets.ingest.guard import load_or_report
from resources.bitrix24 import Bitrix24Portal
from resources.settings import load_settings
from resources.warehouse import Warehouse

PIPELINE_NAME = "bitrix24"
DATASET = "raw_bitrix24"
TRANSLATOR = IngestTranslator(dataset_name=DATASET, source_tag="bitrix24")


@dlt_assets(
    # Definition-time source: only its resource names matter; the run builds one with the real URL.
    dlt_source=bitrix24_source(webhook_url="http://bitrix24.invalid/rest/0/placeholder/"),
    dlt_pipeline=spec_pipeline(PIPELINE_NAME, DATASET),
    name="bitrix24_raw",
    dagster_dlt_translator=TRANSLATOR,
    pool="warehouse_writer",
)
def bitrix24_raw(
    context: AssetExecutionContext,
    config: IngestConfig,
    dlt: DagsterDltResource,
    bitrix24: Bitrix24Portal,
    warehouse: Warehouse,
) -> Iterator[Any]:
    """Incremental load of the CRM (deals, leads, activities, companies, stage history, calls, tasks)
    and a full refresh of users, departments, pipelines, stages."""
    overlap = load_settings().ingest_cursor_overlap_seconds  # INGEST_CURSOR_OVERLAP_SECONDS

    def load() -> Iterator[Any]:
        with bitrix24.webhook() as url:
            yield from dlt.run(
                context=context,
                dlt_source=bitrix24_source(
                    webhook_url=url, phone_hash_salt=bitrix24.phone_salt(), cursor_overlap_seconds=overlap
                ),
                dlt_pipeline=run_pipeline(PIPELINE_NAME, DATASET, warehouse),
                dagster_dlt_translator=TRANSLATOR,
                **run_kwargs(config),
                **load_format(warehouse),
            )

    yield from load_or_report(context, "bitrix24", warehouse, load)
