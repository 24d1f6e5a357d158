"""A loopback Telegram Bot API server: records sendMessage and sendPhoto calls and rejects malformed ones.

It checks what the real Bot API checks for us: the path /bot<token>/<method>, a chat_id, a text
of at most 4096 characters, a known parse_mode, and (for HTML) that the text's entities parse.
sendPhoto takes, as the Bot API documents, a multipart/form-data body whose `photo` is an uploaded
file (PNG or JPEG, at most 10 MB, width + height at most 10 000, sides at most 20 : 1) with an
optional `caption` of at most 1024 characters after entity parsing and its `parse_mode`. Any
method also takes urlencoded or multipart fields, as the Bot API does. It can answer 429 with
retry_after once, like a rate-limited bot, answer 5xx, cut connections, or go down after
accepting some messages (an outage half-way through a long message).
"""

from __future__ import annotations

import email.parser
import email.policy
import html.parser
import json
import struct
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VALID_PARSE_MODES = {"HTML", "MarkdownV2", "Markdown"}
HTML_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "tg-spoiler",
    "blockquote",
    "span",
    "tg-emoji",
}


class _HtmlChecker(html.parser.HTMLParser):
    """Telegram's HTML: only its tags, properly nested; bare < > & are errors."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.visible: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in HTML_TAGS:
            self.errors.append(f"unsupported tag <{tag}>")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")

    def handle_data(self, data: str) -> None:
        if any(ch in data for ch in "<>&"):
            self.errors.append("unescaped < > or & in text")
        self.visible.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in {"lt", "gt", "amp", "quot"}:
            self.errors.append(f"unknown entity &{name};")
        self.visible.append({"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(name, "?"))

    def handle_charref(self, name: str) -> None:
        self.visible.append("?")


def check_html(text: str) -> tuple[list[str], str]:
    """(errors, visible text) of a Telegram-HTML message."""
    checker = _HtmlChecker()
    checker.feed(text)
    checker.close()
    if checker.rawdata:  # an unterminated '<' left over
        checker.errors.append("unterminated tag")
    if checker.stack:
        checker.errors.append(f"unclosed tags {checker.stack}")
    return checker.errors, "".join(checker.visible)


@dataclass
class SentMessage:
    token: str
    chat_id: str
    text: str
    parse_mode: str | None
    visible_text: str
    reply_markup: dict[str, Any] | None = None

    def buttons(self) -> list[tuple[str, str]]:
        """(text, callback_data) of the message's inline keyboard, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b["callback_data"]) for row in rows for b in row]


@dataclass
class SentPhoto:
    token: str
    chat_id: str
    photo: bytes
    filename: str
    width: int
    height: int
    caption: str | None
    parse_mode: str | None
    visible_caption: str


MAX_CAPTION_CHARS = 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or baseline/progressive JPEG, None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + length
    return None


