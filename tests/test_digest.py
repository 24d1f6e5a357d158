"""The 09:00 digest: worth opening (forecast change, chances, deals and calls to chase, top 3, the site),
one phone screen, and a Telegram outage at 09:00 costs a retry, not the digest."""

from __future__ import annotations

from datetime import date

import polars as pl
from dagster import Backoff, RetryPolicy, instance_for_test, materialize

from assets.insights.assets import insights
from assets.insights.facts import build_facts, collect_facts
from resources.llm import LLMClient
from resources.telegram import TelegramNotifier
from resources.warehouse import Warehouse
from schedules.drivers import compact_rub, forecast_drivers
from schedules.jobs import build_digest_job, digest_recommendations, morning_digest_job
from schedules.messages import DIGEST_INSIGHT_CHARS, shorten
from schedules.picture import month_revenue, picture_data, render_png
from tests.fakes import small_day
from tests.fakes.fake_telegram import FakeTelegram

HEAD = "100"
SITE = "https://reports.example.ru/rop/"
RUN_CONFIG = {"ops": {"send_morning_digest": {"config": {"as_of_day": small_day.DAY.isoformat()}}}}
# One phone screen: about 20 lines of some 40 characters in Telegram on a 6-inch phone.
SCREEN_LINES, SCREEN_CHARS = 18, 900


def world(tmp_path, monkeypatch) -> Warehouse:
    """small_day with its forgotten deals and missed calls, and the day's insights written (template)."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REPORT_SITE_URL", SITE)
    wh = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    small_day.write_to(wh)
    small_day.write_chase_lists(wh)
    wh.replace_rows("ml", "forecast_scopes", small_day.forecast_scopes(), where={})
    resources = {"warehouse": wh, "llm": LLMClient()}
    assert materialize([insights], partition_key=small_day.DAY.isoformat(), resources=resources).success
    return wh


def send(tg: FakeTelegram, wh: Warehouse, job=morning_digest_job) -> bool:
    notifier = TelegramNotifier(bot_token="1:T", chat_id=HEAD, api_url=tg.url, max_attempts=1)
    with instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance,
            resources={"warehouse": wh, "telegram": notifier},
            run_config=RUN_CONFIG,
            raise_on_error=False,
        )
    return result.success


def test_the_digest_says_what_changed_and_what_to_chase(tmp_path, monkeypatch):
    wh = world(tmp_path, monkeypatch)
    with FakeTelegram() as tg:
        assert send(tg, wh)
    (msg,) = tg.to(HEAD)
    text = msg.visible_text
    lines = text.splitlines()
    # worked out by hand from small_day: plan 3 000 000, actual 834 567 (27.8 %)
    assert "План 3 000 000 ₽ · факт 834 567 ₽ (28 %)" in lines
    # forecast 2 600 000 today against 9 000 000 yesterday: −6 400 000 ₽, −6.4 / 9 = −71.1 %
    assert "Прогноз на конец месяца 2 600 000 ₽ (−6 400 000 ₽, −71,1 % за сутки)" in lines
    assert "Вероятность выполнить план: 25 %" in lines
    # the managers who moved the forecast most since the 9th (small_day.forecast_scopes, by hand):
    # Петров +900 000, Иванов −160 000, Козлов gone −50 000; Новиков +30 000 is fourth, Сидорова +400 rounding
    at = lines.index("Что сдвинуло прогноз за сутки:")
    assert lines[at + 1 : at + 4] == [
        "• Петров Пётр +0,9 млн ₽",
        "• Иванов Иван −0,2 млн ₽",
        "• Козлов Олег −50 тыс. ₽",
    ]
    assert lines[at + 4].startswith("Забытых сделок")
    # deals 501 (450 000) and 502 (120 000) forgotten; 3 calls missed on the 9th
    assert "Забытых сделок 2 на 570 000 ₽; пропущенных звонков вчера 3" in lines
    # the top 3: what the lines above do not show yet, not plan/forecast again, by rubles at stake:
    # forgotten 570 000 > Петров's shortfall 1 200 000 × 10/31 − 100 000 = 287 097 > Сидорова's revenue 48 500
    top = [line for line in lines if line[:2] in {"1.", "2.", "3.", "4."}]
    assert [line[:2] for line in top] == ["1.", "2.", "3."]
    assert top[0].startswith("1. Забыто 2 сделки на 570 000 ₽. Начните с крупнейшей: сделка № 501 (450 000 ₽")
    # each ends with its action, whole (a cut at the length limit used to drop it)
    assert top[0].endswith("— попросите менеджера связаться с клиентом сегодня.")
    assert top[1].endswith(" Сегодня разберите воронку каждого один на один.")
    assert top[1].startswith("2. Отстают от темпа: Петров Пётр — 8 % плана")
    assert top[2].startswith("3. Необычные показатели: Петров Пётр: исходящие звонки 3 (обычно 35)")
    assert lines[-1] == "Открыть отчёт" and f'<a href="{SITE}">Открыть отчёт</a>' in msg.text
    # one phone screen
    assert len(lines) <= SCREEN_LINES and len(text) <= SCREEN_CHARS, (len(lines), len(text))
    # then the picture: plan 3 000 000, forecast 2 600 000 in 2 300 000..2 900 000 (small_day.forecast)
    (photo,) = tg.photos_to(HEAD)
    assert photo.visible_caption == "План 3 000 000 ₽ · прогноз 2 600 000 ₽ (80 %: 2 300 000–2 900 000 ₽)"
    assert (photo.width, photo.height) == (960, 540) and photo.filename == "plan_2025-03-10.png"


def test_a_company_without_the_chase_lists_or_the_site_gets_the_rest(tmp_path, monkeypatch):
    wh = world(tmp_path, monkeypatch)
    monkeypatch.delenv("REPORT_SITE_URL")
    with wh.connect() as con:
        con.execute("drop table marts.mart_forgotten")
        con.execute("drop table marts.mart_missed_calls")
    with FakeTelegram() as tg:
        assert send(tg, wh)
    (msg,) = tg.to(HEAD)
    assert "Забытых" not in msg.visible_text and "пропущенных" not in msg.visible_text
    assert "<a " not in msg.text and "2 600 000 ₽" in msg.visible_text


def test_a_day_with_few_insights_never_repeats_the_plan_or_the_forecast():
    """The digest's own lines already say plan, actual and forecast: two other insights give two lines."""
    items = [("plan", "На 10.03 выполнено 28 % плана"), ("lagging", "L"), ("forecast", "Прогноз"), ("forgotten", "G")]
    assert digest_recommendations(items) == ["L", "G"]
    assert digest_recommendations([("plan", "P"), ("forecast", "F")]) == []


