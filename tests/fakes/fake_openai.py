"""A loopback OpenAI-compatible server: POST /v1/chat/completions answers a canned Russian text.

It records each request (model, messages, response_format, the Authorization header) so tests can see
what the real openai SDK sent, and it can fail with a 500 to exercise the fallback. Asked for
structured output (a json_schema response_format), it answers JSON with the canned lines in the
schema's one list property, as a model keeping to the schema would; or, given `structured`, that JSON.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CANNED_ANSWER = (
    "- Сегодня созвонитесь с каждым отстающим менеджером и разберите сделки на финальных этапах.\n"
    "- Попросите маркетинг усилить поток лидов до конца месяца.\n"
    "- Проверьте забытые сделки и поставьте по ним задачи с датами."
)


@dataclass
class FakeOpenAI:
    """Start with `with FakeOpenAI() as ai:`; use base_url=ai.base_url (ends with /v1)."""

    answer: str = CANNED_ANSWER
    structured: dict[str, Any] | None = None  # when set, the JSON answered to a structured-output request
    fail_with: int | None = None
    fail_first: list[int] = field(default_factory=list)  # statuses answered, one per request, before any success
    requests: list[dict[str, Any]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def content(self, response_format: dict[str, Any] | None) -> str:
        """The answer as plain text, or as JSON in the requested schema (its list property holds the lines)."""
        if not response_format or response_format.get("type") != "json_schema":
            return self.answer
        if self.structured is not None:
            return json.dumps(self.structured, ensure_ascii=False)
        properties = response_format["json_schema"]["schema"]["properties"]
        field_name = next(name for name, spec in properties.items() if spec.get("type") == "array")
        return json.dumps({field_name: self.answer.splitlines()}, ensure_ascii=False)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.split("?")[0] != "/v1/chat/completions":
                    return self._answer(
                        404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}}
                    )
                body = json.loads(raw)
                fake.requests.append(
                    {
                        "model": body.get("model"),
                        "messages": body.get("messages"),
                        "response_format": body.get("response_format"),
                        "authorization": self.headers.get("Authorization"),
                    }
                )
                failing = fake.fail_first.pop(0) if fake.fail_first else fake.fail_with
                if failing is not None:
                    return self._answer(failing, {"error": {"message": "internal error", "type": "server_error"}})
                if not body.get("model") or not isinstance(body.get("messages"), list):
                    return self._answer(400, {"error": {"message": "model and messages are required"}})
                self._answer(
                    200,
                    {
                        "id": f"chatcmpl-{len(fake.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": fake.content(body.get("response_format"))},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
                    },
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
