"""Dagster asset for the plan sheet (dlt source over a CSV or XLSX file); CBR rates: assets/ingest/cbr/."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, dlt_assets

from assets.ingest.common import IngestConfig, IngestTranslator, load_format, run_kwargs, run_pipeline, spec_pipeline
from assets.ingest.files.source import plan_source
from assets.ingest.guard import load_or_report
from resources.source_files import PlanSheet
from resources.warehouse import Warehouse

PLAN_TRANSLATOR = IngestTranslator(dataset_name="raw_plan", source_tag="plan")


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
    plan_sheet: PlanSheet,
    warehouse: Warehouse,
) -> Iterator[Any]:
    """The sales plan sheet (CSV or XLSX, a Google Sheet export), replaced whole on every run."""

    def load() -> Iterator[Any]:
        yield from dlt.run(
            context=context,
            dlt_source=plan_source(plan_file=str(plan_sheet.plan_path())),
            dlt_pipeline=run_pipeline("plan", "raw_plan", warehouse),
            dagster_dlt_translator=PLAN_TRANSLATOR,
            **run_kwargs(config),
            **load_format(warehouse),
        )

    yield from load_or_report(context, "plan", warehouse, load)
