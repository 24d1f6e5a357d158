"""The Telegram notifier against a loopback Bot API: what arrives is what was meant, and the token stays secret."""

from __future__ import annotations

import json
import logging
import socket
import time

import pytest

from resources.telegram import (
    Outbox,
    TelegramDeferred,
    TelegramError,
    TelegramNotifier,
    TelegramUnreachable,
    escape_html,
    split_message,
)
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


# --- failures: retried, deferred, resumed ------------------------------------------------------
class RecordingNotifier(TelegramNotifier):
    """Records the waits a 429 asks for instead of sleeping through them."""

    def sleep(self, seconds: float) -> None:
        WAITS.append(seconds)


WAITS: list[float] = []


def long_text() -> tuple[str, list[str]]:
    """About 12 000 characters in lines: three pieces or more."""
    lines = [f"Строка {i:04d}: менеджер, сделка, сумма {i * 1000} ₽" for i in range(300)]
    return "\n".join(lines), lines


def test_5xx_and_dropped_connections_are_retried(tg):
    tg.fail_next(2, status=502)
    assert notifier(tg).send("100", "после 502") == 1
    assert tg.requests == 3 and [m.text for m in tg.messages] == ["после 502"]
    tg.drop_next(1)
    assert notifier(tg).send("100", "после обрыва") == 1
    assert [m.text for m in tg.messages] == ["после 502", "после обрыва"]


def test_a_long_retry_after_is_honoured_when_there_is_no_deadline(tg):
    WAITS.clear()
    tg.rate_limit_once(retry_after=600)  # above the shared session's 120 s cap
    quiet = RecordingNotifier(bot_token=TOKEN, api_url=tg.url)
    assert quiet.send("100", "через 10 минут") == 1
    assert WAITS == [600.0] and tg.requests == 2


def test_a_retry_after_past_the_deadline_is_not_waited_but_deferred(tg):
    tg.rate_limit_once(retry_after=300)
    started = time.monotonic()
    with pytest.raises(TelegramDeferred, match="0 of 1 piece"):
        notifier(tg).send_html("100", "позже", deadline=time.time() + 5)
    assert time.monotonic() - started < 5 and tg.messages == []


def test_the_outbox_keeps_what_a_rate_limit_holds_back_for_the_next_tick(tg):
    text, lines = long_text()
    outbox = Outbox()
    outbox.add("100", escape_html(text))
    outbox.add("200", "второе")
    tg.rate_limit_once(retry_after=300)
    now = time.time()
    # tick 1: the first piece is rate limited for 300 s, past the tick's 30 s
    assert outbox.flush(notifier(tg), deadline=now + 30) == 0
    assert [(p.chat, p.delivered) for p in outbox.pending] == [("100", 0), ("200", 0)]
    assert all(p.not_before >= now + 299 for p in outbox.pending)
    # stored as the sensor stores it, read back by the next tick
    outbox = Outbox.model_validate(json.loads(json.dumps(outbox.model_dump())))
    # a tick before retry_after has passed sends nothing
    assert outbox.flush(notifier(tg), deadline=now + 90, clock=lambda: now + 60) == 0
    assert tg.requests == 1
    # a tick after it delivers everything, in order
    later = now + 301
    assert outbox.flush(notifier(tg), deadline=later + 30, clock=lambda: later) == 2
    assert outbox.pending == []
    assert "\n".join(m.visible_text for m in tg.to("100")).splitlines() == lines
    assert [m.text for m in tg.to("200")] == ["второе"]


def test_a_split_message_that_fails_half_way_is_resumed_not_resent(tg):
    text, lines = long_text()
    progress = MemoryProgress()
    tg.outage_after(2, status=502)  # two pieces go, then the Bot API is down
    with pytest.raises(TelegramUnreachable):
        notifier(tg).send("100", text, progress=progress)
    assert len(tg.messages) == 2
    tg.recover()
    sent = notifier(tg).send("100", text, progress=progress)  # the rerun
    assert sent == len(tg.messages) - 2 >= 1
    assert "\n".join(m.visible_text for m in tg.messages).splitlines() == lines  # each line once, in order
    assert notifier(tg).send("100", text, progress=progress) == 0  # a third run: nothing again


