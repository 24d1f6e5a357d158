"""Production mode: Dagster's run/event storage in PostgreSQL (deploy/production/dagster.yaml) and a
PostgreSQL warehouse, materializing part of the real graph on the local server."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import psycopg2
import pytest
from dagster import AssetKey, DagsterInstance

from resources.warehouse import Warehouse
from tests.support.pg import temporary_database

pytestmark = pytest.mark.slow  # whole graph, browser or PostgreSQL end to end: not in `make test-fast`

ROOT = Path(__file__).resolve().parent.parent
DEMO_TODAY = "2026-03-18"


def test_runs_and_events_land_in_postgres_and_the_warehouse_too(tmp_path, monkeypatch):
    with temporary_database("rop_dagster") as dagster_url, temporary_database("rop_wh") as warehouse_url:
        dagster_db = dagster_url.rsplit("/", 1)[1]
        for name, value in {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": "5432",
            "DAGSTER_PG_USER": "postgres",
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_DB": dagster_db,
            "WAREHOUSE_URL": warehouse_url,
            "DATA_DIR": str(tmp_path / "data"),
            "DEMO_SIZE": "S",
            "DEMO_TODAY": DEMO_TODAY,
        }.items():
            monkeypatch.setenv(name, value)
        from definitions import build_definitions

        defs = build_definitions()
        # The shipped file, unchanged, in a temporary DAGSTER_HOME: compute logs and artifacts land
        # beside dagster.yaml, and must not land in the repository.
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(ROOT / "deploy" / "production" / "dagster.yaml", home / "dagster.yaml")
        instance = DagsterInstance.from_config(str(home))
        try:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
            selection = [AssetKey(["raw_plan", "plan"]), AssetKey(["raw_cbr", "rates"])]
            result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
                instance=instance, asset_selection=selection
            )
            assert result.success
        finally:
            instance.dispose()

        with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=dagster_db) as con:
            cur = con.cursor()
            cur.execute("select status from runs where run_id = %s", (result.run_id,))
            assert cur.fetchone() == ("SUCCESS",)
            cur.execute(
                "select distinct asset_key from event_logs where run_id = %s and "
                "dagster_event_type = 'ASSET_MATERIALIZATION'",
                (result.run_id,),
            )
            keys = {row[0] for row in cur.fetchall()}
        assert keys == {'["raw_plan", "plan"]', '["raw_cbr", "rates"]'}

        world = next((tmp_path / "data" / "demo").iterdir())
        with open(world / "plan.csv", encoding="utf-8") as fh:
            plan_rows = list(csv.DictReader(fh))
        got = Warehouse(url=warehouse_url).query("select count(*) as n, sum(amount_rub) as total from raw_plan.plan")
        assert got["n"][0] == len(plan_rows)
        assert float(got["total"][0]) == pytest.approx(sum(float(r["amount_rub"]) for r in plan_rows))
        # the world ends on DEMO_TODAY: its plan covers that month, in the warehouse as in the file
        month = date.fromisoformat(DEMO_TODAY).strftime("%Y-%m")
        assert any(r["month"] == month for r in plan_rows)
        in_warehouse = Warehouse(url=warehouse_url).query(
            f"select count(*) as n from raw_plan.plan where cast(month as varchar) like '{month}%'"
        )
        assert in_warehouse["n"][0] == sum(r["month"] == month for r in plan_rows) > 0
