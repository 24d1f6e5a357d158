"""The rule-alert sensor: firing rows of marts.mart_alert_facts reach the right chats once, and a restart
of Dagster (a new instance over the same DAGSTER_HOME) or a rerun of the mart sends nothing again."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetMaterialization, DagsterInstance, build_sensor_context, instance_for_test
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.scheduler.instigation import InstigatorType
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.sensor import execute_sensor_iteration

from resources.telegram import TelegramNotifier
from resources.warehouse import Warehouse
from schedules.sensors import build_sensors
from tests.fakes.fake_telegram import FakeTelegram
from tests.test_alert_rules import FIRING_WORLD, NOW, TODAY

ROOT = Path(__file__).resolve().parent.parent
HEAD, MARKETER = "100", "300"
SENSOR = "rule_alerts_to_head_of_sales"


@pytest.fixture
def tg():
    with FakeTelegram() as fake:
        yield fake


def write_mart(warehouse: Warehouse, rows: list[dict]) -> None:
    """The hand-made rows as marts.mart_alert_facts (what dbt would have written)."""
    frame = pl.DataFrame(rows, infer_schema_length=None)
    with warehouse.connect() as con:
        con.execute("create schema if not exists marts")
        con.register("frame", frame)
        con.execute("create or replace table marts.mart_alert_facts as select * from frame")


def test_firing_rules_reach_the_head_of_sales_and_the_marketer_once(tg, tmp_path, monkeypatch):
    monkeypatch.setenv("DEMO_TODAY", TODAY.isoformat())
    warehouse = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    quiet_yesterday = [{**r, "is_firing": False, "day": TODAY - timedelta(days=1)} for r in FIRING_WORLD]
    write_mart(warehouse, FIRING_WORLD + quiet_yesterday)
    telegram = TelegramNotifier(bot_token="1:T", chat_id=HEAD, marketer_chat_id=MARKETER, api_url=tg.url)
    (sensor,) = [s for s in build_sensors("Europe/Moscow", clock=lambda: NOW) if s.name == SENSOR]
    with instance_for_test() as instance:
        context = build_sensor_context(instance=instance, resources={"telegram": telegram, "warehouse": warehouse})
        sensor(context)
        assert tg.messages == []  # the mart has not materialized yet: nothing read
        instance.report_runless_asset_event(AssetMaterialization("mart_alert_facts"))
        sensor(context)
        sensor(context)  # evaluated again: nothing new
        instance.report_runless_asset_event(AssetMaterialization("mart_alert_facts"))  # a rerun
        sensor(context)
    head = [m.visible_text for m in tg.to(HEAD)]
    assert len(head) == 7  # one per firing row of the hand-made world
    assert sum("Отставание от темпа плана" in t and "Петров Пётр" in t for t in head) == 1
    (marketer,) = tg.to(MARKETER)
    assert "Перерасход рекламного бюджета" in marketer.visible_text and "Яндекс.Директ" in marketer.visible_text
    assert tg.rejected == []


def _daemon_tick(home: Path, when: datetime) -> DagsterInstance:
    """One iteration of Dagster's sensor daemon over the instance in `home` (a new instance each time)."""
    instance = DagsterInstance.from_config(str(home))
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            python_file=str(ROOT / "tests" / "support" / "alert_defs.py"), attribute="defs", working_directory=str(ROOT)
        ),
        location_name="alerts",
    )
    with freeze_time(when), create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance) as ctx:
        list(execute_sensor_iteration(ctx, logging.getLogger("test_alert_sensor"), None, None))
    return instance


