"""What every ingest asset shares: asset keys from dlt resources, the run config, the pipeline factory.

Asset keys are ["<dataset>", "<table>"] (e.g. ["raw_bitrix24", "deals"]) so dbt sources pointing at
the same keys join the lineage into one graph. The dlt pipeline is built at run time from the
`warehouse` resource, with its working folder under DATA_DIR (tests in temp dirs stay isolated).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

import dlt
from dagster import AssetKey, AssetSpec, Config
from dagster_dlt import DagsterDltTranslator
from dagster_dlt.translator import DltResourceTranslatorData
from pydantic import Field

from resources.settings import load_settings
from resources.warehouse import Warehouse

INGEST_GROUP = "ingest"


class IngestConfig(Config):
    """Run config of every ingest asset."""

    full_refresh: bool = Field(
        default=False,
        description="Drop the selected tables and their incremental cursors, then reload everything from the source.",
    )


@dataclass
class IngestTranslator(DagsterDltTranslator):
    """Keys ["<dataset>", "<table>"], group `ingest`, tag source=<system>, no phantom upstream keys."""

    dataset_name: str = ""
    source_tag: str = ""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        resource = data.resource
        table = resource.table_name if isinstance(resource.table_name, str) else resource.name
        default = super().get_asset_spec(data)
        return AssetSpec(
            key=AssetKey([self.dataset_name, table]),
            description=default.description or _resource_doc(resource),
            group_name=INGEST_GROUP,
            tags={"source": self.source_tag},
            kinds={"dlt"},
            metadata={"dagster/table_name": f"{self.dataset_name}.{table}"},
        )


def _resource_doc(resource: Any) -> str | None:
    """Docstring of the resource's generator (dlt hides it behind the incremental step)."""
    gen = getattr(getattr(resource, "_pipe", None), "gen", None)
    return getattr(gen, "__doc__", None) if callable(gen) else None


@functools.cache
def _spec_dir() -> str:
    """This process's own temp folder for the spec pipelines, removed when it exits. A folder shared by
    every process raced: processes importing the definitions at once (test workers, a code server and a
    benchmark) each write the spec pipeline's state.json there, and one could lose its file to another
    (FileNotFoundError at import)."""
    folder = tempfile.mkdtemp(prefix="rop_dlt_asset_specs_")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def spec_pipeline(pipeline_name: str, dataset_name: str) -> dlt.Pipeline:
    """The pipeline handed to @dlt_assets at definition time: only its name and dataset are used.

    Kept in a temp folder so importing the definitions writes nothing into the project; the run
    builds the real pipeline with `run_pipeline` (destination from the warehouse resource).
    """
    return dlt.pipeline(
        pipeline_name=f"{pipeline_name}_spec",
        dataset_name=dataset_name,
        destination="duckdb",
        pipelines_dir=_spec_dir(),
    )


def run_pipeline(pipeline_name: str, dataset_name: str, warehouse: Warehouse) -> dlt.Pipeline:
    """The pipeline a run loads with: the warehouse's destination, state under DATA_DIR/dlt_pipelines.

    A real company's pipelines keep their state (incremental cursors) in a folder of their own per
    warehouse: the demo world's cursors, or another warehouse's, must never decide what is read next.
    """
    settings = load_settings()
    folder = settings.data_dir / "dlt_pipelines"
    if not settings.demo_mode:
        folder = folder / f"company-{hashlib.sha256(warehouse.url.encode()).hexdigest()[:12]}"
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=warehouse.dlt_destination(),
        dataset_name=dataset_name,
        pipelines_dir=str(folder),
    )


def run_kwargs(config: IngestConfig) -> dict[str, Any]:
    """Extra arguments of pipeline.run: a full refresh drops the selected resources' tables and state."""
    return {"refresh": "drop_resources"} if config.full_refresh else {}


def load_format(warehouse: Warehouse) -> dict[str, Any]:
    """JSONL into DuckDB: dlt's default there (INSERT statements) takes minutes for the M world's
    half a million Bitrix24 rows and 18 s for a 23,000-row CRM export, JSONL seconds and under one.
    PostgreSQL keeps its default."""
    return {"loader_file_format": "jsonl"} if warehouse.kind == "duckdb" else {}
