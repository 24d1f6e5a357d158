"""The report a head of sales opens: built from a hand-made warehouse, checked in a real browser.

One Evidence build for the whole module (it takes about a minute); everything else is cheap.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, Definitions, materialize

from assets.report import build_defs, read_report_tables, report_day, report_site, write_report_db
from resources.evidence import EvidenceCLI, EvidenceError, scrubbed_env
from resources.warehouse import Warehouse
from tests import report_world as world
from tests.browser import serve_dir, visit

pytestmark = pytest.mark.slow  # whole graph, browser or PostgreSQL end to end: not in `make test-fast`

SCREENSHOT = Path("/tmp/report_site.png")


def rub(value: float) -> str:
    """How the page writes rubles (format '#,##0 "₽"'), computed here independently."""
    return f"{value:,.0f} ₽"


# --- cheap tests: no Node ------------------------------------------------------------------------
def test_report_file_is_written_atomically_and_tolerates_missing_ml_tables(tmp_path: Path) -> None:
    """A fresh warehouse without ML outputs still gives a report file with every table (empty)."""
    wh = Warehouse(url=f"duckdb:///{world.build_warehouse(tmp_path / 'wh.duckdb', with_ml=False)}")
    frames = read_report_tables(wh)
    target = tmp_path / "out" / "rop.duckdb"
    counts = write_report_db(frames, target)

    assert counts["forecast"] == counts["anomalies"] == counts["insights"] == 0
    assert counts["mart_plan_fact"] == len(world.PLAN_FACT)
    assert sorted(p.name for p in target.parent.iterdir()) == ["rop.duckdb"]  # no temp leftovers
    con = duckdb.connect(str(target), read_only=True)
    try:
        cols = {
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns where table_name = 'forecast'"
            ).fetchall()
        }
        assert {
            "as_of_day",
            "forecast_rub",
            "forecast_low_rub",
            "forecast_high_rub",
            "prob_reach_plan",
            "scope",
        } <= cols
        # Evidence writes no Parquet for an empty result, so an empty table holds one all-null row
        # that the page's joins on the report day drop
        assert con.execute("select count(*), count(as_of_day), count(text) from insights").fetchone() == (1, 0, 0)
    finally:
        con.close()
    # without ML outputs the report's "today" falls back to the latest revenue day
    assert report_day(frames) == world.TODAY


def test_node_never_sees_secrets_and_telemetry_is_off() -> None:
    env = scrubbed_env(
        {
            "PATH": "/usr/bin",
            "HOME": "/root",
            "OPENAI_API_KEY": "sk-x",
            "TELEGRAM_BOT_TOKEN": "1:x",
            "BITRIX24_WEBHOOK_URL": "https://x/rest/1/secret/",
            "AMOCRM_ACCESS_TOKEN": "t",
            "WAREHOUSE_URL": "postgresql://u:p@h/db",
            "PGPASSWORD": "p",
        }
    )
    assert env["PATH"] == "/usr/bin" and env["HOME"] == "/root"
    assert not {k for k in env if k.startswith(("OPENAI", "TELEGRAM", "BITRIX", "AMOCRM", "WAREHOUSE", "PG"))}
    assert env["SEND_ANONYMOUS_USAGE_STATS"] == "no"
    settings = Path(EvidenceCLI().project, "evidence.settings.json").read_text()
    assert '"send_anonymous_usage_stats": "no"' in settings  # Evidence ignores the env var once this file is read


def test_a_failing_evidence_command_says_what_failed_in_its_own_words(tmp_path: Path) -> None:
    (tmp_path / "package-lock.json").write_text("{}")
    cli = EvidenceCLI(project_dir=str(tmp_path))
    assert cli.install_needed()  # no node_modules yet
    with pytest.raises(EvidenceError) as err:
        cli.sources()  # node_modules missing: node cannot find Evidence's CLI
    message = str(err.value)
    assert "evidence sources failed" in message and "Cannot find module" in message


def test_report_asset_is_wired_to_its_inputs_and_rebuilds_itself() -> None:
    spec = report_site.specs_by_key[AssetKey("report_site")]
    assert spec.group_name == "report"
    assert {d.asset_key for d in spec.deps} == {
        AssetKey("mart_plan_fact"),
        AssetKey("mart_revenue_daily"),
        AssetKey("forecast_month_end"),
        AssetKey("manager_anomalies"),
        AssetKey("insights"),
    }
    assert spec.automation_condition is not None
    # eager, but not waiting for every historical partition of the daily ML assets to exist
    assert "any_deps_missing" not in str(spec.automation_condition)
    defs = build_defs()
    Definitions.validate_loadable(
        Definitions.merge(
            defs, Definitions(resources={"warehouse": Warehouse(url="duckdb:///x.duckdb"), "evidence": EvidenceCLI()})
        )
    )
    assert [s.name for s in defs.sensors] == ["report_automation_sensor"]


# --- the one build -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("report")
    wh = Warehouse(url=f"duckdb:///{world.build_warehouse(tmp / 'warehouse.duckdb')}")
    evidence = EvidenceCLI(build_dir=str(tmp / "site"))
    started = time.monotonic()
    result = materialize([report_site], resources={"warehouse": wh, "evidence": evidence})
    assert result.success
    mat = result.asset_materializations_for_node("report_site")[0]
    meta = {k: v.value for k, v in mat.metadata.items()}
    with serve_dir(tmp / "site") as url:
        page = visit(url, wait_for_text="Инсайты", screenshot=SCREENSHOT)
    return {"meta": meta, "page": page, "site": tmp / "site", "seconds": time.monotonic() - started}


def test_build_reports_where_the_site_is_and_what_went_in(built_site: dict) -> None:
    meta = built_site["meta"]
    assert Path(meta["site_path"]) == built_site["site"] / "index.html"
    assert Path(meta["site_path"]).exists()
    assert meta["rows_mart_plan_fact"] == len(world.PLAN_FACT)
    assert meta["rows_forecast"] == len(world.FORECAST)
    assert meta["rows_insights"] == len(world.INSIGHTS)
    assert meta["as_of_day"] == world.TODAY.isoformat()
    assert meta["build_seconds"] > 0


def test_page_shows_this_months_plan_and_fact(built_site: dict) -> None:
    text = built_site["page"].text
    exp = world.expected()
    assert rub(exp.plan_rub) in text  # 1,250,000 ₽: this month only, last month's 999,000 not added
    assert rub(exp.actual_rub) in text
    assert f"{exp.actual_rub / exp.plan_rub * 100:.1f}%" in text
    assert "20.11.2026" in text  # "today" is the data's latest as-of day, not the machine clock


def test_each_manager_has_the_fulfilment_colour_of_the_rules(built_site: dict) -> None:
    text = built_site["page"].text
    words = {"red": "красный", "yellow": "жёлтый", "green": "зелёный"}
    for manager, colour in world.expected().manager_colour.items():
        row = next(line for line in text.splitlines() if line.startswith(manager))
        assert words[colour] in row, (manager, colour, row)


def test_the_legend_states_the_marts_thresholds(built_site: dict) -> None:
    """The company's own thresholds (70 / 95 in this world), printed from the data, not retyped 80 / 100."""
    text = " ".join(built_site["page"].text.split())
    red, green = f"{world.RED_BELOW_PCT:g}", f"{world.GREEN_FROM_PCT:g}"
    assert f"красный — меньше {red} %" in text
    assert f"жёлтый — от {red} до {green} %" in text
    assert f"зелёный — {green} % и больше" in text
    assert "меньше 80 %" not in text