def test_a_restart_or_a_rerun_sends_nothing_again(tg, tmp_path, monkeypatch):
    # rules without a closing hour, so the real clock's hour does not matter
    rows = [r for r in FIRING_WORLD if r["final_from_hour"] is None]
    home = tmp_path / "dagster_home"
    home.mkdir()
    url = f"duckdb:///{tmp_path}/w.duckdb"
    for name, value in {
        "DEMO_TODAY": TODAY.isoformat(),
        "WAREHOUSE_URL": url,
        "TELEGRAM_BOT_TOKEN": "1:T",
        "TELEGRAM_CHAT_ID": HEAD,
        "TELEGRAM_MARKETER_CHAT_ID": MARKETER,
        "TELEGRAM_API_URL": tg.url,
        "DAGSTER_HOME": str(home),
    }.items():
        monkeypatch.setenv(name, value)
    write_mart(Warehouse(url=url), rows)
    start = datetime.now(UTC)

    first = DagsterInstance.from_config(str(home))
    first.report_runless_asset_event(AssetMaterialization("mart_alert_facts"))
    first.dispose()
    _daemon_tick(home, start).dispose()
    assert len(tg.to(HEAD)) == 5 and len(tg.to(MARKETER)) == 1

    # Dagster restarts (a new instance over the same home); the refresh rebuilds the mart (a rerun)
    second = DagsterInstance.from_config(str(home))
    second.report_runless_asset_event(AssetMaterialization("mart_alert_facts"))
    second.dispose()
    third = _daemon_tick(home, start + timedelta(minutes=2))
    try:
        (state,) = third.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        ticks = third.get_ticks(state.instigator_origin_id, state.selector_id)
        assert (
            len(ticks) == 2 and ticks[0].skip_reason == "0 rule alert message(s) queued, 0 delivered, 0 waiting"
        )  # evaluated, sent nothing
        cursor = json.loads(state.instigator_data.cursor)  # type: ignore[union-attr]
        assert len(cursor["sent"]) == 5
    finally:
        third.dispose()
    assert len(tg.to(HEAD)) == 5 and len(tg.to(MARKETER)) == 1


def test_a_rate_limit_past_the_tick_queues_the_alerts_for_the_next_tick(tg, tmp_path, monkeypatch):
    import time

    import schedules.sensors

    monkeypatch.setenv("DEMO_TODAY", TODAY.isoformat())
    monkeypatch.setattr(schedules.sensors, "SEND_SECONDS_PER_TICK", 1.0)  # a tick's sending time, shortened
    warehouse = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    write_mart(warehouse, FIRING_WORLD)
    telegram = TelegramNotifier(bot_token="1:T", chat_id=HEAD, marketer_chat_id=MARKETER, api_url=tg.url)
    (sensor,) = [s for s in build_sensors("Europe/Moscow", clock=lambda: NOW) if s.name == SENSOR]
    tg.rate_limit_once(retry_after=2)  # longer than the tick may send
    with instance_for_test() as instance:
        context = build_sensor_context(instance=instance, resources={"telegram": telegram, "warehouse": warehouse})
        instance.report_runless_asset_event(AssetMaterialization("mart_alert_facts"))
        first = sensor(context)
        assert tg.messages == [] and tg.requests == 1
        assert "7 rule alert message(s) queued, 0 delivered, 8 waiting" in str(first.skip_message)
        assert len(json.loads(context.cursor)["outbox"]["pending"]) == 8  # durable with the cursor
        sensor(context)  # too early: retry_after has not passed
        assert tg.requests == 1
        time.sleep(2.1)
        sensor(context)
        sensor(context)
    assert len(tg.to(HEAD)) == 7 and len(tg.to(MARKETER)) == 1  # each once, after the wait


def test_a_long_message_resumes_across_a_restart_from_the_instance_store(tg, tmp_path):
    from schedules.progress import InstanceProgress
    from tests.test_telegram import long_text

    text, lines = long_text()
    telegram = TelegramNotifier(bot_token="1:T", chat_id=HEAD, api_url=tg.url, max_attempts=1)
    tg.outage_after(2, status=502)
    first = DagsterInstance.from_config(str(tmp_path))
    try:
        with pytest.raises(Exception, match="502"):
            telegram.send(HEAD, text, progress=InstanceProgress(first))
    finally:
        first.dispose()
    tg.recover()
    second = DagsterInstance.from_config(str(tmp_path))  # a new process, the same DAGSTER_HOME
    try:
        telegram.send(HEAD, text, progress=InstanceProgress(second))
    finally:
        second.dispose()
    assert "\n".join(m.visible_text for m in tg.messages).splitlines() == lines  # each line once, in order