def parse_multipart(content_type: str, raw: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """(fields, files {name: (filename, bytes)}) of a multipart/form-data body."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        decoded = part.get_payload(decode=True)
        payload = decoded if isinstance(decoded, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files[str(name)] = (filename, payload)
        else:
            fields[str(name)] = payload.decode("utf-8")
    return fields, files


@dataclass
class FakeTelegram:
    """Start with `with FakeTelegram() as tg:`; point TelegramNotifier(api_url=tg.url) at it."""

    messages: list[SentMessage] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    requests: int = 0
    _rate_limit_next: int | None = None
    _fail_next: int = 0
    _fail_status: int = 502
    _drop_next: int = 0
    _accept_before_outage: int | None = None
    _server: ThreadingHTTPServer | None = None
    photos: list[SentPhoto] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)  # what getUpdates serves, update_id ascending
    callback_answers: list[dict[str, Any]] = field(default_factory=list)  # answerCallbackQuery bodies

    def press(self, message: SentMessage, callback_data: str, user_id: int, username: str = "") -> int:
        """A chat member presses one of `message`'s inline buttons: a callback_query update queued."""
        assert callback_data in {data for _, data in message.buttons()}, "no such button on the message"
        update_id = (self.updates[-1]["update_id"] + 1) if self.updates else 1000
        self.updates.append(
            {
                "update_id": update_id,
                "callback_query": {
                    "id": f"cb{update_id}",
                    "from": {
                        "id": user_id,
                        "is_bot": False,
                        "first_name": username or str(user_id),
                        "username": username,
                    },
                    "message": {"message_id": self.messages.index(message) + 1, "chat": {"id": message.chat_id}},
                    "data": callback_data,
                },
            }
        )
        return update_id

    def rate_limit_once(self, retry_after: int = 1) -> None:
        """The next sendMessage gets 429 with parameters.retry_after."""
        self._rate_limit_next = retry_after

    def fail_next(self, count: int = 1, status: int = 502) -> None:
        """The next `count` requests get `status` (a proxy's or the Bot API's own 5xx)."""
        self._fail_next, self._fail_status = count, status

    def drop_next(self, count: int = 1) -> None:
        """The next `count` requests are cut without an answer (a network blip)."""
        self._drop_next = count

    def outage_after(self, accepted: int, status: int = 502) -> None:
        """Accept `accepted` more messages, then answer every request with `status` until `recover()`."""
        self._accept_before_outage, self._fail_status = accepted, status

    def recover(self) -> None:
        self._accept_before_outage, self._fail_next, self._drop_next = None, 0, 0

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def to(self, chat_id: str) -> list[SentMessage]:
        return [m for m in self.messages if m.chat_id == str(chat_id)]

    def photos_to(self, chat_id: str) -> list[SentPhoto]:
        return [p for p in self.photos if p.chat_id == str(chat_id)]

    def __enter__(self) -> FakeTelegram:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _reject(self, status: int, description: str) -> None:
                fake.rejected.append(description)
                self._answer(status, {"ok": False, "error_code": status, "description": description})

            def do_GET(self) -> None:  # noqa: N802
                self._reject(405, "only POST is used by this fake")

            def do_POST(self) -> None:  # noqa: N802
                fake.requests += 1
                if fake._drop_next > 0:
                    fake._drop_next -= 1
                    self.close_connection = True
                    self.connection.shutdown(2)  # cut: the client sees the connection dropped
                    return None
                if fake._fail_next > 0 or fake._accept_before_outage == 0:
                    fake._fail_next = max(0, fake._fail_next - 1)
                    status = fake._fail_status
                    return self._answer(status, {"ok": False, "error_code": status, "description": "Bad Gateway"})
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) != 2 or not parts[0].startswith("bot") or len(parts[0]) <= 3:
                    return self._reject(404, f"Not Found: {self.path}")
                token, method = parts[0][3:], parts[1]
                if method not in ("sendMessage", "sendPhoto", "getUpdates", "answerCallbackQuery"):
                    return self._reject(404, f"method {method} not supported")
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ctype = self.headers.get("Content-Type", "")
                files: dict[str, tuple[str, bytes]] = {}
                if "json" in ctype:
                    body = json.loads(raw.decode("utf-8"))
                elif ctype.startswith("multipart/form-data"):
                    body, files = parse_multipart(ctype, raw)
                    if isinstance(body.get("reply_markup"), str):
                        body["reply_markup"] = json.loads(body["reply_markup"])
                else:
                    body = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode("utf-8")).items()}
                if method == "sendPhoto":
                    return self._send_photo(token, body, files)
                if method == "getUpdates":  # updates below `offset` are confirmed and forgotten, as the Bot API does
                    offset = int(body.get("offset") or 0)
                    fake.updates = [u for u in fake.updates if u["update_id"] >= offset]
                    return self._answer(200, {"ok": True, "result": fake.updates})
                if method == "answerCallbackQuery":
                    if not body.get("callback_query_id"):
                        return self._reject(400, "Bad Request: query id is empty")
                    fake.callback_answers.append(body)
                    return self._answer(200, {"ok": True, "result": True})
                markup = body.get("reply_markup")
                if markup is not None:
                    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
                    if not isinstance(rows, list) or not all(
                        isinstance(b, dict) and b.get("text") and 1 <= len(b.get("callback_data", "").encode()) <= 64
                        for row in rows
                        for b in row
                    ):
                        return self._reject(400, "Bad Request: BUTTON_DATA_INVALID")
                chat_id, text, mode = body.get("chat_id"), body.get("text"), body.get("parse_mode")
                if chat_id in (None, ""):
                    return self._reject(400, "Bad Request: chat_id is empty")
                if not text:
                    return self._reject(400, "Bad Request: message text is empty")
                if mode is not None and mode not in VALID_PARSE_MODES:
                    return self._reject(400, f"Bad Request: unsupported parse_mode {mode}")
                visible = text
                if mode == "HTML":
                    errors, visible = check_html(text)
                    if errors:
                        return self._reject(400, f"Bad Request: can't parse entities: {errors[0]}")
                if len(text) > 4096:  # stricter than Telegram (which counts after entities): never too long
                    return self._reject(400, "Bad Request: message is too long")
                if fake._rate_limit_next is not None:
                    retry_after, fake._rate_limit_next = fake._rate_limit_next, None
                    return self._answer(
                        429,
                        {
                            "ok": False,
                            "error_code": 429,
                            "description": f"Too Many Requests: retry after {retry_after}",
                            "parameters": {"retry_after": retry_after},
                        },
                    )
                fake.messages.append(SentMessage(token, str(chat_id), text, mode, visible, markup))
                if fake._accept_before_outage is not None:
                    fake._accept_before_outage -= 1
                self._answer(
                    200,
                    {
                        "ok": True,
                        "result": {
                            "message_id": len(fake.messages),
                            "chat": {"id": chat_id},
                            "text": visible,
                        },
                    },
                )

            def _send_photo(self, token: str, body: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> None:
                chat_id, caption, mode = body.get("chat_id"), body.get("caption"), body.get("parse_mode")
                if chat_id in (None, ""):
                    return self._reject(400, "Bad Request: chat_id is empty")
                if "photo" not in files:
                    return self._reject(400, "Bad Request: there is no photo in the request")
                filename, data = files["photo"]
                if len(data) > MAX_PHOTO_BYTES:
                    return self._reject(400, "Bad Request: file is too big")
                size = image_size(data)
                if size is None:
                    return self._reject(400, "Bad Request: IMAGE_PROCESS_FAILED")
                width, height = size
                if width + height > 10_000 or max(width, height) > 20 * min(width, height):
                    return self._reject(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
                if mode is not None and mode not in VALID_PARSE_MODES:
                    return self._reject(400, f"Bad Request: unsupported parse_mode {mode}")
                visible = caption or ""
                if caption and mode == "HTML":
                    errors, visible = check_html(caption)
                    if errors:
                        return self._reject(400, f"Bad Request: can't parse entities: {errors[0]}")
                if len(visible) > MAX_CAPTION_CHARS:
                    return self._reject(400, "Bad Request: message caption is too long")
                fake.photos.append(
                    SentPhoto(token, str(chat_id), data, filename, width, height, caption, mode, visible)
                )
                self._answer(
                    200,
                    {
                        "ok": True,
                        "result": {
                            "message_id": len(fake.messages) + len(fake.photos),
                            "chat": {"id": chat_id},
                            "photo": [{"file_id": f"photo{len(fake.photos)}", "width": width, "height": height}],
                            "caption": visible,
                        },
                    },
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
