"""Shared by tests/test_real_company_*.py: the whole graph as a real company runs it: only some sources, no demo world, one source failing.

Each configuration is one run of every asset (the implicit global asset job: `--select '*'`) for
today's partition, with only that configuration's settings in the environment:
- amoCRM only (the demo amoCRM portal as the company's account; CBR off);
- the Maven CRM export folder only (real public data, in dollars; the rates from a rates file);
- Bitrix24 only (the demo portal stands in for the company's own Bitrix24; no plan sheet) with the
  CBR address unreachable (CBR on, as by default outside demo mode).
Each must end with marts, the forecast and a built site, hold no demo-world row, and, for the last,
be reported failed for the CBR alone. (Each whole run costs minutes of the test suite, so one run
checks all a configuration shows.) Expected figures come from the portals' own records and the
CSV file, summed here with plain Python.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dagster import instance_for_test

TODAY = date(2026, 3, 18)
SEED = 7
SOURCE_VARS = (
    "BITRIX24_WEBHOOK_URL",
    "AMOCRM_BASE_URL",
    "AMOCRM_ACCESS_TOKEN",
    "CRM_EXPORT_DIR",
    "CRM_EXPORT_MAPPING",
    "PLAN_FILE",
    "CBR_API_URL",
    "DIRECT_TOKEN",
    "DIRECT_CLIENT_LOGIN",
    "VK_ADS_TOKEN",
    "ONEC_EXPORT_DIR",
    "TELEPHONY_EXPORT_DIR",
    "PHONE_HASH_SALT",
    "WAREHOUSE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_CHAT_ID",
    "TELEGRAM_ONCALL_CHAT_ID",
    "COMPANY_CRM",
    "DEMO_SIZE",
    "CBR_RATES_FILE",
)
USD_RUB = Decimal("60.5")
DEMO_ONLY_SCHEMAS = {"raw_plan", "raw_direct", "raw_vk", "raw_onec", "raw_telephony"}


@dataclass
class Run:
    result: Any
    tmp: Path
    oncall: list[Any] | None = None

    @property
    def warehouse(self) -> Any:
        from resources.warehouse import Warehouse

        return Warehouse(url=f"duckdb:///{self.tmp / 'data' / 'warehouse.duckdb'}")

    def failed_steps(self) -> list[str]:
        return sorted(e.step_key for e in self.result.all_events if e.is_step_failure)

    def materialized(self) -> set[str]:
        return {e.asset_key.to_user_string() for e in self.result.get_asset_materialization_events()}

    def schemas(self) -> set[str]:
        frame = self.warehouse.query("select distinct table_schema as s from information_schema.tables")
        return set(frame["s"].to_list())

    def one(self, sql: str) -> dict[str, Any]:
        return self.warehouse.query(sql).row(0, named=True)


def whole_run(tmp: Path, env: dict[str, str], after: Any = None) -> Run:
    """Every asset (and check) of the definitions built from `env`, for TODAY's partition; then
    `after(defs, instance)`, while the instance and settings still hold."""
    (tmp / "home").mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp, instance_for_test(temp_dir=str(tmp / "home")) as instance:
        for name in SOURCE_VARS:
            mp.delenv(name, raising=False)
        mp.setenv("DATA_DIR", str(tmp / "data"))
        mp.setenv("DEMO_TODAY", TODAY.isoformat())
        for name, value in env.items():
            mp.setenv(name, value)
        from definitions import build_definitions

        defs = build_definitions()
        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(instance=instance, partition_key=TODAY.isoformat(), raise_on_error=False)
        if after is not None:
            after(defs, instance)
    return Run(result, tmp)


def assert_whole_graph_built(run: Run, crm_table: str) -> None:
    done = run.materialized()
    for key in (
        crm_table,
        "mart_plan_fact",
        "mart_revenue_daily",
        "mart_deals",
        "forecast_month_end",
        "manager_anomalies",
        "insights",
        "report_site",
    ):
        assert key in done, f"{key} was not materialized (failed steps: {run.failed_steps()})"
    assert (run.tmp / "data" / "site" / "index.html").is_file()
    forecast = run.one(f"select count(*) as n from ml.forecast_month_end where as_of_day = date '{TODAY}'")
    assert forecast["n"] >= 1


def assert_no_demo_world(run: Run, crm_schema: str, cbr: bool = False) -> None:
    """Only the company's own sources reached the warehouse: no plan, ads, 1C or telephony of the demo world."""
    schemas = run.schemas()
    raw = {s for s in schemas if s.startswith("raw_") and not s.endswith("_staging")}  # dlt's merge staging
    assert raw <= {crm_schema, "raw_cbr"} if cbr else raw == {crm_schema}, raw
    assert not {s.removesuffix("_staging") for s in schemas} & DEMO_ONLY_SCHEMAS
    for model in (
        "stg_plan__plan",
        "stg_direct__campaign_stats",
        "stg_vk__campaign_stats",
        "stg_onec__payments",
        "stg_telephony__calls",
    ):
        assert run.one(f"select count(*) as n from staging.{model}")["n"] == 0, model
    assert not (run.tmp / "data" / "demo").exists(), "the demo world was generated for a real company"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from demo.world import ensure_world

    return ensure_world(tmp_path_factory.mktemp("world") / "S", "S", TODAY, SEED)


def assert_revenue_is_the_portals_won_rubles(run: Run, portal: Any) -> None:
    """Revenue equals the portal's won deals in rubles (the only ones with a ruble value without CBR rates)."""
    won = [d for d in portal.records("deals") if d["STAGE_SEMANTIC_ID"] == "S" and d.get("CURRENCY_ID") == "RUB"]
    rub = sum((Decimal(str(d["OPPORTUNITY"])) for d in won), Decimal(0))
    got = run.one("select sum(won_count) as n, sum(won_rub) as rub from marts.mart_revenue_daily")
    assert got["n"] >= len(won)
    assert Decimal(str(got["rub"])).quantize(Decimal("0.01")) == rub.quantize(Decimal("0.01"))
