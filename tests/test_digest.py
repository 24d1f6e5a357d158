"""The 09:00 digest: worth opening (forecast change, chances, deals and calls to chase, top 3, the site),
one phone screen, and a Telegram outage at 09:00 costs a retry, not the digest."""

from __future__ import annotations

from dagster import Backoff, RetryPolicy, instance_for_test, materialize

from assets.insights.assets import insights
from resources.llm import LLMClient
from resources.telegram import TelegramNotifier
from resources.warehouse import Warehouse
from schedules.jobs import build_digest_job, morning_digest_job
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
    # deals 501 (450 000) and 502 (120 000) forgotten; 3 calls missed on the 9th
    assert "Забытых сделок 2 на 570 000 ₽; пропущенных звонков вчера 3" in lines
    # the top 3: what the lines above do not show yet, not plan/forecast again, by rubles at stake:
    # forgotten 570 000 > Петров's shortfall 1 200 000 × 10/31 − 100 000 = 287 097 > Сидорова's revenue 48 500
    top = [line for line in lines if line[:2] in {"1.", "2.", "3.", "4."}]
    assert [line[:2] for line in top] == ["1.", "2.", "3."]
    assert top[0].startswith("1. Забыто 2 сделки на 570 000 ₽. Начните с крупнейшей: сделка № 501 (450 000 ₽")
    assert top[1].startswith("2. Отстают от темпа: Петров Пётр — 8 % плана")
    assert top[2].startswith("3. Необычные показатели: Петров Пётр: исходящие звонки 3 (обычно 35)")
    assert lines[-1] == "Открыть отчёт" and f'<a href="{SITE}">Открыть отчёт</a>' in msg.text
    # one phone screen
    assert len(lines) <= SCREEN_LINES and len(text) <= SCREEN_CHARS, (len(lines), len(text))


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


def test_the_digest_job_retries_a_telegram_outage_and_sends_once(tmp_path, monkeypatch):
    assert morning_digest_job.op_retry_policy == RetryPolicy(max_retries=3, delay=60, backoff=Backoff.EXPONENTIAL)
    wh = world(tmp_path, monkeypatch)
    with FakeTelegram() as tg:
        tg.fail_next(count=1, status=502)  # the first attempt's only try meets the outage
        assert send(tg, wh, build_digest_job(RetryPolicy(max_retries=1)))
        assert len(tg.to(HEAD)) == 1
        tg.fail_next(count=1, status=502)
        assert not send(tg, wh, build_digest_job(RetryPolicy(max_retries=0)))  # without a retry it is lost
