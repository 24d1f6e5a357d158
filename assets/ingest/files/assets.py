"""Dagster assets for the plan sheet and the CBR rates (dlt sources over CSV files)."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, dlt_assets

from assets.ingest.common import IngestConfig, IngestTranslator, run_kwargs, run_pipeline, spec_pipeline
from assets.ingest.files.source import cbr_source, plan_source
from resources.source_files import SourceFiles
from resources.warehouse import Warehouse

PLAN_TRANSLATOR = IngestTranslator(dataset_name="raw_plan", source_tag="plan")
CBR_TRANSLATOR = IngestTranslator(dataset_name="raw_cbr", source_tag="cbr")


@dlt_assets(
    dlt_source=plan_source(plan_file="plan.csv"),
    dlt_pipeline=spec_pipeline("plan", "raw_plan"),
    name="plan_raw",
    dagster_dlt_translator=PLAN_TRANSLATOR,
    pool="warehouse_writer",
)
def plan_raw(
    context: AssetExecutionContext,
    config: IngestConfig,
    dlt: DagsterDltResource,
    demo_files: SourceFiles,
    warehouse: Warehouse,
) -> Iterator[Any]:
    """The sales plan sheet, replaced whole on every run."""
    yield from dlt.run(
        context=context,
        dlt_source=plan_source(plan_file=str(demo_files.plan_path())),
        dlt_pipeline=run_pipeline("plan", "raw_plan", warehouse),
        dagster_dlt_translator=PLAN_TRANSLATOR,
        **run_kwargs(config),
    )


@dlt_assets(
    dlt_source=cbr_source(rates_file="cbr_rates.csv"),
    dlt_pipeline=spec_pipeline("cbr", "raw_cbr"),
    name="cbr_raw",
    dagster_dlt_translator=CBR_TRANSLATOR,
    pool="warehouse_writer",
)
def cbr_raw(
    context: AssetExecutionContext,
    config: IngestConfig,
    dlt: DagsterDltResource,
    demo_files: SourceFiles,
    warehouse: Warehouse,
) -> Iterator[Any]:
    """CBR daily rates, merged on date + char_code."""
    yield from dlt.run(
        context=context,
        dlt_source=cbr_source(rates_file=str(demo_files.cbr_rates_path())),
        dlt_pipeline=run_pipeline("cbr", "raw_cbr", warehouse),
        dagster_dlt_translator=CBR_TRANSLATOR,
        **run_kwargs(config),
    )
