"""The action buttons: the digest's largest forgotten deal, and the largest deals of an alert about
overdue or forgotten deals, can be taken over from Telegram, and the deal changes in the (demo)
Bitrix24 portal or amoCRM account; only the people in TELEGRAM_ACTION_USERS may press."""

from __future__ import annotations

import logging
import re
from datetime import date

import polars as pl
import pytest
import requests
from dagster import AssetMaterialization, build_sensor_context, instance_for_test

from demo.amocrm_portal import DEFAULT_TOKEN, LOST, WON, AmoCRMPortal
from demo.portal import DemoPortal
from demo.world import generate
from resources.amocrm import AmoCRMAccount, AmoCRMWriteError
from resources.bitrix24 import Bitrix24Portal
from resources.settings import SettingsError, load_settings
from resources.telegram import TelegramNotifier
from resources.warehouse import Warehouse
from schedules.jobs import morning_digest_job
from schedules.sensors import build_sensors
from tests.fakes import small_day
from tests.fakes.fake_telegram import FakeTelegram
from tests.test_alert_rules import NOW, row
from tests.test_alert_sensor import write_mart

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
        resources = {"telegram": notifier, "bitrix24": Bitrix24Portal(), "amocrm": AmoCRMAccount()}
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
        resources = {"telegram": notifier, "bitrix24": Bitrix24Portal(), "amocrm": AmoCRMAccount()}
        with build_sensor_context(instance=instance, resources=resources) as context:
            sensor(context)
        assert tg.requests == asked  # nobody may press: the bot's updates are not even read


def test_a_malformed_action_users_setting_names_the_pair():
    assert load_settings({"TELEGRAM_ACTION_USERS": "555:9, 777:12"}).action_users == {555: "9", 777: "12"}
    with pytest.raises(SettingsError, match="TELEGRAM_ACTION_USERS"):
        load_settings({"TELEGRAM_ACTION_USERS": "555:9, @rop:12"})


# --- amoCRM, and buttons on the rule alert about overdue and forgotten deals ------------------------


@pytest.fixture
def amo():
    world = generate("S", date(2025, 3, 10), 42)
    p = AmoCRMPortal(world=world, rate_limit=None)
    p.start()
    yield p
    p.stop()


def open_leads_of_one_manager(amo: AmoCRMPortal) -> tuple[int, list[int], int]:
    """A manager with at least four open leads, those leads, and an active user who is someone else."""
    by_manager: dict[int, list[int]] = {}
    for lead in amo.leads.values():
        if lead["status_id"] not in (WON, LOST) and not lead["is_deleted"]:
            by_manager.setdefault(lead["responsible_user_id"], []).append(lead["id"])
    manager, leads = next((m, ids) for m, ids in sorted(by_manager.items()) if len(ids) >= 5)
    other = next(u["id"] for u in amo.users if u["id"] != manager and u["rights"]["is_active"])
    return manager, sorted(leads), other


