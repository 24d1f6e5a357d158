"""The Telegram notifier against a loopback Bot API: what arrives is what was meant, and the token stays secret."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from resources.telegram import TelegramError, TelegramNotifier, split_message
from tests.fakes.fake_telegram import FakeTelegram

TOKEN = "123456:ABC-secret-token-xyz"


@pytest.fixture(autouse=True)
def no_telegram_env(monkeypatch):
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "TELEGRAM_ONCALL_CHAT_ID", "TELEGRAM_API_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def tg():
    with FakeTelegram() as fake:
        yield fake


def notifier(tg: FakeTelegram, **kw) -> TelegramNotifier:
    return TelegramNotifier(bot_token=TOKEN, chat_id="100", oncall_chat_id="200", api_url=tg.url, **kw)


def test_plain_text_is_escaped_and_arrives_unchanged(tg):
    text = "Конверсия <12 %> & падает: проверьте «Воронку 1»"
    assert notifier(tg).send("100", text) == 1
    (msg,) = tg.messages
    assert msg.parse_mode == "HTML" and msg.chat_id == "100" and msg.token == TOKEN
    assert msg.visible_text == text  # the reader sees exactly the text, nothing swallowed as a tag
    assert tg.rejected == []


def test_long_text_is_split_under_the_limit_in_order(tg):
    lines = [f"Строка {i:04d}: менеджер & сделка <{i}>" for i in range(400)]  # ~20 000 chars escaped
    sent = notifier(tg).send("100", "\n".join(lines))
    assert sent == len(tg.messages) >= 4
    assert all(len(m.text) <= 4096 for m in tg.messages)
    received = "\n".join(m.visible_text for m in tg.messages).splitlines()
    assert received == lines


def test_a_single_huge_line_is_cut_without_breaking_entities(tg):
    text = "&" * 5000  # every char becomes &amp; (5 chars): cuts must fall between entities
    notifier(tg).send("100", text)
    assert tg.rejected == []
    assert "".join(m.visible_text for m in tg.messages) == text


def test_split_message_keeps_short_text_whole():
    assert split_message("привет") == ["привет"]


def test_rate_limit_is_honoured(tg):
    tg.rate_limit_once(retry_after=1)
    started = time.monotonic()
    notifier(tg).send("200", "проверка")
    assert time.monotonic() - started >= 1.0  # waited retry_after before retrying
    assert tg.requests == 2
    assert [m.text for m in tg.to("200")] == ["проверка"]


def test_token_never_appears_in_logs_or_errors(tg, caplog):
    caplog.set_level(logging.DEBUG)
    notifier(tg).send("100", "ok")
    # an unreachable API: the error names the problem, not the token-bearing URL
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    dead = TelegramNotifier(bot_token=TOKEN, chat_id="100", api_url=f"http://127.0.0.1:{dead_port}", timeout_seconds=2)
    with pytest.raises(TelegramError) as err:
        dead.send("100", "ok")
    assert TOKEN not in str(err.value)
    assert "sent 1 message" in caplog.text
    assert TOKEN not in caplog.text


def test_a_refused_message_raises_with_the_reason(tg):
    with pytest.raises(TelegramError, match="chat_id is empty"):
        notifier(tg)._post(TOKEN, "sendMessage", {"chat_id": "", "text": "x"})


def test_without_a_token_sending_is_a_logged_no_op(tg, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("TELEGRAM_API_URL", tg.url)
    quiet = TelegramNotifier()
    assert not quiet.enabled
    assert quiet.send(quiet.head_chat, "сводка") == 0
    assert tg.requests == 0
    assert "TELEGRAM_BOT_TOKEN is not set" in caplog.text


def test_settings_come_from_the_environment(tg, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "777")
    monkeypatch.setenv("TELEGRAM_ONCALL_CHAT_ID", "888")
    monkeypatch.setenv("TELEGRAM_API_URL", tg.url + "/")
    env = TelegramNotifier()
    assert env.enabled and env.head_chat == "777" and env.oncall_chat == "888"
    env.send(env.oncall_chat, "дежурному")
    assert [m.text for m in tg.to("888")] == ["дежурному"]
    assert TelegramNotifier().base_url == tg.url
