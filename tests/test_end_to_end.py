"""The whole graph on the S demo world, as `make run` does it, checked from outside the code under test.

Expected figures come from the demo world's own files (the CRM's JSON answers, the plan CSV and the
CBR rates CSV), recomputed here with plain Python: if ingest, dbt, the report or the alerts drift
from what the world says, these tests fail.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dagster import build_sensor_context, instance_for_test

from tests.browser import serve_dir, visit
from tests.fakes.fake_telegram import FakeTelegram

pytestmark = pytest.mark.slow  # whole graph, browser or PostgreSQL end to end: not in `make test-fast`

TODAY = date(2026, 3, 18)
MSK = ZoneInfo("Europe/Moscow")


def _secret_free_env(monkeypatch: pytest.MonkeyPatch, tmp: Path, tg_url: str) -> None:
    for name in (
        "BITRIX24_WEBHOOK_URL",
        "AMOCRM_BASE_URL",
        "AMOCRM_ACCESS_TOKEN",
        "CRM_EXPORT_DIR",
        "WAREHOUSE_URL",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "PLAN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp / "data"))
    monkeypatch.setenv("DEMO_SIZE", "S")
    monkeypatch.setenv("DEMO_TODAY", TODAY.isoformat())
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:e2e-secret-token")
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "1001")
    monkeypatch.setenv("TELEGRAM_ONCALL_CHAT_ID", "2002")
    monkeypatch.setenv("TELEGRAM_API_URL", tg_url)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory):
    """Materialize every asset for TODAY's partition into a temporary DATA_DIR, once for the module."""
    tmp = tmp_path_factory.mktemp("e2e")
    (tmp / "home").mkdir()
    with (
        pytest.MonkeyPatch.context() as mp,
        FakeTelegram() as tg,
        instance_for_test(temp_dir=str(tmp / "home")) as instance,
    ):
        _secret_free_env(mp, tmp, tg.url)
        from definitions import build_definitions

        defs = build_definitions()
        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(instance=instance, partition_key=TODAY.isoformat(), raise_on_error=False)
        yield {
            "defs": defs,
            "result": result,
            "instance": instance,
            "tg": tg,
            "tmp": tmp,
            "world": next((tmp / "data" / "demo").iterdir()),
        }


def _warehouse(pipeline) -> Warehouse:  # noqa: F821 - imported lazily, after the env is set
    from resources.warehouse import Warehouse

    return Warehouse(url=f"duckdb:///{pipeline['tmp'] / 'data' / 'warehouse.duckdb'}")


def test_every_step_of_the_graph_succeeds(pipeline):
    result = pipeline["result"]
    failed = [e.step_key for e in result.all_events if e.is_step_failure]
    assert result.success, f"failed steps: {failed}"
    done = {
        k.to_user_string()
        for k in result.get_asset_materialization_events()
        and [e.asset_key for e in result.get_asset_materialization_events()]
    }
    for key in (
        "raw_bitrix24/deals",
        "raw_plan/plan",
        "raw_cbr/rates",
        "mart_plan_fact",
        "mart_revenue_daily",
        "forecast_month_end",
        "manager_anomalies",
        "insights",
        "report_site",
    ):
        assert key in done, f"{key} was not materialized"
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert checks, "dbt tests did not run as asset checks"
    failed_checks = [e.event_specific_data.check_name for e in checks if not e.event_specific_data.passed]
    assert not failed_checks


