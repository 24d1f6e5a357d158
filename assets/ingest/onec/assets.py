"""Dagster assets for the 1C export folder: raw_onec/invoices and raw_onec/payments."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, dlt_assets

from assets.ingest.common import IngestConfig, IngestTranslator, load_format, run_kwargs, run_pipeline, spec_pipeline
from assets.ingest.guard import load_or_report
from assets.ingest.onec.source import onec_source
from assets.ingest.sources import SourceNotConfigured
from resources.export_folders import OneCExport
from resources.warehouse import Warehouse

ONEC_TRANSLATOR = IngestTranslator(dataset_name="raw_onec", source_tag="onec")


@dlt_assets(
    dlt_source=onec_source(export_dir="onec"),
    dlt_pipeline=spec_pipeline("onec", "raw_onec"),
    name="onec_raw",
    dagster_dlt_translator=ONEC_TRANSLATOR,
    pool="warehouse_writer",
)
def onec_raw(
    context: AssetExecutionContext,
    config: IngestConfig,
    dlt: DagsterDltResource,
    onec: OneCExport,
    warehouse: Warehouse,
) -> Iterator[Any]:
    """1C invoices and payments from the export folder (new/changed files only; bad rows to raw_onec.quarantine)."""

    def load() -> Iterator[Any]:
        folder = onec.folder()
        if folder is None:
            raise SourceNotConfigured("onec")
        yield from dlt.run(
            context=context,
            dlt_source=onec_source(export_dir=str(folder)),
            dlt_pipeline=run_pipeline("onec", "raw_onec", warehouse),
            dagster_dlt_translator=ONEC_TRANSLATOR,
            **run_kwargs(config),
            **load_format(warehouse),
        )

    yield from load_or_report(context, "onec", warehouse, load)