def test_the_outbox_resumes_a_split_message_after_an_outage(tg):
    text, lines = long_text()
    outbox = Outbox()
    outbox.add("100", escape_html(text))
    tg.outage_after(1, status=503)
    now = time.time()
    assert outbox.flush(notifier(tg), deadline=now + 30) == 0
    assert outbox.pending[0].delivered == 1 and len(tg.messages) == 1
    tg.recover()
    assert outbox.flush(notifier(tg), deadline=now + 150, clock=lambda: now + 90) == 1  # after the 60 s pause
    assert "\n".join(m.visible_text for m in tg.messages).splitlines() == lines


def test_a_refused_message_leaves_the_outbox_and_does_not_block_the_rest(tg, caplog):
    outbox = Outbox()
    outbox.add("100", "<b>не закрыт тег")  # Telegram cannot parse it: it will never go
    outbox.add("100", "следующее")
    assert outbox.flush(notifier(tg), deadline=time.time() + 30) == 1
    assert [m.text for m in tg.messages] == ["следующее"] and outbox.pending == []
    assert "can't parse entities" in caplog.text


class MemoryProgress:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def get(self, key: str) -> int:
        return self.values.get(key, 0)

    def set(self, key: str, delivered: int) -> None:
        self.values[key] = delivered


def png_header(width: int, height: int) -> bytes:
    """The first bytes of a PNG of width × height: what the Bot API (and the fake) read its size from."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


class MemoryProgress(dict):
    def get(self, key, default=0):  # type: ignore[override]
        return super().get(key, default)

    def set(self, key, delivered):
        self[key] = delivered


def test_a_photo_is_uploaded_as_a_multipart_file_with_its_html_caption(tg, caplog):
    caplog.set_level(logging.DEBUG)
    progress = MemoryProgress()
    sent = notifier(tg).send_photo("100", png_header(960, 540), "<b>План</b> &amp; прогноз", progress=progress)
    assert sent == 1
    (photo,) = tg.photos_to("100")
    assert (photo.width, photo.height, photo.parse_mode) == (960, 540, "HTML")
    assert photo.visible_caption == "План & прогноз" and photo.photo.startswith(b"\x89PNG")
    # the same picture again (a rerun) is not sent twice
    assert notifier(tg).send_photo("100", png_header(960, 540), "<b>План</b> &amp; прогноз", progress=progress) == 0
    assert len(tg.photos) == 1 and TOKEN not in caplog.text


def test_the_fake_refuses_what_the_bot_api_refuses_in_a_photo(tg):
    with pytest.raises(TelegramError, match="IMAGE_PROCESS_FAILED") as refused:
        notifier(tg).send_photo("100", b"GIF89a not a png", "x")
    assert TOKEN not in str(refused.value)
    with pytest.raises(TelegramError, match="PHOTO_INVALID_DIMENSIONS"):
        notifier(tg).send_photo("100", png_header(4000, 100), "41 : 1")
    with pytest.raises(ValueError, match="1024"):
        notifier(tg).send_photo("100", png_header(10, 10), "я" * 1025)
    # a caption counts after entities: 1024 visible characters pass, one more does not (sent by hand)
    import requests

    url = f"{tg.url}/bot{TOKEN}/sendPhoto"
    files = {"photo": ("p.png", png_header(10, 10), "image/png")}
    ok = requests.post(
        url, data={"chat_id": "1", "caption": "<b>" + "я" * 1024 + "</b>", "parse_mode": "HTML"}, files=files
    )
    assert ok.json()["ok"] is True
    long = requests.post(url, data={"chat_id": "1", "caption": "я" * 1025}, files=files)
    assert long.status_code == 400 and "caption is too long" in long.json()["description"]
    no_file = requests.post(url, data={"chat_id": "1"}, files={"document": ("a.png", png_header(10, 10))})
    assert "no photo" in no_file.json()["description"]