def _expected_plan_fact(world: Path) -> dict[tuple[str, str, str], dict[str, float]]:
    """(month, manager, pipeline) -> plan and actual, straight from the world's files."""
    rates: dict[str, list[tuple[str, float]]] = defaultdict(list)
    with open(world / "cbr_rates.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rates[row["char_code"]].append((row["date"], float(row["value"]) / float(row["nominal"])))
    for series in rates.values():
        series.sort()

    def rub_per_unit(code: str, day: str) -> float:
        if code == "RUB":
            return 1.0
        return [value for d, value in rates[code] if d <= day][-1]  # the last rate published by that day

    out: dict[tuple[str, str, str], dict[str, float]] = defaultdict(lambda: {"plan": 0.0, "actual": 0.0, "won": 0})
    with open(world / "plan.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out[(row["month"], row["manager_id"], row["pipeline_id"])]["plan"] += float(row["amount_rub"])
    for deal in json.loads((world / "bitrix24" / "deals.json").read_text(encoding="utf-8")):
        if deal["STAGE_SEMANTIC_ID"] != "S":
            continue
        closed = datetime.fromisoformat(deal["CLOSEDATE"]).astimezone(MSK)
        day = closed.date().isoformat()
        cell = out[(day[:7], deal["ASSIGNED_BY_ID"], deal["CATEGORY_ID"])]
        cell["actual"] += float(deal["OPPORTUNITY"]) * rub_per_unit(deal["CURRENCY_ID"], day)
        cell["won"] += 1
    return out


def test_plan_vs_actual_in_the_warehouse_matches_the_world(pipeline):
    expected = _expected_plan_fact(pipeline["world"])
    got = _warehouse(pipeline).query(
        "select strftime(month, '%Y-%m') as month, cast(manager_id as varchar) as manager, "
        "cast(pipeline_id as varchar) as pipeline, plan_rub, actual_rub, won_count, fulfilment_pct, colour, "
        "remaining_rub from marts.mart_plan_fact"
    )
    rows = {(r["month"], r["manager"], r["pipeline"]): r for r in got.iter_rows(named=True)}
    nonzero = {k: v for k, v in expected.items() if v["plan"] or v["actual"]}
    assert set(rows) == set(nonzero)
    for key, want in nonzero.items():
        row = rows[key]
        assert (row["plan_rub"] or 0) == pytest.approx(want["plan"], abs=0.01), key
        assert (row["actual_rub"] or 0) == pytest.approx(want["actual"], abs=0.05), key
        assert (row["won_count"] or 0) == want["won"], key
        if want["plan"]:
            pct = want["actual"] / want["plan"] * 100
            assert row["fulfilment_pct"] == pytest.approx(pct, abs=0.005), key  # shown to 2 decimals
            assert row["colour"] == ("red" if pct < 80 else "yellow" if pct < 100 else "green"), key
            assert row["remaining_rub"] == pytest.approx(max(want["plan"] - want["actual"], 0), abs=0.05), key
    colours = {r["colour"] for r in rows.values()}
    assert {"red", "green"} <= colours, "the demo world should show both failing and winning managers"


def test_forecast_for_today_brackets_itself_and_knows_the_plan(pipeline):
    expected = _expected_plan_fact(pipeline["world"])
    month = TODAY.strftime("%Y-%m")
    plan = sum(v["plan"] for (m, _, _), v in expected.items() if m == month)
    mtd = sum(v["actual"] for (m, _, _), v in expected.items() if m == month)
    row = (
        _warehouse(pipeline)
        .query("select * from ml.forecast_month_end where as_of_day = ?", [TODAY])
        .row(0, named=True)
    )
    assert row["plan_rub"] == pytest.approx(plan, abs=0.01)
    assert row["actual_mtd_rub"] == pytest.approx(mtd, abs=1.0)  # amounts are kept to the kopeck per deal
    assert row["ruler_rub"] == pytest.approx(mtd / TODAY.day * 31, rel=1e-6)
    assert row["actual_mtd_rub"] <= row["forecast_low_rub"] <= row["forecast_rub"] <= row["forecast_high_rub"]
    assert 0.0 <= row["prob_reach_plan"] <= 1.0
    assert "prophet" in row["model"] and "catboost" in row["model"]


def test_todays_anomaly_from_the_ground_truth_reaches_the_head_of_sales(pipeline):
    truth = list(csv.DictReader(open(pipeline["world"] / "anomalies_truth.csv", encoding="utf-8")))
    todays = {r["manager_id"] for r in truth if r["day"] == TODAY.isoformat()}
    assert todays, "the demo world injects an anomaly on its last day"
    flagged = _warehouse(pipeline).query(
        "select cast(manager_id as varchar) as m, manager_name from ml.manager_anomalies "
        "where as_of_day = ? and is_anomaly",
        [TODAY],
    )
    assert todays <= set(flagged["m"].to_list())

    defs, tg = pipeline["defs"], pipeline["tg"]
    sensor = defs.resolve_sensor_def("anomaly_alerts_to_head_of_sales")
    resources = {k: defs.resources[k] for k in ("telegram", "warehouse")}
    with build_sensor_context(instance=pipeline["instance"], resources=resources) as ctx:
        sensor(ctx)
        cursor = ctx.cursor
    alerts = tg.to("1001")
    names = dict(zip(flagged["m"].to_list(), flagged["manager_name"].to_list()))
    for manager in todays:
        assert any(names[manager] in m.visible_text for m in alerts), f"no alert names manager {manager}"
    assert not tg.rejected
    assert all("e2e-secret-token" not in m.text for m in tg.messages)
    # exactly one alert, the injected one, with the numbers the world's own files give
    assert len(todays) == 1 and len(alerts) == 1, [m.visible_text for m in alerts]
    (manager,) = todays
    text = alerts[0].visible_text
    usual = _usual_activity(pipeline["world"], manager)
    if "всего активностей" in text:
        assert "Значение: 0, обычно " + _number(usual["activities_total"]) in text, text
    else:
        assert "исходящие звонки" in text, text
        assert "Значение: 0, обычно " + _number(usual["calls_out"]) in text, text
    # the sensor's next tick (with the cursor the daemon keeps) sends nothing more
    with build_sensor_context(instance=pipeline["instance"], resources=resources, cursor=cursor) as ctx:
        sensor(ctx)
    assert len(tg.to("1001")) == 1


def _number(value: float) -> str:
    """As the alert prints a count: whole numbers plain, halves with one decimal."""
    return f"{int(value)}" if float(value).is_integer() else f"{value:.1f}"


def _usual_activity(world: Path, manager: str) -> dict[str, float]:
    """The manager's median activities (every activity but an open task) and outgoing calls over the 40
    working days before TODAY on which they worked within the last two weeks, from activities.json."""
    import statistics

    import holidays

    acts = json.loads((world / "bitrix24" / "activities.json").read_text(encoding="utf-8"))
    total: dict[str, int] = defaultdict(int)
    calls: dict[str, int] = defaultdict(int)
    for a in acts:
        if a["RESPONSIBLE_ID"] != manager or (a["TYPE_ID"] == "3" and a["COMPLETED"] != "Y"):
            continue
        day = datetime.fromisoformat(a["CREATED"]).astimezone(MSK).date().isoformat()
        total[day] += 1
        calls[day] += a["TYPE_ID"] == "2" and a["DIRECTION"] == "2"
    off = set(holidays.country_holidays("RU", years=[TODAY.year - 1, TODAY.year]))
    worked = sorted(date.fromisoformat(d) for d, n in total.items() if n)
    days = []
    d = TODAY
    while len(days) < 40:
        d = date.fromordinal(d.toordinal() - 1)
        recent = [w for w in worked if d.toordinal() - 14 < w.toordinal() <= d.toordinal()]
        if d.weekday() < 5 and d not in off and recent:
            days.append(d.isoformat())
    return {
        "activities_total": statistics.median(total[x] for x in days),
        "calls_out": statistics.median(calls[x] for x in days),
    }


def test_the_built_site_opens_in_chromium_and_shows_the_months_plan(pipeline):
    expected = _expected_plan_fact(pipeline["world"])
    plan = sum(v["plan"] for (m, _, _), v in expected.items() if m == TODAY.strftime("%Y-%m"))
    site = pipeline["tmp"] / "data" / "site"
    assert (site / "index.html").exists()
    with serve_dir(site) as url:
        page = visit(url, wait_for_text="План")
    assert f"{plan:,.0f}" in page.text.replace("\u202f", ",").replace("\xa0", ",").replace(" ", ","), page.text[:2000]
    assert not page.foreign_requests