def test_a_long_recommendation_keeps_its_action_and_loses_the_middle():
    action = "Сегодня разберите воронку каждого один на один."
    names = "; ".join(f"Менеджер {i} — {i} % плана при ожидаемых 77 %" for i in range(10))
    short = shorten(f"Отстают от темпа: {names}. {action}")
    assert len(short) <= DIGEST_INSIGHT_CHARS
    assert short.startswith("Отстают от темпа: Менеджер 0 — 0 % плана") and short.endswith(f"… {action}")
    # without a closing sentence (or with one too long to keep) the text is cut at a word
    plain = shorten("слово " * 60)
    assert len(plain) <= DIGEST_INSIGHT_CHARS and plain.endswith("слово…")
    assert shorten("Коротко. Сделайте это.") == "Коротко. Сделайте это."


def test_the_digest_job_retries_a_telegram_outage_and_sends_once(tmp_path, monkeypatch):
    assert morning_digest_job.op_retry_policy == RetryPolicy(max_retries=3, delay=60, backoff=Backoff.EXPONENTIAL)
    wh = world(tmp_path, monkeypatch)
    with FakeTelegram() as tg:
        tg.fail_next(count=1, status=502)  # the first attempt's only try meets the outage
        assert send(tg, wh, build_digest_job(RetryPolicy(max_retries=1)))
        assert len(tg.to(HEAD)) == 1
        tg.fail_next(count=1, status=502)
        assert not send(tg, wh, build_digest_job(RetryPolicy(max_retries=0)))  # without a retry it is lost


def test_drivers_come_from_managers_of_the_same_month_only():
    scopes = small_day.forecast_scopes()
    # without manager rows the departments speak: Отдел 1 2 000 000 -> 7 000 000
    departments = forecast_drivers(scopes.filter(scopes["scope_type"] != "manager"), small_day.DAY)
    assert [(d.name, d.change_rub) for d in departments] == [("Отдел 1", 5_000_000.0)]
    # the 1st of April against the 31st of March forecast different months: no drivers
    april = date(2025, 4, 1)
    shifted = scopes.with_columns(
        as_of_day=pl.when(pl.col("as_of_day") == small_day.DAY).then(pl.lit(april)).otherwise(date(2025, 3, 31)),
        month=pl.when(pl.col("as_of_day") == small_day.DAY).then(pl.lit(april)).otherwise(small_day.MONTH),
    )
    assert forecast_drivers(shifted, april) == []
    # no yesterday: nothing to compare
    assert forecast_drivers(scopes.filter(scopes["as_of_day"] == small_day.DAY), small_day.DAY) == []
    assert [compact_rub(x) for x in (912_345, -45_300, 700, -1_260_000)] == [
        "+0,9 млн ₽",
        "−45 тыс. ₽",
        "+700 ₽",
        "−1,3 млн ₽",
    ]


