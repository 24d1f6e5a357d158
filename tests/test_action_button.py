"""The action button: the digest's largest forgotten deal can be taken over from Telegram, and the
deal changes in the (demo) Bitrix24 portal; only the people in TELEGRAM_ACTION_USERS may press."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from dagster import build_sensor_context, instance_for_test

from demo.portal import DemoPortal
from demo.world import generate
from resources.bitrix24 import Bitrix24Portal
from resources.settings import SettingsError, load_settings
from resources.telegram import TelegramNotifier
from resources.warehouse import Warehouse
from schedules.jobs import morning_digest_job
from schedules.sensors import build_sensors
from tests.fakes import small_day
from tests.fakes.fake_telegram import FakeTelegram

HEAD = "100"
HEAD_OF_SALES_TG, STRANGER_TG = 555, 777
RUN_CONFIG = {"ops": {"send_morning_digest": {"config": {"as_of_day": small_day.DAY.isoformat()}}}}


@pytest.fixture
def portal(tmp_path):
    world_dir = generate("S", date(2025, 3, 10), 42).write(tmp_path / "S-42")
    p = DemoPortal(world_dir, rate_limit=None)
    p.start()
    yield p
    p.stop()


def test_a_press_takes_the_deal_in_the_portal_and_a_strangers_does_nothing(portal, tmp_path, monkeypatch, caplog):
    deal = next(d for d in portal.records("deals") if d["CLOSED"] == "N")
    head_crm_user = next(u["ID"] for u in portal.records("users") if u["ID"] != deal["ASSIGNED_BY_ID"])
    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", portal.webhook_url)
    monkeypatch.setenv("TELEGRAM_ACTION_USERS", f"{HEAD_OF_SALES_TG}:{head_crm_user}")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    wh = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    small_day.write_to(wh)
    small_day.write_chase_lists(wh)
    forgotten = small_day.forgotten().with_columns(
        entity_id=small_day.forgotten()["entity_id"].replace("501", deal["ID"])
    )  # the largest forgotten deal is one the portal holds
    wh.replace_rows("marts", "mart_forgotten", forgotten, where={})

    with FakeTelegram() as tg, instance_for_test() as instance:
        notifier = TelegramNotifier(bot_token="1:T", chat_id=HEAD, api_url=tg.url)
        assert morning_digest_job.execute_in_process(
            instance=instance, resources={"warehouse": wh, "telegram": notifier}, run_config=RUN_CONFIG
        ).success
        (digest,) = tg.to(HEAD)
        assert digest.buttons() == [(f"Забрать сделку № {deal['ID']} себе", f"take:{deal['ID']}")]

        tg.press(digest, f"take:{deal['ID']}", STRANGER_TG, "stranger")
        tg.press(digest, f"take:{deal['ID']}", HEAD_OF_SALES_TG, "rop")
        (sensor,) = [s for s in build_sensors("Europe/Moscow") if s.name == "telegram_button_presses"]
        resources = {"telegram": notifier, "bitrix24": Bitrix24Portal()}
        caplog.set_level(logging.INFO)
        with build_sensor_context(instance=instance, resources=resources) as context:
            sensor(context)
            sensor(context)  # the next poll confirms the presses: nothing is done twice
            cursor = context.cursor

    updates = [m for m, _ in portal.calls if m == "crm.deal.update"]
    assert len(updates) == 1  # the stranger's press never reached the CRM; the second poll repeated nothing
    (now,) = [d for d in portal.records("deals") if d["ID"] == deal["ID"]]
    assert now["ASSIGNED_BY_ID"] == head_crm_user and now["TITLE"] == deal["TITLE"]
    assert [a["text"] for a in tg.callback_answers] == [
        "У вас нет прав на это действие.",
        f"Сделка № {deal['ID']} передана вам.",
    ]
    assert f"telegram id {STRANGER_TG}) pressed 'take:{deal['ID']}' but is not in TELEGRAM_ACTION_USERS" in caplog.text
    assert f"(@rop, telegram id {HEAD_OF_SALES_TG}) took deal {deal['ID']}" in caplog.text
    assert cursor is not None and tg.updates == []  # both confirmed to the Bot API


def test_no_button_without_people_allowed_to_press(tmp_path, monkeypatch):
    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", "http://127.0.0.1:9/rest/1/x/")
    monkeypatch.delenv("TELEGRAM_ACTION_USERS", raising=False)
    wh = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    small_day.write_to(wh)
    small_day.write_chase_lists(wh)
    with FakeTelegram() as tg, instance_for_test() as instance:
        notifier = TelegramNotifier(bot_token="1:T", chat_id=HEAD, api_url=tg.url)
        assert morning_digest_job.execute_in_process(
            instance=instance, resources={"warehouse": wh, "telegram": notifier}, run_config=RUN_CONFIG
        ).success
        (digest,) = tg.to(HEAD)
        assert digest.reply_markup is None and "Забытых сделок 2" in digest.visible_text
        asked = tg.requests
        (sensor,) = [s for s in build_sensors("Europe/Moscow") if s.name == "telegram_button_presses"]
        resources = {"telegram": notifier, "bitrix24": Bitrix24Portal()}
        with build_sensor_context(instance=instance, resources=resources) as context:
            sensor(context)
        assert tg.requests == asked  # nobody may press: the bot's updates are not even read


def test_a_malformed_action_users_setting_names_the_pair():
    assert load_settings({"TELEGRAM_ACTION_USERS": "555:9, 777:12"}).action_users == {555: "9", 777: "12"}
    with pytest.raises(SettingsError, match="TELEGRAM_ACTION_USERS"):
        load_settings({"TELEGRAM_ACTION_USERS": "555:9, @rop:12"})