def test_an_overdue_alert_carries_buttons_and_a_press_reassigns_the_lead_in_amocrm(amo, tmp_path, monkeypatch, caplog):
    manager, (a, b, c, e, f, *_), head_user = open_leads_of_one_manager(amo)
    someone_else = next(u["id"] for u in amo.users if u["id"] not in (manager, head_user))
    monkeypatch.delenv("BITRIX24_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("AMOCRM_BASE_URL", amo.base_url)
    monkeypatch.setenv("AMOCRM_ACCESS_TOKEN", DEFAULT_TOKEN)
    monkeypatch.setenv("TELEGRAM_ACTION_USERS", f"{HEAD_OF_SALES_TG}:{head_user}")
    wh = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    write_mart(wh, [row("overdue_deals", "manager", str(manager), "Зайцев Дмитрий", 4.0, None)])
    # what the rule counts, by hand: forgotten a (450 000) and the open deals past their expected day
    # b (120 000), e (80 000), f (60 000); a is also open but due later (counted once); c is forgotten
    # per the mart's day but not is_forgotten; the other manager's 900 000 ₽ deal is not his; a won
    # deal past its day is closed. The three largest: a, b, e.
    wh.replace_rows(
        "marts",
        "mart_forgotten",
        pl.DataFrame(
            {
                "entity_type": ["deal", "deal", "deal", "lead"],
                "entity_id": [a, c, 99, 5],
                "manager_id": [manager, manager, someone_else, manager],
                "amount_rub": [450_000.0, 700_000.0, 900_000.0, None],
                "is_forgotten": [True, False, True, True],
            }
        ),
        where={},
    )
    past, later = date(2025, 3, 1), date(2025, 4, 1)
    wh.replace_rows(
        "marts",
        "mart_deals",
        pl.DataFrame(
            {
                "deal_id": [a, b, e, f, 77],
                "manager_id": [manager] * 5,
                "semantic": ["open", "open", "open", "open", "won"],
                "expected_close_day": [later, past, past, past, past],
                "amount_rub": [450_000.0, 120_000.0, 80_000.0, 60_000.0, 5_000_000.0],
            }
        ),
        where={},
    )
    (alerts,) = [
        s for s in build_sensors("Europe/Moscow", clock=lambda: NOW) if s.name == "rule_alerts_to_head_of_sales"
    ]
    (presses,) = [s for s in build_sensors("Europe/Moscow") if s.name == "telegram_button_presses"]
    with FakeTelegram() as tg, instance_for_test() as instance:
        notifier = TelegramNotifier(bot_token="1:T", chat_id=HEAD, api_url=tg.url)
        instance.report_runless_asset_event(AssetMaterialization("mart_alert_facts"))
        with build_sensor_context(instance=instance, resources={"telegram": notifier, "warehouse": wh}) as context:
            alerts(context)
        (alert,) = tg.to(HEAD)
        assert alert.visible_text.splitlines()[-2] == (
            f"Крупнейшие: № {a} (450 000 ₽, Зайцев Дмитрий), № {b} (120 000 ₽, Зайцев Дмитрий), "
            f"№ {e} (80 000 ₽, Зайцев Дмитрий)"
        )
        assert alert.buttons() == [(f"Забрать сделку № {d} себе", f"take:{d}") for d in (a, b, e)]

        tg.press(alert, f"take:{a}", STRANGER_TG, "stranger")
        tg.press(alert, f"take:{b}", HEAD_OF_SALES_TG, "rop")
        caplog.set_level(logging.INFO)
        resources = {"telegram": notifier, "bitrix24": Bitrix24Portal(), "amocrm": AmoCRMAccount()}
        with build_sensor_context(instance=instance, resources=resources) as context:
            presses(context)
            presses(context)  # the next poll confirms the presses: nothing is done twice

    assert amo.writes == [{"id": b, "changes": {"responsible_user_id": head_user}}]
    assert amo.leads[b]["responsible_user_id"] == head_user and amo.leads[a]["responsible_user_id"] == manager
    assert [ev["entity_id"] for ev in amo.events if ev["type"] == "entity_responsible_changed"] == [b]
    assert [m for m, path, _ in amo.requests if m == "PATCH"] == ["PATCH"]
    assert [x["text"] for x in tg.callback_answers] == [
        "У вас нет прав на это действие.",
        f"Сделка № {b} передана вам.",
    ]
    # who, what and when (UTC, to the second)
    assert re.search(
        rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00: rop \(@rop, telegram id {HEAD_OF_SALES_TG}\) took deal {b}: "
        rf"PATCH /api/v4/leads responsible_user_id={head_user}",
        caplog.text,
    )
    assert f"telegram id {STRANGER_TG}) pressed 'take:{a}' but is not in TELEGRAM_ACTION_USERS" in caplog.text


def test_the_amocrm_portal_answers_a_patch_as_amocrm_does(amo):
    manager, (a, b, *_), head_user = open_leads_of_one_manager(amo)
    url, auth = f"{amo.base_url}/api/v4/leads", {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    ok = requests.patch(url, json=[{"id": a, "responsible_user_id": head_user, "request_id": "x1"}], headers=auth)
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "application/hal+json"
    (done,) = ok.json()["_embedded"]["leads"]
    assert (done["id"], done["request_id"], done["updated_at"]) == (a, "x1", amo.leads[a]["updated_at"])
    # validated whole: one bad item (an unknown user) and the good one is not applied either
    before = amo.leads[b]["responsible_user_id"]
    bad = requests.patch(url, json=[{"id": b, "price": 5}, {"id": b, "responsible_user_id": 424242}], headers=auth)
    assert bad.status_code == 400 and bad.json()["detail"] == "Request validation failed"
    assert bad.json()["validation-errors"] == [
        {
            "request_id": "1",
            "errors": [
                {
                    "code": "NotSupportedChoice",
                    "path": "responsible_user_id",
                    "detail": "The value you selected is not a valid choice.",
                }
            ],
        }
    ]
    assert amo.leads[b]["responsible_user_id"] == before and amo.leads[b]["price"] != 5
    assert requests.patch(url, data="{not json", headers=auth).status_code == 400
    assert requests.patch(url, json={"id": b}, headers=auth).status_code == 400  # the list form takes an array
    unknown = requests.patch(url, json=[{"id": 10**9, "price": 1}], headers=auth).json()
    assert unknown["validation-errors"][0]["errors"][0]["code"] == "NotFound"
    typed = requests.patch(url, json=[{"id": str(b), "price": "5"}], headers=auth).json()
    assert [x["code"] for x in typed["validation-errors"][0]["errors"]] == ["InvalidType", "InvalidType"]
    single = requests.patch(f"{url}/{b}", json={"price": 7}, headers=auth)
    assert single.status_code == 200 and single.json()["id"] == b and amo.leads[b]["price"] == 7
    assert requests.patch(url, json=[{"id": b, "price": 8}]).status_code == 401  # no token
    # through the resource: an inactive user is refused with amoCRM's own words, the token never shown
    amo.users[[u["id"] for u in amo.users].index(head_user)]["rights"]["is_active"] = False
    account = AmoCRMAccount(base_url=amo.base_url, access_token=DEFAULT_TOKEN)
    with pytest.raises(AmoCRMWriteError, match="responsible_user_id: NotSupportedChoice") as refused:
        account.reassign_lead(str(b), str(head_user))
    assert DEFAULT_TOKEN not in str(refused.value)
