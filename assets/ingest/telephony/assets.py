"""Dagster asset for the telephony export folder: raw_telephony/calls."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, dlt_assets

from assets.ingest.common import IngestConfig, IngestTranslator, load_format, run_kwargs, run_pipeline, spec_pipeline
from assets.ingest.guard import load_or_report
from assets.ingest.sources import SourceNotConfigured
from assets.ingest.telephony.source import telephony_source
from resources.export_folders import TelephonyExport
from resources.settings import load_settings
from resources.warehouse import Warehouse

TELEPHONY_TRANSLATOR = IngestTranslator(dataset_name="raw_telephony", source_tag="telephony")


@dlt_assets(
    dlt_source=telephony_source(export_dir="telephony", phone_hash_salt="spec"),
    dlt_pipeline=spec_pipeline("telephony", "raw_telephony"),
    name="telephony_raw",
    dagster_dlt_translator=TELEPHONY_TRANSLATOR,
    pool="warehouse_writer",
)
def telephony_raw(
    context: AssetExecutionContext,
    config: IngestConfig,
    dlt: DagsterDltResource,
    telephony: TelephonyExport,
    warehouse: Warehouse,
) -> Iterator[Any]:
    """Calls from the telephony export folder, client phones hashed on arrival (bad rows to raw_telephony.quarantine)."""

    def load() -> Iterator[Any]:
        folder = telephony.folder()
        if folder is None:
            raise SourceNotConfigured("telephony")
        yield from dlt.run(
            context=context,
            dlt_source=telephony_source(
                export_dir=str(folder),
                phone_hash_salt=telephony.salt(),
                company_timezone=load_settings().company_timezone,
            ),
            dlt_pipeline=run_pipeline("telephony", "raw_telephony", warehouse),
            dagster_dlt_translator=TELEPHONY_TRANSLATOR,
            **run_kwargs(config),
            **load_format(warehouse),
        )

    yield from load_or_report(context, "telephony", warehouse, load)
