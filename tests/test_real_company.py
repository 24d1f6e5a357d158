"""The whole graph as a real company runs it: only some sources, no demo world, one source failing.

Each configuration is one run of every asset (the implicit global asset job: `--select '*'`) for
today's partition, with only that configuration's settings in the environment:
- Bitrix24 only (the demo portal stands in for the company's own Bitrix24; CBR off, no plan sheet);
- amoCRM only (the demo amoCRM portal as the company's account);
- the Maven CRM export folder only (real public data, in dollars; the rates from a rates file);
- Bitrix24 with the CBR address unreachable (CBR on, as by default outside demo mode).
Each must end with marts, the forecast and a built site, hold no demo-world row, and, for the last,
be reported failed for the CBR alone. Expected figures come from the portals' own records and the
CSV file, summed here with plain Python.
"""

from __future__ import annotations

import csv
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dagster import instance_for_test

pytestmark = pytest.mark.slow  # whole graph, browser or PostgreSQL end to end: not in `make test-fast`

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


@pytest.fixture(scope="module")
def bitrix24_only(tmp_path_factory: pytest.TempPathFactory, world_dir: Path) -> Iterator[tuple[Run, Any]]:
    from demo.portal import DemoPortal

    portal = DemoPortal(world_dir, rate_limit=None)
    with portal as url:
        yield (
            whole_run(tmp_path_factory.mktemp("bitrix24_only"), {"BITRIX24_WEBHOOK_URL": url, "CBR_API_URL": "off"}),
            portal,
        )


def test_bitrix24_only_builds_everything_from_the_crm_alone(bitrix24_only):
    run, portal = bitrix24_only
    assert run.result.success, f"failed steps: {run.failed_steps()}"
    assert_whole_graph_built(run, "raw_bitrix24/deals")
    assert_no_demo_world(run, "raw_bitrix24")
    assert_revenue_is_the_portals_won_rubles(run, portal)
    plan = run.one("select count(*) as n, sum(plan_rub) as plan from marts.mart_plan_fact")
    assert plan["n"] > 0 and not plan["plan"], "no plan sheet: plan-fact shows actuals without a plan"
    status = run.warehouse.query("select source, status from ops.source_status order by source")
    assert status.rows() == [("bitrix24", "ok")]


@pytest.fixture(scope="module")
def bitrix24_cbr_unreachable(tmp_path_factory: pytest.TempPathFactory, world_dir: Path) -> Iterator[tuple[Run, Any]]:
    from dagster import build_sensor_context

    from demo.portal import DemoPortal
    from tests.fakes.fake_telegram import FakeTelegram

    def tell_oncall(defs: Any, instance: Any) -> None:
        sensor = defs.resolve_sensor_def("asset_check_failures_to_oncall")
        with build_sensor_context(
            instance=instance, definitions=defs, resources={"telegram": defs.resources["telegram"]}
        ) as context:
            sensor(context)

    portal = DemoPortal(world_dir, rate_limit=None)
    with portal as url:
        with FakeTelegram() as tg:
            env = {
                "BITRIX24_WEBHOOK_URL": url,
                "CBR_API_URL": f"http://127.0.0.1:{_free_port()}",  # nobody listens
                "TELEGRAM_BOT_TOKEN": "123456:real-company-token",
                "TELEGRAM_CHAT_ID": "1001",
                "TELEGRAM_ONCALL_CHAT_ID": "2002",
                "TELEGRAM_API_URL": tg.url,
            }
            run = whole_run(tmp_path_factory.mktemp("cbr_unreachable"), env, after=tell_oncall)
            run.oncall = tg.to("2002")
            yield run, portal