def test_page_shows_todays_forecast_with_its_interval(built_site: dict) -> None:
    text = built_site["page"].text
    exp = world.expected()
    for value in (exp.forecast_rub, exp.forecast_low_rub, exp.forecast_high_rub):
        assert rub(value) in text
    assert "62%" in text
    assert rub(1_280_000) not in text  # yesterday's forecast is not today's


def test_page_shows_only_todays_anomalies_and_insights(built_site: dict) -> None:
    text = built_site["page"].text
    for _day, _rank, insight, _src in world.INSIGHTS:
        assert (insight in text) == (_day == world.TODAY), insight
    assert "Исходящие звонки" in text  # Сидоров's anomaly today
    assert "Создано сделок" not in text  # Иванов's anomaly was yesterday


def test_page_works_offline(built_site: dict) -> None:
    page = built_site["page"]
    assert page.requests, "the page made no requests at all: the visit did not happen"
    assert page.foreign_requests == []
    assert page.console_errors == []
    assert not re.search(r"extensions\.duckdb\.org|segment\.io|evidence\.dev/", " ".join(page.requests))


def test_report_is_requested_when_a_new_ml_partition_lands() -> None:
    """Old daily partitions of the ML inputs are never all there; a new one must still rebuild the report."""
    import dagster as dg

    from assets.partitions import as_of_days

    stubs = [dg.AssetSpec(k) for k in ("mart_plan_fact", "mart_revenue_daily")] + [
        dg.AssetSpec(k, partitions_def=as_of_days) for k in ("forecast_month_end", "manager_anomalies", "insights")
    ]
    defs = dg.Definitions(
        assets=[report_site, *stubs],
        resources={"warehouse": Warehouse(url="duckdb:///unused.duckdb"), "evidence": EvidenceCLI()},
    )
    latest = as_of_days.get_last_partition_key()
    with dg.instance_for_test() as instance:
        for key in ("mart_plan_fact", "mart_revenue_daily", "report_site"):
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 0  # built and nothing new since

        instance.report_runless_asset_event(dg.AssetMaterialization("forecast_month_end", partition=latest))
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert second.get_requested_partitions(AssetKey("report_site")) == {None}

        third = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
        assert third.total_requested == 0  # requested once, not on every tick
