"""Dagster asset for the CBR rates (dlt source over XML_daily.asp): raw_cbr/rates."""

from collections.abc import Iterator
from datetime import date
from typing import Any

from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, dlt_assets

from assets.ingest.cbr.source import cbr_source
from assets.ingest.common import IngestConfig, IngestTranslator, load_format, run_kwargs, run_pipeline, spec_pipeline
from assets.ingest.guard import load_or_report
from resources.cbr import CBRRates
from resources.warehouse import Warehouse

CBR_TRANSLATOR = IngestTranslator(dataset_name="raw_cbr", source_tag="cbr")


@dlt_assets(
    dlt_source=cbr_source(base_url="https://www.cbr.ru", start_date=date(2000, 1, 1)),
    dlt_pipeline=spec_pipeline("cbr", "raw_cbr"),
    name="cbr_raw",
    dagster_dlt_translator=CBR_TRANSLATOR,
    pool="warehouse_writer",
)
def cbr_raw(
    context: AssetExecutionContext,
    config: IngestConfig,
    dlt: DagsterDltResource,
    cbr: CBRRates,
    warehouse: Warehouse,
) -> Iterator[Any]:
    """CBR daily rates (XML_daily), merged on date + char_code; malformed values go to raw_cbr.quarantine."""

    def load() -> Iterator[Any]:
        with cbr.endpoint() as ep:
            context.log.info(
                f"CBR rates from the file {ep.rates_file}"
                if ep.rates_file
                else f"CBR rates from {ep.base_url.split('?')[0]} since {ep.start_date} (incremental)"
            )
            yield from dlt.run(
                context=context,
                dlt_source=cbr_source(
                    base_url=ep.base_url, start_date=ep.start_date, end_date=ep.end_date, rates_file=ep.rates_file
                ),
                dlt_pipeline=run_pipeline("cbr", "raw_cbr", warehouse),
                dagster_dlt_translator=CBR_TRANSLATOR,
                **run_kwargs(config),
                **load_format(warehouse),
            )

    yield from load_or_report(context, "cbr", warehouse, load)
