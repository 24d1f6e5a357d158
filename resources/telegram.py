"""Telegram Bot API: the digest to the head of sales and alerts to the on-call chat.

The only code that reaches Telegram, through the shared retrying session (resources/http.py): a
refused connection, a timeout and 5xx are tried again with backoff. A 429 names its wait in the body
(`parameters.retry_after`, any size): `deliver` waits it out when that ends before the caller's
deadline, else stops and says when to come back; `Outbox` keeps such messages (and those a network
failure held back) for the caller to store durably and send on its next tick, resuming a message
split in pieces from the first piece not delivered, as `send_html` does with a `Progress` store.
The bot token is part of every Bot API URL, so this module never logs a URL and scrubs the token
from any error it re-raises. Settings are read when the resource is used (not at import time), so
the token never sits in Dagster's resource config; TELEGRAM_API_URL may name a self-hosted Bot API.
"""

from __future__ import annotations

import hashlib
import html
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import requests
from dagster import ConfigurableResource, get_dagster_logger
from pydantic import BaseModel

from resources.http import RETRY_STATUS, NoAnswer, RetryingSession, RetryPolicy, retry_after_header
from resources.settings import load_settings

MAX_MESSAGE_CHARS = 4096
MAX_CAPTION_CHARS = 1024  # a photo's caption, after entity parsing (Bot API sendPhoto)


class TelegramError(RuntimeError):
    """The Bot API refused a message (the text never contains the token)."""


class TelegramUnreachable(TelegramError):
    """No answer from the Bot API, or 5xx after the retries: worth trying again later."""


class Delivery(BaseModel):
    """How far one message got: `delivered` of its `pieces`; `retry_at` (epoch s) when rate limited."""

    chat: str
    pieces: int
    delivered: int
    retry_at: float | None = None

    @property
    def complete(self) -> bool:
        return self.delivered >= self.pieces


class TelegramDeferred(TelegramError):
    """Rate limited beyond the caller's deadline; the delivered pieces are recorded, the rest are not sent."""

    def __init__(self, delivery: Delivery) -> None:
        wait = max(0.0, (delivery.retry_at or time.time()) - time.time())
        super().__init__(
            f"telegram: rate limited for {wait:.0f} s more; {delivery.delivered} of {delivery.pieces} piece(s) "
            "delivered, the rest are sent by the next attempt"
        )
        self.delivery = delivery


class Progress(Protocol):
    """A durable record of how many pieces of a message were delivered (key: `message_key`)."""

    def get(self, key: str) -> int: ...

    def set(self, key: str, delivered: int) -> None: ...


def message_key(chat: str, html_text: str) -> str:
    """A message's identity for its progress: the chat and a digest of the text (never the text itself)."""
    return f"telegram:{chat}:{hashlib.sha256(html_text.encode()).hexdigest()[:16]}"


def escape_html(text: str) -> str:
    """Escape < > & for parse_mode=HTML (the Bot API's three reserved characters)."""
    return html.escape(text, quote=False)


