"""The two worlds the forecast is measured on, built into DuckDB files the way the product builds them.

- M: the demo world (seed 42) written straight into raw_bitrix24 with dlt's names (as
  benchmarks/dbt_build.py does, plus the deals' stage history), then the dbt models the forecast reads.
- Superstore: Tableau's public orders (../shared/datasets) loaded through the CRM-export source
  (crm_export_source + the shipped `superstore` mapping, the path `make load-dataset` takes), then the
  same dbt models with COMPANY_CRM=export. The orders are in dollars and the closed network has no CBR:
  one USD rate of 1 ruble is written, so "rubles" are dollars here (MAPE does not care about the unit).

A built file is kept in the cache folder and reused (`--rebuild` to build again).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from benchmarks.dbt_build import run_dbt
from demo.world.sizes import Size

# what the forecast reads, with everything upstream of it
DBT_SELECT = ["+mart_revenue_daily", "+stage_history", "+lead", "+mart_plan_fact"]


@dataclass(frozen=True)
class WorldData:
    """What the forecast reads from the warehouse, for one world."""

    name: str
    revenue: pl.DataFrame  # day, revenue_rub (company)
    deals: pl.DataFrame  # deal_id, pipeline_id, created_day, closed_day, is_won, amount_rub
    stages: pl.DataFrame  # deal_id, stage_id, entered_day (empty when the CRM keeps no history)
    leads: pl.DataFrame  # day, leads


def _dbt_run(duckdb_path: Path, target: Path, crm: str, select: list[str] = DBT_SELECT) -> None:
    env = {
        **os.environ,
        "DBT_TARGET": "duckdb",
        "DUCKDB_PATH": str(duckdb_path),
        "COMPANY_TIMEZONE": "Europe/Moscow",
        "COMPANY_CRM": crm,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    run_dbt("run", env, target, "--select", *select)


def build_world(cache: Path, today: date, select: list[str] = DBT_SELECT, size: Size = "M") -> Path:
    """The demo world of `size` (24 months through `today`; M unless said) into a DuckDB file, marts
    built (`select`: which)."""
    import duckdb

    from benchmarks.dbt_build import _write_table, load_direct
    from demo.world import generate

    path = cache / f"{size.lower()}_{today.isoformat()}.duckdb"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    load_direct(size, today.isoformat(), tmp)
    world = generate(size, today, 42)
    con = duckdb.connect(str(tmp))
    try:
        _write_table(con, "raw_bitrix24.stage_history_deals", world.stage_history_deals, "1700000000.000000")
    finally:
        con.close()
    _dbt_run(tmp, cache / f"target_{size.lower()}", "bitrix24", select)
    tmp.rename(path)
    return path


def build_superstore(cache: Path, datasets: Path) -> Path:
    """Superstore orders through the CRM-export source into a DuckDB file, marts built."""
    import dlt
    import duckdb

    from resources.crm_export import SHIPPED_MAPPINGS
    from resources.warehouse import Warehouse

    path = cache / "superstore.duckdb"
    if path.exists():
        return path
    export_dir = datasets / "tableau_sample_superstore"
    if not export_dir.is_dir():
        raise SystemExit(f"no {export_dir}: the public datasets folder is absent (set DATASETS_DIR)")
    tmp = path.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    from assets.ingest.export.source import crm_export_source

    warehouse = Warehouse(url=f"duckdb:///{tmp}")
    pipeline = dlt.pipeline(
        pipeline_name="bench_superstore",
        destination=warehouse.dlt_destination(),
        dataset_name="raw_export",
        pipelines_dir=str(cache / "dlt"),
    )
    pipeline.run(crm_export_source(export_dir=str(export_dir), mapping_file=str(SHIPPED_MAPPINGS / "superstore.yaml")))
    con = duckdb.connect(str(tmp))
    try:
        con.execute("create schema if not exists raw_cbr")
        con.execute(
            "create or replace table raw_cbr.rates as "
            "select '2000-01-01' as date, 'USD' as char_code, '1' as nominal, '1' as value"
        )
    finally:
        con.close()
    _dbt_run(tmp, cache / "target_superstore", "export")
    tmp.rename(path)
    return path


def read_world(name: str, path: Path) -> WorldData:
    """The forecast's inputs from a built warehouse file."""
    from resources.warehouse import Warehouse

    warehouse = Warehouse(url=f"duckdb:///{path}")
    revenue = warehouse.query(
        "select day, sum(won_rub) as revenue_rub from marts.mart_revenue_daily group by day order by day"
    )
    deals = warehouse.query(
        "select deal_id, pipeline_id, created_day, closed_day, is_won, cast(amount_rub as double) as amount_rub "
        "from intermediate.deal"
    )
    stages = warehouse.query(
        "select deal_id, stage_id, entered_day from intermediate.stage_history where stage_semantic = 'open'"
    )
    leads = warehouse.query("select created_day as day, count(*) as leads from intermediate.lead group by 1 order by 1")
    return WorldData(name=name, revenue=revenue, deals=deals, stages=stages, leads=leads)
