"""dbt staging of the amoCRM and CRM-export raw tables: loaded (S world through the demo amoCRM portal,
Maven CRM through the export source) and absent (a warehouse where neither is configured), on DuckDB
and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import dlt
import pytest

from assets.ingest.amocrm.source import amocrm_source
from assets.ingest.export.source import crm_export_source
from demo.amocrm_portal import DEFAULT_TOKEN, AmoCRMPortal
from demo.world import generate
from resources.crm_export import SHIPPED_MAPPINGS
from resources.warehouse import Warehouse
from tests.support import datasets as ds
from tests.support.datasets import datasets_dir, require_datasets
from tests.support.dbt import dbt
from tests.support.pg import temporary_database

ROOT = Path(__file__).resolve().parent.parent
# the public datasets: the DATASETS_DIR setting (default ../shared/datasets/ beside the project)
MAVEN = datasets_dir() / ds.MAVEN
pytestmark = pytest.mark.datasets  # every test here loads Maven CRM
SELECT = ["path:models/staging/amocrm", "path:models/staging/export"]


def _dbt_build(wh: Warehouse, tmp_path: Path) -> None:
    proc = dbt(wh, tmp_path, "build", "--select", *SELECT, timezone=None, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]


def _load(wh: Warehouse, tmp_path: Path, world) -> None:
    with AmoCRMPortal(world=world, rate_limit=None) as url:
        dlt.pipeline(
            pipeline_name="amo",
            destination=wh.dlt_destination(),
            dataset_name="raw_amocrm",
            pipelines_dir=str(tmp_path / "dlt"),
        ).run(amocrm_source(base_url=url, access_token=DEFAULT_TOKEN, max_rps=200))
    dlt.pipeline(
        pipeline_name="export",
        destination=wh.dlt_destination(),
        dataset_name="raw_export",
        pipelines_dir=str(tmp_path / "dlt"),
    ).run(crm_export_source(export_dir=str(MAVEN), mapping_file=str(SHIPPED_MAPPINGS / "maven_crm.yaml")))


@pytest.fixture(scope="module")
def world():
    require_datasets(ds.MAVEN)
    return generate("S", date(2025, 6, 15), 7)


def _check(wh: Warehouse, world) -> None:
    won = [d for d in world.deals if d["STAGE_SEMANTIC_ID"] == "S"]
    n, total = wh.query("select count(*), sum(amount) from staging.stg_amocrm__leads where status = 'won'").rows()[0]
    assert (n, total) == (len(won), sum(int(float(d["OPPORTUNITY"])) for d in won))
    # Unix seconds became the same instants Bitrix24 stamped with +03:00.
    first = min(won, key=lambda d: int(d["ID"]))
    from datetime import datetime

    created = wh.query(f"select created_at from staging.stg_amocrm__leads where lead_id = {first['ID']}").rows()[0][0]
    assert created == datetime.fromisoformat(first["DATE_CREATE"])
    with (MAVEN / "sales_pipeline.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["deal_stage"] == "Won"]
    assert wh.query("select count(*), sum(amount) from staging.stg_export__deals where status = 'won'").rows()[0] == (
        len(rows),
        sum(Decimal(r["close_value"]) for r in rows),
    )
    assert wh.query("select count(*) from staging.stg_export__leads").rows()[0][0] == 0  # Maven has no leads


def test_staging_on_duckdb_loaded_and_absent(world, tmp_path):
    empty = Warehouse(url=f"duckdb:///{tmp_path / 'empty.duckdb'}")
    _dbt_build(empty, tmp_path)
    assert empty.query("select count(*) from staging.stg_amocrm__leads").rows()[0][0] == 0
    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    _load(wh, tmp_path, world)
    _dbt_build(wh, tmp_path)
    _check(wh, world)


def test_staging_on_postgresql(world, tmp_path):
    with temporary_database("rop_amo_export") as url:
        wh = Warehouse(url=url)
        _load(wh, tmp_path, world)
        _dbt_build(wh, tmp_path)
        _check(wh, world)
