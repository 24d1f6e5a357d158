"""One real digest and one real tick of alerts on the M world, printed exactly as the fake Bot API received them.

    .venv/bin/python -m benchmarks.alerts_demo [--today 2026-11-23] [--workdir /tmp/alerts_bench] [--at 18:30]

The world is the alerts benchmark's (benchmarks/_alerts_world.py: the real ingest assets against the
demo servers, dbt up to marts.mart_alert_facts), reused when built; this adds the marts the forecast
and the digest read, then through Dagster: `forecast_month_end` (with ml.forecast_scopes) for the day
before and the day, the day's `insights` (template text: no OPENAI_API_KEY), the `morning_digest`
job, and one evaluation of the `rule_alerts_to_head_of_sales` sensor at `--at` o'clock of the day,
all sending to tests/fakes/fake_telegram.py. The world's Bitrix24 demo portal serves as the CRM a
button writes to (BITRIX24_WEBHOOK_URL pointed at it, TELEGRAM_ACTION_USERS = one Telegram user as CRM
user 1), and the head of sales presses the overdue alert's first button once. Printed: each message's
visible text (what a phone shows), its inline buttons, the digest picture's caption and file (saved in
the workdir), the press's answer and the deal's owner in the portal before and after.
"""

from __future__ import annotations

import argparse
import os
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks._alerts_world import ensure_warehouse
from benchmarks.dbt_build import run_dbt
from demo.portal import DemoPortal

# what the forecast and the digest read beyond mart_alert_facts
DIGEST_SELECT = (
    "+mart_revenue_daily",
    "+stage_history",
    "+lead",
    "+mart_plan_fact",
    "+mart_deals",
    "+mart_manager_daily",
    "+mart_channel",
    "+mart_forgotten",
    "+mart_missed_calls",
)
HEAD, SITE = "100", "https://reports.example.ru/rop/"
ROP_TELEGRAM = 555  # the head of sales' Telegram user id, allowed to press as CRM user 1


