"""Telegram Bot API: the digest to the head of sales and alerts to the on-call chat.

The only code that reaches Telegram, through the shared retrying session (resources/http.py): a
refused connection, a timeout, 429 and 5xx are tried again; Telegram names its wait in the body
(`parameters.retry_after`), which counts as the Retry-After. The bot token is part of every Bot API
URL, so this module never logs a URL and scrubs the token from any error it re-raises. Settings are
read when the resource is used (not at import time), so the token never sits in Dagster's resource
config.
"""

from __future__ import annotations

import html
import logging
from typing import Any

import requests
from dagster import ConfigurableResource, get_dagster_logger

from resources.http import NoAnswer, RetryingSession, RetryPolicy, retry_after_header
from resources.settings import load_settings

MAX_MESSAGE_CHARS = 4096


class TelegramError(RuntimeError):
    """The Bot API refused a message (the text never contains the token)."""


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
    def send(self, chat: str | None, text: str) -> int:
        """Send plain text (escaped here) to `chat`; returns the number of messages sent."""
        return self.send_html(chat, escape_html(text))

    def send_html(self, chat: str | None, html_text: str) -> int:
        """Send text already in Telegram HTML (parts escaped with escape_html); split at 4096 chars."""
        token = self._token()
        if token is None:
            self._log().info("telegram: TELEGRAM_BOT_TOKEN is not set; message not sent (%d chars)", len(html_text))
            return 0
        if not chat:
            self._log().warning("telegram: no chat id configured for this message; not sent")
            return 0
        sent = 0
        for piece in split_message(html_text):
            self._post(
                token,
                "sendMessage",
                {
                    "chat_id": chat,
                    "text": piece,
                    "parse_mode": "HTML",
                    "link_preview_options": {"is_disabled": True},
                },
            )
            sent += 1
        self._log().info("telegram: sent %d message(s) to chat %s", sent, chat)
        return sent

    def _post(self, token: str, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        session = RetryingSession(
            "telegram",
            policy=RetryPolicy(max_attempts=self.max_attempts),
            timeout=self.timeout_seconds,
            hint=_retry_after,
            describe=lambda url: url.rsplit("/", 1)[-1],
        )  # the method, never the token
        with session:
            try:
                response = session.post(f"{self.base_url}/bot{token}/{method}", json=payload)
            except NoAnswer as exc:
                raise TelegramError(
                    f"telegram {method}: cannot reach the Bot API ({exc.reason}, {exc.attempts} attempt(s))"
                ) from None
            except requests.RequestException as exc:
                raise TelegramError(
                    f"telegram {method}: cannot reach the Bot API: {str(exc).replace(token, '***')}"
                ) from None
        answer = _answer(response)
        if answer.get("ok"):
            return answer
        if answer.get("error_code") == 429:
            raise TelegramError(f"telegram {method}: still rate limited after {self.max_attempts} attempts")
        description = str(answer.get("description", "no description")).replace(token, "***")
        raise TelegramError(f"telegram {method} failed: {answer.get('error_code')} {description}")


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