def revenue_daily() -> pl.DataFrame:
    """mart_revenue_daily: 100 000 + 34 567 on the 3rd, 500 000 on the 5th, 200 000 on the 9th (= 834 567);
    February's and the 11th's rows are outside the picture."""
    days = [
        date(2025, 3, 3),
        date(2025, 3, 3),
        date(2025, 3, 5),
        date(2025, 3, 9),
        date(2025, 2, 28),
        date(2025, 3, 11),
    ]
    return pl.DataFrame(
        {
            "day": days,
            "department_id": [1, 2, 1, 2, 1, 1],
            "won_rub": [100_000.0, 34_567.0, 500_000.0, 200_000.0, 999.0, 1.0],
        }
    )


def test_the_picture_draws_the_month_so_far_and_the_forecast_fan(tmp_path, monkeypatch):
    wh = world(tmp_path, monkeypatch)
    wh.replace_rows("marts", "mart_revenue_daily", revenue_daily(), where={})
    data = picture_data(collect_facts(wh, small_day.DAY), month_revenue(wh, small_day.DAY))
    # the running total by hand: 0 on the 1st and 2nd, 134 567 from the 3rd, 634 567 from the 5th, 834 567 from the 9th
    expected = [0.0, 0.0, 0.0, 134_567.0, 134_567.0, 634_567.0, 634_567.0, 634_567.0, 634_567.0, 834_567.0, 834_567.0]
    assert data.actual == list(enumerate(expected))
    assert data.plan_rub == 3_000_000.0 and data.days_in_month == 31
    assert data.forecast == (2_300_000.0, 2_600_000.0, 2_900_000.0) and data.as_of == (10, 834_567.0)
    assert data.title == "Выручка за март 2025, на 10.03.2025"
    assert render_png(data)[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_failed_picture_never_stops_the_text(tmp_path, monkeypatch, caplog):
    wh = world(tmp_path, monkeypatch)
    with FakeTelegram() as tg:
        tg.outage_after(accepted=1)  # the Bot API goes down right after the text
        assert send(tg, wh, build_digest_job(RetryPolicy(max_retries=1)))
        assert len(tg.to(HEAD)) == 1 and tg.photos == []
        tg.recover()
    assert "digest picture not sent: telegram sendPhoto" in caplog.text


def test_on_the_first_of_a_month_the_forecast_has_no_change_since_yesterday():
    # 31 March forecast March (9 000 000), 1 April forecasts April (2 600 000): different months
    rows = small_day.forecast().filter(pl.col("scope") == "company")
    first, last = date(2025, 4, 1), date(2025, 3, 31)
    forecast = rows.with_columns(
        as_of_day=pl.when(pl.col("as_of_day") == small_day.DAY).then(pl.lit(first)).otherwise(pl.lit(last)),
        month=pl.when(pl.col("as_of_day") == small_day.DAY).then(pl.lit(date(2025, 4, 1))).otherwise(small_day.MONTH),
    )
    facts = build_facts(first, small_day.plan_fact(), forecast)
    assert facts.forecast_rub == 2_600_000.0 and facts.forecast_change_rub is None
    same_month = build_facts(small_day.DAY, small_day.plan_fact(), small_day.forecast())
    assert same_month.forecast_change_rub == 2_600_000.0 - 9_000_000.0


def test_a_rerun_of_the_day_sends_neither_the_text_nor_the_picture_again(tmp_path, monkeypatch):
    wh = world(tmp_path, monkeypatch)
    with FakeTelegram() as tg, instance_for_test() as instance:
        notifier = TelegramNotifier(bot_token="1:T", chat_id=HEAD, api_url=tg.url, max_attempts=1)
        for _ in range(2):
            assert morning_digest_job.execute_in_process(
                instance=instance, resources={"warehouse": wh, "telegram": notifier}, run_config=RUN_CONFIG
            ).success
        assert len(tg.to(HEAD)) == 1 and len(tg.photos_to(HEAD)) == 1