def split_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Cut text into pieces of at most `limit` chars, at line breaks where possible.

    An HTML entity (&amp; …) is never cut in two; callers keep tags within one line.
    """
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
            amp = rest.rfind("&", max(0, cut - 8), cut)
            if amp != -1 and ";" not in rest[amp:cut]:
                cut = amp
        pieces.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:].lstrip("\n")
    if rest or not pieces:
        pieces.append(rest)
    return [p for p in pieces if p] or [""]


class TelegramNotifier(ConfigurableResource):
    """Sends HTML messages through a Telegram bot.

    Each field left empty is read from the settings when used: bot_token ← TELEGRAM_BOT_TOKEN,
    chat_id ← TELEGRAM_CHAT_ID (the head of sales), oncall_chat_id ← TELEGRAM_ONCALL_CHAT_ID,
    marketer_chat_id ← TELEGRAM_MARKETER_CHAT_ID (channel alerts, optional),
    api_url ← TELEGRAM_API_URL (default https://api.telegram.org, or a self-hosted Bot API server).
    Without a token, sending is a logged no-op.
    """

    bot_token: str | None = None
    chat_id: str | None = None
    oncall_chat_id: str | None = None
    marketer_chat_id: str | None = None
    api_url: str | None = None
    timeout_seconds: float = 15.0
    max_attempts: int = 3

    # --- resolved settings -------------------------------------------------------------
    def _token(self) -> str | None:
        secret = None if self.bot_token else load_settings().telegram_bot_token
        return self.bot_token or (secret.get_secret_value() if secret else None)

    @property
    def enabled(self) -> bool:
        return self._token() is not None

    @property
    def head_chat(self) -> str | None:
        """The head of sales' chat: digest and business alerts."""
        return self.chat_id or load_settings().telegram_chat_id

    @property
    def oncall_chat(self) -> str | None:
        """The on-call chat: failed runs and failed data checks."""
        return self.oncall_chat_id or load_settings().telegram_oncall_chat_id

    @property
    def marketer_chat(self) -> str | None:
        """The marketer's chat: channel alerts (budget overrun), besides the head of sales; None when unset."""
        return self.marketer_chat_id or load_settings().telegram_marketer_chat_id

    @property
    def base_url(self) -> str:
        return (self.api_url or load_settings().telegram_api_url).rstrip("/")

    def _log(self) -> logging.Logger:
        return get_dagster_logger("telegram")

    # --- sending -------------------------------------------------------------------------
    def send(self, chat: str | None, text: str, progress: Progress | None = None) -> int:
        """Send plain text (escaped here) to `chat`; returns the number of messages sent."""
        return self.send_html(chat, escape_html(text), progress=progress)

    def send_html(
        self,
        chat: str | None,
        html_text: str,
        progress: Progress | None = None,
        deadline: float | None = None,
        reply_markup: dict[str, Any] | None = None,
    ) -> int:
        """Send text already in Telegram HTML (parts escaped with escape_html); split at 4096 chars.

        With `progress` (a durable store, e.g. the Dagster instance's), the pieces delivered are
        recorded one by one, so a rerun after a failure half-way sends only the pieces not delivered.
        A 429 is waited out whatever its retry_after, unless that passes `deadline` (epoch seconds):
        then TelegramDeferred is raised, the delivered pieces recorded. Returns the pieces sent now.
        `reply_markup` (an inline keyboard) goes with the last piece.
        """
        if not self._ready(chat, html_text):
            return 0
        assert chat is not None
        key = message_key(chat, html_text)
        start = progress.get(key) if progress is not None else 0
        pieces = len(split_message(html_text))
        if start >= pieces:
            self._log().info("telegram: message %s already delivered to chat %s; not sent again", key, chat)
            return 0
        record = (lambda done: progress.set(key, done)) if progress is not None else None
        delivery = self.deliver(
            chat, html_text, start=start, deadline=deadline, on_piece=record, reply_markup=reply_markup
        )
        if not delivery.complete:
            raise TelegramDeferred(delivery)
        return delivery.delivered - start

    def deliver(
        self,
        chat: str,
        html_text: str,
        *,
        start: int = 0,
        deadline: float | None = None,
        on_piece: Callable[[int], None] | None = None,
        reply_markup: dict[str, Any] | None = None,
    ) -> Delivery:
        """Send the pieces of `html_text` from piece `start` on; `on_piece(n)` after each (n delivered).

        Network errors and 5xx are retried with backoff (resources/http.py); a 429 is waited out when
        its retry_after ends before `deadline` (None: always), else the delivery stops there and says
        when to come back (`retry_at`). Raises TelegramUnreachable when the Bot API does not answer (or
        keeps answering 5xx) and TelegramError when it refuses the message; the pieces delivered before
        were reported to `on_piece`.
        """
        token = self._token()
        pieces = split_message(html_text)
        if token is None:
            return Delivery(chat=chat, pieces=len(pieces), delivered=len(pieces))
        done = start
        while done < len(pieces):
            payload = {
                "chat_id": chat,
                "text": pieces[done],
                "parse_mode": "HTML",
                "link_preview_options": {"is_disabled": True},
            }
            if reply_markup is not None and done == len(pieces) - 1:
                payload["reply_markup"] = reply_markup
            wait = self._post(token, "sendMessage", payload)
            if wait is None:
                done += 1
                if on_piece is not None:
                    on_piece(done)
                continue
            now = time.time()
            if deadline is not None and now + wait > deadline:
                self._log().warning(
                    "telegram: rate limited for %.0f s, past this send's deadline; %d of %d piece(s) delivered, "
                    "the rest later",
                    wait,
                    done,
                    len(pieces),
                )
                return Delivery(chat=chat, pieces=len(pieces), delivered=done, retry_at=now + wait)
            self._log().warning("telegram: rate limited, waiting %.0f s as the Bot API asks", wait)
            self.sleep(wait)
        self._log().info("telegram: sent %d message(s) to chat %s", done - start, chat)
        return Delivery(chat=chat, pieces=len(pieces), delivered=done)

    def send_photo(
        self,
        chat: str | None,
        photo: bytes,
        caption_html: str = "",
        *,
        filename: str = "picture.png",
        progress: Progress | None = None,
        deadline: float | None = None,
    ) -> int:
        """Send one picture (uploaded as a multipart file, as the Bot API takes a new photo) with a caption
        in Telegram HTML of at most MAX_CAPTION_CHARS; returns 1 when sent now, else 0.

        With `progress`, a picture already delivered (same chat, caption and bytes) is not sent again.
        A 429 is waited out unless that passes `deadline` (then TelegramDeferred); refusals and an
        unreachable Bot API raise as `deliver` does, the token scrubbed."""
        if len(caption_html) > MAX_CAPTION_CHARS:
            raise ValueError(
                f"telegram: a photo caption is at most {MAX_CAPTION_CHARS} characters, got {len(caption_html)}"
            )
        if not self._ready(chat, caption_html):
            return 0
        assert chat is not None
        key = message_key(chat, caption_html + hashlib.sha256(photo).hexdigest()) + ":photo"
        if progress is not None and progress.get(key) >= 1:
            self._log().info("telegram: photo %s already delivered to chat %s; not sent again", key, chat)
            return 0
        token = self._token()
        assert token is not None
        fields: dict[str, Any] = {"chat_id": chat}
        if caption_html:
            fields.update({"caption": caption_html, "parse_mode": "HTML"})
        while True:
            wait, _ = self._request(token, "sendPhoto", fields, files={"photo": (filename, photo, "image/png")})
            if wait is None:
                break
            now = time.time()
            if deadline is not None and now + wait > deadline:
                raise TelegramDeferred(Delivery(chat=chat, pieces=1, delivered=0, retry_at=now + wait))
            self._log().warning("telegram: rate limited, waiting %.0f s as the Bot API asks", wait)
            self.sleep(wait)
        if progress is not None:
            progress.set(key, 1)
        self._log().info("telegram: sent a photo (%d bytes) to chat %s", len(photo), chat)
        return 1

    def sleep(self, seconds: float) -> None:
        """The wait a 429 asks for (a method, so a test can shorten it)."""
        time.sleep(seconds)

    def _ready(self, chat: str | None, html_text: str) -> bool:
        if self._token() is None:
            self._log().info("telegram: TELEGRAM_BOT_TOKEN is not set; message not sent (%d chars)", len(html_text))
            return False
        if not chat:
            self._log().warning("telegram: no chat id configured for this message; not sent")
            return False
        return True

    # --- buttons pressed -----------------------------------------------------------------
    def get_updates(self, offset: int | None) -> list[dict[str, Any]]:
        """Button presses (callback_query updates) from `offset` on; asking with offset n confirms those below n.

        Empty without a token or when rate limited (the next poll asks again)."""
        token = self._token()
        if token is None:
            return []
        payload: dict[str, Any] = {"timeout": 0, "allowed_updates": ["callback_query"]}
        if offset is not None:
            payload["offset"] = offset
        wait, result = self._request(token, "getUpdates", payload)
        return [] if wait is not None else list(result or [])

    def answer_callback(self, callback_query_id: str, text: str) -> None:
        """Answer a pressed button (the presser sees `text` as a notification; the button stops spinning)."""
        token = self._token()
        if token is not None:
            self._request(token, "answerCallbackQuery", {"callback_query_id": callback_query_id, "text": text[:200]})

    def _post(self, token: str, method: str, payload: dict[str, Any]) -> float | None:
        """One Bot API call: None when done, the seconds to wait on a 429; raises on anything else."""
        return self._request(token, method, payload)[0]

    def _request(
        self, token: str, method: str, payload: dict[str, Any], files: dict[str, tuple[str, bytes, str]] | None = None
    ) -> tuple[float | None, Any]:
        """One Bot API call: (None, its result) when done, (seconds to wait, None) on a 429; raises on anything else.

        With `files` the call is multipart/form-data (the payload as form fields), else JSON."""
        session = RetryingSession(
            "telegram",
            policy=RetryPolicy(max_attempts=self.max_attempts),
            timeout=self.timeout_seconds,
            retry_status=RETRY_STATUS - {429},  # a 429 names its own wait, honoured by `deliver`
            describe=lambda url: url.rsplit("/", 1)[-1],
        )  # the method, never the token
        with session:
            try:
                url = f"{self.base_url}/bot{token}/{method}"
                response = session.post(url, data=payload, files=files) if files else session.post(url, json=payload)
            except NoAnswer as exc:
                raise TelegramUnreachable(
                    f"telegram {method}: cannot reach the Bot API ({exc.reason}, {exc.attempts} attempt(s))"
                ) from None
            except requests.RequestException as exc:
                raise TelegramUnreachable(
                    f"telegram {method}: cannot reach the Bot API: {str(exc).replace(token, '***')}"
                ) from None
        answer = _answer(response)
        if answer.get("ok"):
            return None, answer.get("result")
        if answer.get("error_code") == 429 or response.status_code == 429:
            return _retry_after(response) or 1.0, None
        description = str(answer.get("description", "no description")).replace(token, "***")
        error = f"telegram {method} failed: {answer.get('error_code')} {description}"
        if response.status_code >= 500:
            raise TelegramUnreachable(f"{error} (after {self.max_attempts} attempts)")
        raise TelegramError(error)


class Pending(BaseModel):
    """A message waiting in an Outbox: `delivered` of its pieces went; not to be tried before `not_before`."""

    chat: str
    html: str
    delivered: int = 0
    not_before: float = 0.0
    reply_markup: dict[str, Any] | None = None  # an inline keyboard, sent with the last piece


class Outbox(BaseModel):
    """Messages to deliver in order, as data the caller stores durably (a sensor keeps it in its cursor).

    `flush` sends until the outbox is empty, the deadline comes, a rate limit asks for a wait past it,
    or the Bot API cannot be reached; whatever is left stays, with how far each message got.
    """

    pending: list[Pending] = []

    def add(self, chat: str | None, html_text: str, reply_markup: dict[str, Any] | None = None) -> None:
        if chat:
            self.pending.append(Pending(chat=chat, html=html_text, reply_markup=reply_markup))

    def flush(
        self,
        telegram: TelegramNotifier,
        deadline: float,
        retry_unreachable_after: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> int:
        """Deliver what is due before `deadline` (epoch seconds by `clock`); returns the messages completed."""
        completed = 0
        log = get_dagster_logger("telegram")
        while self.pending and clock() < deadline:
            item = self.pending[0]
            if item.not_before > clock():
                break

            def record(done: int, item: Pending = item) -> None:
                item.delivered = done

            try:
                delivery = telegram.deliver(
                    item.chat,
                    item.html,
                    start=item.delivered,
                    deadline=deadline,
                    on_piece=record,
                    reply_markup=item.reply_markup,
                )
            except TelegramUnreachable as exc:
                log.warning("%s; %d message(s) kept for the next attempt", exc, len(self.pending))
                item.not_before = clock() + retry_unreachable_after
                break
            except TelegramError as exc:  # refused for good (a malformed message): keeping it would block the rest
                log.error("%s; that message to chat %s is dropped", exc, item.chat)
                self.pending.pop(0)
                continue
            if not delivery.complete:
                for waiting in self.pending:  # the rate limit is the bot's, not one chat's
                    waiting.not_before = max(waiting.not_before, delivery.retry_at or 0.0)
                break
            self.pending.pop(0)
            completed += 1
        return completed


def _answer(response: requests.Response) -> dict[str, Any]:
    """The Bot API's JSON answer, or one made up from the status when a proxy answered instead."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        return answer
    return {"ok": False, "error_code": response.status_code, "description": response.reason}


def _retry_after(response: requests.Response) -> float | None:
    """Telegram's own wait (`parameters.retry_after` in the body), else a Retry-After header."""
    try:
        parameters = response.json().get("parameters") or {}
        return float(parameters["retry_after"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return retry_after_header(response)
