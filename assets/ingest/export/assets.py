"""Dagster assets for the CRM-export source: one asset per raw_export table, one run loads them together."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, dlt_assets

from assets.ingest.common import IngestConfig, IngestTranslator, load_format, run_kwargs, run_pipeline, spec_pipeline
from assets.ingest.export.source import crm_export_source
from assets.ingest.guard import load_or_report
from resources.crm_export import CrmExport
from resources.settings import load_settings
from resources.warehouse import Warehouse

PIPELINE_NAME = "crm_export"
DATASET = "raw_export"
TRANSLATOR = IngestTranslator(dataset_name=DATASET, source_tag="export")


@dlt_assets(
    dlt_source=crm_export_source(export_dir=".", mapping_file="mapping.yaml"),
    dlt_pipeline=spec_pipeline(PIPELINE_NAME, DATASET),
    name="export_raw",
    dagster_dlt_translator=TRANSLATOR,
    pool="warehouse_writer",
)
def export_raw(
    context: AssetExecutionContext,
    config: IngestConfig,
    dlt: DagsterDltResource,
    crm_export: CrmExport,
    warehouse: Warehouse,
) -> Iterator[Any]:
    """CRM export files mapped to canonical deals/leads/activities/managers; unreadable rows to quarantine."""

    def load() -> Iterator[Any]:
        export_dir, mapping = crm_export.paths()
        context.log.info(f"CRM export: {export_dir} with mapping {mapping.name}")
        yield from dlt.run(
            context=context,
            dlt_source=crm_export_source(
                export_dir=str(export_dir), mapping_file=str(mapping), company_timezone=load_settings().company_timezone
            ),
            dlt_pipeline=run_pipeline(PIPELINE_NAME, DATASET, warehouse),
            dagster_dlt_translator=TRANSLATOR,
            **run_kwargs(config),
            **load_format(warehouse),
        )

    yield from load_or_report(context, "export", warehouse, load)
