"""The Bitrix24 HTTP client: retries what Bitrix24 says is temporary, fails clearly otherwise, never leaks the secret."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assets.ingest.bitrix24.client import Bitrix24Client, Bitrix24Error, mask_webhook

SECRET = "s3cr3tc0de"


class Scripted:
    """A loopback server answering each request with the next scripted (status, body, headers)."""

    def __init__(self, script: list[tuple[int, dict, dict]]):
        self.script = list(script)
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                owner.requests.append({"path": self.path, "body": json.loads(self.rfile.read(length) or b"{}")})
                status, body, headers = owner.script.pop(0) if owner.script else (200, {"result": []}, {})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/rest/1/{SECRET}/"


@pytest.fixture
def serve() -> Iterator:
    servers: list[Scripted] = []

    def start(script: list[tuple[int, dict, dict]]) -> Scripted:
        servers.append(Scripted(script))
        return servers[-1]

    yield start
    for s in servers:
        s.server.shutdown()
        s.server.server_close()


LIMIT = (503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}, {})


def test_a_503_burst_is_retried_with_backoff_and_the_page_still_arrives(serve):
    server = serve([LIMIT, LIMIT, LIMIT, (200, {"result": [{"ID": "1"}], "total": 1}, {})])
    slept: list[float] = []
    client = Bitrix24Client(server.url, sleep=slept.append, backoff_base=0.5)
    pages = list(client.pages("crm.deal.list", {"order": {"ID": "ASC"}}))
    assert pages == [[{"ID": "1"}]]
    assert len(server.requests) == 4 and len(slept) == 3
    assert slept[0] <= slept[1] <= slept[2] * 2  # growing (jittered) backoff
    assert all(r["path"].endswith("/crm.deal.list.json") for r in server.requests)


def test_retry_after_is_honoured(serve):
    server = serve([(429, {"error": "OPERATION_TIME_LIMIT"}, {"Retry-After": "7"}), (200, {"result": []}, {})])
    slept: list[float] = []
    Bitrix24Client(server.url, sleep=slept.append).call("crm.lead.list")
    assert slept == [7.0]


def test_paging_follows_next_until_the_last_page(serve):
    rows = [{"ID": str(i)} for i in range(1, 121)]
    server = serve([
        (200, {"result": rows[:50], "next": 50, "total": 120}, {}),
        (200, {"result": rows[50:100], "next": 100, "total": 120}, {}),
        (200, {"result": rows[100:], "total": 120}, {}),
    ])
    got = [r for page in Bitrix24Client(server.url).pages("crm.deal.list", {"filter": {">DATE_MODIFY": "x"}}) for r in page]
    assert got == rows
    assert [r["body"]["start"] for r in server.requests] == [0, 50, 100]
    assert all(r["body"]["filter"] == {">DATE_MODIFY": "x"} for r in server.requests)


def test_keyset_paging_asks_for_ids_above_the_last_one(serve):
    rows = [{"ID": str(i)} for i in range(1, 61)]
    server = serve([(200, {"result": rows[:50]}, {}), (200, {"result": rows[50:]}, {})])
    got = [r for page in Bitrix24Client(server.url).pages_by_id("crm.deal.list", {"filter": {">DATE_MODIFY": "x"}}) for r in page]
    assert got == rows
    assert [r["body"]["filter"] for r in server.requests] == [
        {">DATE_MODIFY": "x", ">ID": 0}, {">DATE_MODIFY": "x", ">ID": 50}]
    assert all(r["body"]["start"] == -1 and r["body"]["order"] == {"ID": "ASC"} for r in server.requests)


def test_a_refusal_names_method_and_position_but_not_the_secret(serve):
    server = serve([
        (200, {"result": [{"ID": str(i)} for i in range(50)], "next": 50}, {}),
        (401, {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}, {}),
    ])
    with pytest.raises(Bitrix24Error) as err:
        list(Bitrix24Client(server.url, sleep=lambda s: None).pages("crm.deal.list"))
    message = str(err.value)
    assert "crm.deal.list" in message and "start=50" in message and "NO_AUTH_FOUND" in message
    assert SECRET not in message and "/rest/1/***/" in message
    assert len(server.requests) == 2  # a 401 is not retried


def test_giving_up_after_max_retries_is_a_clear_error(serve):
    server = serve([LIMIT] * 10)
    with pytest.raises(Bitrix24Error, match=r"crm.activity.list at start=0 .* after 3 attempts: HTTP 503 QUERY_LIMIT_EXCEEDED"):
        list(Bitrix24Client(server.url, max_retries=2, sleep=lambda s: None).pages("crm.activity.list"))
    assert len(server.requests) == 3


def test_an_unreachable_portal_error_hides_the_secret():
    url = f"http://127.0.0.1:9/rest/1/{SECRET}/"  # discard port: connection refused
    with pytest.raises(Bitrix24Error) as err:
        Bitrix24Client(url, max_retries=1, sleep=lambda s: None, connect_timeout=1).call("user.get")
    assert SECRET not in str(err.value) and "user.get" in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert SECRET not in repr(Bitrix24Client(url))


def test_mask_webhook():
    assert mask_webhook("https://p.bitrix24.ru/rest/7/abc123/crm.deal.list.json") == \
        "https://p.bitrix24.ru/rest/7/***/crm.deal.list.json"