def test_unreachable_cbr_fails_the_run_for_cbr_alone_and_the_rest_builds(bitrix24_cbr_unreachable):
    run, portal = bitrix24_cbr_unreachable
    assert not run.result.success, "a configured source that failed must not leave the run green"
    assert run.failed_steps() == ["raw_cbr__rates_source_refreshed"]
    assert_whole_graph_built(run, "raw_bitrix24/deals")
    assert_no_demo_world(run, "raw_bitrix24", cbr=True)
    checks = {
        (e.event_specific_data.asset_key.to_user_string(), e.event_specific_data.check_name): e.event_specific_data
        for e in run.result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    cbr = checks[("raw_cbr/rates", "source_refreshed")]
    assert not cbr.passed and "127.0.0.1" in cbr.metadata["error"].value
    assert checks[("raw_bitrix24/deals", "source_refreshed")].passed
    errors = [k for k, c in checks.items() if not c.passed and c.severity.value == "ERROR"]
    assert errors == [("raw_cbr/rates", "source_refreshed")]
    # what follows from it is a warning, not a second failure: deals in dollars have no ruble amount yet
    warnings = {k for k, c in checks.items() if not c.passed and c.severity.value == "WARN"}
    assert warnings <= {("deal", "not_null_deal_amount_rub")}
    status = dict(run.warehouse.query("select source, status from ops.source_status").rows())
    assert status == {"bitrix24": "ok", "cbr": "failed"}
    # on-call hears once, about the CBR alone, with the error's first line
    oncall_errors = [m.visible_text for m in run.oncall if "Серьёзность: ERROR" in m.visible_text]
    assert len(oncall_errors) == 1, [m.visible_text for m in run.oncall]
    assert "raw_cbr/rates / source_refreshed" in oncall_errors[0] and "127.0.0.1" in oncall_errors[0]
    # the site, opened in Chromium, says the CBR is stale
    from tests.browser import serve_dir, visit

    with serve_dir(run.tmp / "data" / "site") as url:
        page = visit(url, wait_for_text="Источники данных")
    assert "Не обновились источники: Курсы ЦБ" in " ".join(page.text.split()), page.text[-1500:]
    assert not page.foreign_requests
    assert_revenue_is_the_portals_won_rubles(run, portal)


@pytest.fixture(scope="module")
def amocrm_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, Any]]:
    from demo.amocrm_portal import DEFAULT_TOKEN, AmoCRMPortal
    from demo.world import generate

    portal = AmoCRMPortal(world=generate("S", TODAY, SEED), rate_limit=None)
    portal.start()
    try:
        env = {"AMOCRM_BASE_URL": portal.base_url, "AMOCRM_ACCESS_TOKEN": DEFAULT_TOKEN, "CBR_API_URL": "off"}
        yield whole_run(tmp_path_factory.mktemp("amocrm_only"), env), portal
    finally:
        portal.stop()


def test_amocrm_only_builds_everything_from_the_crm_alone(amocrm_only):
    from demo.amocrm_portal import WON

    run, portal = amocrm_only
    assert run.result.success, f"failed steps: {run.failed_steps()}"
    assert_whole_graph_built(run, "raw_amocrm/leads")
    assert_no_demo_world(run, "raw_amocrm")
    won = [lead for lead in portal.leads.values() if lead["status_id"] == WON]
    got = run.one("select count(*) as n, sum(amount_rub) as rub from marts.mart_deals where is_won")
    assert got["n"] == len(won)
    assert Decimal(str(got["rub"])) == sum(Decimal(lead["price"]) for lead in won)
    assert run.one("select count(*) as n from marts.mart_deals")["n"] == len(portal.leads)


@pytest.fixture(scope="module")
def maven_only(tmp_path_factory: pytest.TempPathFactory) -> Run:
    from tests.support.datasets import require_datasets

    maven = require_datasets("maven_crm_sales_opportunities") / "maven_crm_sales_opportunities"
    tmp = tmp_path_factory.mktemp("maven_only")
    # A closed network: the dollar's rate comes from the company's rates file, not the CBR's site.
    rates = tmp / "rates.csv"
    rates.write_text(f"date,char_code,nominal,value\n2016-01-04,USD,1,{USD_RUB}\n", encoding="utf-8")
    env = {"CRM_EXPORT_DIR": str(maven), "CRM_EXPORT_MAPPING": "maven_crm", "CBR_RATES_FILE": str(rates)}
    return whole_run(tmp, env)


@pytest.mark.datasets
def test_maven_export_only_builds_everything_from_the_files_alone(maven_only):
    from tests.support.datasets import require_datasets

    run = maven_only
    assert run.result.success, f"failed steps: {run.failed_steps()}"
    assert_whole_graph_built(run, "raw_export/deals")
    assert_no_demo_world(run, "raw_export", cbr=True)
    with (
        require_datasets("maven_crm_sales_opportunities") / "maven_crm_sales_opportunities" / "sales_pipeline.csv"
    ).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    won = [r for r in rows if r["deal_stage"] == "Won"]
    won_usd = sum(Decimal(r["close_value"]) for r in won)
    got = run.one("select count(*) as n, sum(amount) as usd, sum(amount_rub) as rub from marts.mart_deals where is_won")
    assert (got["n"], Decimal(str(got["usd"]))) == (len(won), won_usd)
    assert Decimal(str(got["rub"])) == won_usd * USD_RUB
    revenue = run.one("select sum(won_rub) as rub from marts.mart_revenue_daily")
    assert Decimal(str(revenue["rub"])) == won_usd * USD_RUB
    assert run.one("select count(*) as n from marts.mart_deals")["n"] == len(rows)