def _digest_marts(duckdb_path: Path, workdir: Path, today: str) -> None:
    mark = workdir / "digest_marts.ok"
    if mark.exists():
        return
    env = {
        **os.environ,
        "DBT_TARGET": "duckdb",
        "DUCKDB_PATH": str(duckdb_path),
        "COMPANY_TIMEZONE": "Europe/Moscow",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    seconds = run_dbt("run", env, workdir / "target", "--select", *DIGEST_SELECT, "--vars", f"{{as_of_day: '{today}'}}")
    mark.write_text("ok\n")
    print(f"digest marts built in {seconds:.1f} s")


def _forecasts(warehouse_url: str, days: list[date], workdir: Path) -> None:
    from dagster import materialize

    from assets.forecast.assets import forecast_month_end
    from assets.insights.assets import insights
    from resources.llm import LLMClient
    from resources.warehouse import Warehouse

    warehouse = Warehouse(url=warehouse_url)
    for day in days:
        mark = workdir / f"forecast_{day.isoformat()}.ok"
        if not mark.exists():
            assert materialize(
                [forecast_month_end], partition_key=day.isoformat(), resources={"warehouse": warehouse}
            ).success
            mark.write_text("ok\n")
    assert materialize(
        [insights], partition_key=days[-1].isoformat(), resources={"warehouse": warehouse, "llm": LLMClient()}
    ).success


def _show(title: str, messages: list, photos: list) -> None:
    print(f"\n===== {title} =====")
    for message in messages:
        print(f"--- to chat {message.chat_id} ({len(message.visible_text)} characters):")
        print(message.visible_text)
        for text, data in message.buttons():
            print(f"[ {text} ]  (callback_data {data})")
    for photo in photos:
        print(f"--- photo to chat {photo.chat_id}: {photo.width}×{photo.height} PNG, {len(photo.photo)} bytes")
        print(f"caption: {photo.visible_caption}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--today", default="2026-11-23")
    parser.add_argument("--workdir", default="/tmp/alerts_bench")
    parser.add_argument("--at", default="18:30", help="the company's local time of the alert tick")
    args = parser.parse_args()
    workdir = Path(args.workdir) / f"M-{args.today}"
    duckdb_path = ensure_warehouse("M", args.today, workdir)
    _digest_marts(duckdb_path, workdir, args.today)
    today = date.fromisoformat(args.today)
    url = f"duckdb:///{duckdb_path}"
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "BITRIX24_WEBHOOK_URL", "TELEGRAM_BOT_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update({"DEMO_TODAY": args.today, "REPORT_SITE_URL": SITE, "COMPANY_TIMEZONE": "Europe/Moscow"})
    _forecasts(url, [today - timedelta(days=1), today], workdir)

    from dagster import AssetMaterialization, build_sensor_context, instance_for_test

    from resources.amocrm import AmoCRMAccount
    from resources.bitrix24 import Bitrix24Portal
    from resources.telegram import TelegramNotifier
    from resources.warehouse import Warehouse
    from schedules.jobs import morning_digest_job
    from schedules.sensors import ALERT_FACTS_KEY, build_sensors
    from tests.fakes.fake_telegram import FakeTelegram

    warehouse = Warehouse(url=url)
    portal = DemoPortal(workdir / "data" / "demo" / f"M-42-{args.today}", rate_limit=None)
    os.environ.update({"BITRIX24_WEBHOOK_URL": portal.start(), "TELEGRAM_ACTION_USERS": f"{ROP_TELEGRAM}:1"})
    for name in ("AMOCRM_BASE_URL", "AMOCRM_ACCESS_TOKEN"):
        os.environ.pop(name, None)
    with FakeTelegram() as tg, instance_for_test() as instance:
        telegram = TelegramNotifier(bot_token="1:DEMO", chat_id=HEAD, api_url=tg.url)
        result = morning_digest_job.execute_in_process(
            instance=instance,
            resources={"warehouse": warehouse, "telegram": telegram},
            run_config={"ops": {"send_morning_digest": {"config": {"as_of_day": args.today}}}},
        )
        assert result.success
        _show(f"digest of {args.today} as received", list(tg.messages), list(tg.photos))
        for photo in tg.photos:
            (workdir / photo.filename).write_bytes(photo.photo)
            print(f"picture saved: {workdir / photo.filename}")

        before = len(tg.messages)
        instance.report_runless_asset_event(AssetMaterialization(asset_key=ALERT_FACTS_KEY))
        hour, minute = (int(part) for part in args.at.split(":"))
        now = datetime.combine(today, time(hour, minute), ZoneInfo("Europe/Moscow"))
        (sensor,) = [
            s for s in build_sensors("Europe/Moscow", clock=lambda: now) if s.name == "rule_alerts_to_head_of_sales"
        ]
        resources = {"warehouse": warehouse, "telegram": telegram, "bitrix24": Bitrix24Portal()}
        with build_sensor_context(instance=instance, resources=resources) as context:
            outcome = sensor(context)
        print(f"\nsensor tick at {now:%d.%m.%Y %H:%M}: {getattr(outcome, 'skip_message', outcome)}")
        alerts = tg.messages[before:]
        _show("alerts of that tick as received", alerts, [])

        pressable = [m for m in alerts if m.buttons()]
        if pressable:
            _, data = pressable[0].buttons()[0]
            deal_id = data.split(":", 1)[1]
            owner = _owner(portal, deal_id)
            tg.press(pressable[0], data, ROP_TELEGRAM, "rop")
            (presses,) = [s for s in build_sensors("Europe/Moscow") if s.name == "telegram_button_presses"]
            resources = {"telegram": telegram, "bitrix24": Bitrix24Portal(), "amocrm": AmoCRMAccount()}
            with build_sensor_context(instance=instance, resources=resources) as context:
                presses(context)
            print(f"\n===== the head of sales presses [{pressable[0].buttons()[0][0]}] =====")
            print(f"answered: {[a['text'] for a in tg.callback_answers]}")
            print(f"deal {deal_id} in the portal: ASSIGNED_BY_ID {owner} -> {_owner(portal, deal_id)}")
    portal.stop()


def _owner(portal: DemoPortal, deal_id: str) -> str:
    return next(str(d["ASSIGNED_BY_ID"]) for d in portal.records("deals") if str(d["ID"]) == deal_id)


if __name__ == "__main__":
    main()
