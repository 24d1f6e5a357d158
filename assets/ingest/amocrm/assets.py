"""Dagster assets for the amoCRM dlt source: one asset per raw_amocrm table, one run loads them together."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, dlt_assets

from assets.ingest.amocrm.source import amocrm_source
from assets.ingest.common import IngestConfig, IngestTranslator, load_format, run_kwargs, run_pipeline, spec_pipeline
from assets.ingest.guard import load_or_report
from resources.amocrm import AmoCRMAccount
from resources.settings import load_settings
from resources.warehouse import Warehouse

PIPELINE_NAME = "amocrm"
DATASET = "raw_amocrm"
TRANSLATOR = IngestTranslator(dataset_name=DATASET, source_tag="amocrm")


@dlt_assets(
    # Definition-time source: only its resource names matter; the run builds one with the real account.
    dlt_source=amocrm_source(base_url="https://amocrm.invalid", access_token="placeholder"),
    dlt_pipeline=spec_pipeline(PIPELINE_NAME, DATASET),
    name="amocrm_raw",
    dagster_dlt_translator=TRANSLATOR,
    pool="warehouse_writer",
)
def amocrm_raw(
    context: AssetExecutionContext,
    config: IngestConfig,
    dlt: DagsterDltResource,
    amocrm: AmoCRMAccount,
    warehouse: Warehouse,
) -> Iterator[Any]:
    """Incremental load of leads/events/notes/tasks/companies and a full refresh of the small dimensions."""
    overlap = load_settings().ingest_cursor_overlap_seconds  # INGEST_CURSOR_OVERLAP_SECONDS

    def load() -> Iterator[Any]:
        base_url, token = amocrm.credentials()
        context.log.info(f"amoCRM: {base_url}")
        yield from dlt.run(
            context=context,
            dlt_source=amocrm_source(base_url=base_url, access_token=token, cursor_overlap_seconds=overlap),
            dlt_pipeline=run_pipeline(PIPELINE_NAME, DATASET, warehouse),
            dagster_dlt_translator=TRANSLATOR,
            **run_kwargs(config),
            **load_format(warehouse),
        )

    yield from load_or_report(context, "amocrm", warehouse, load)
