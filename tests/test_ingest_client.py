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
    client = Bitrix24Client(server.url, sleep=slept.append, backoff_base=0.5, rate=None)
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
    server = serve(
        [
            (200, {"result": rows[:50], "next": 50, "total": 120}, {}),
            (200, {"result": rows[50:100], "next": 100, "total": 120}, {}),
            (200, {"result": rows[100:], "total": 120}, {}),
        ]
    )
    got = [
        r for page in Bitrix24Client(server.url).pages("crm.deal.list", {"filter": {">DATE_MODIFY": "x"}}) for r in page
    ]
    assert got == rows
    assert [r["body"]["start"] for r in server.requests] == [0, 50, 100]
    assert all(r["body"]["filter"] == {">DATE_MODIFY": "x"} for r in server.requests)


def test_keyset_paging_asks_for_ids_above_the_last_one(serve):
    """One page a request (max_commands=1): each request asks for the IDs above the last one seen."""
    from urllib.parse import parse_qsl

    rows = [{"ID": str(i)} for i in range(1, 61)]
    server = serve([_batch_answer({"p0": rows[:50]}, {"p0": 60}), _batch_answer({"p0": rows[50:]}, {"p0": 10})])
    pages = list(
        Bitrix24Client(server.url, rate=None).batched_pages(
            "crm.deal.list", {"filter": {">DATE_MODIFY": "x"}}, max_commands=1
        )
    )
    assert [r for p in pages for r in p.rows] == rows
    queries = [dict(parse_qsl(r["body"]["cmd"]["p0"].split("?", 1)[1])) for r in server.requests]
    assert [(q["filter[>ID]"], q["filter[>DATE_MODIFY]"], q["start"], q["order[ID]"]) for q in queries] == [
        ("0", "x", "0", "ASC"),
        ("50", "x", "0", "ASC"),
    ]


def test_a_refusal_names_method_and_position_but_not_the_secret(serve):
    server = serve(
        [
            (200, {"result": [{"ID": str(i)} for i in range(50)], "next": 50}, {}),
            (401, {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}, {}),
        ]
    )
    with pytest.raises(Bitrix24Error) as err:
        list(Bitrix24Client(server.url, sleep=lambda s: None).pages("crm.deal.list"))
    message = str(err.value)
    assert "crm.deal.list" in message and "start=50" in message and "NO_AUTH_FOUND" in message
    assert SECRET not in message and "/rest/1/***/" in message
    assert len(server.requests) == 2  # a 401 is not retried


def test_giving_up_after_max_retries_is_a_clear_error(serve):
    server = serve([LIMIT] * 10)
    with pytest.raises(
        Bitrix24Error, match=r"crm.activity.list at start=0 .* after 3 attempts: HTTP 503 QUERY_LIMIT_EXCEEDED"
    ):
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
    assert (
        mask_webhook("https://p.bitrix24.ru/rest/7/abc123/crm.deal.list.json")
        == "https://p.bitrix24.ru/rest/7/***/crm.deal.list.json"
    )


# ---- batch ----------------------------------------------------------------------------------------


def test_php_query_encodes_nested_params_and_the_plus_of_an_offset():
    from urllib.parse import parse_qsl

    from assets.ingest.bitrix24.client import php_query

    q = php_query(
        {
            "filter": {">=DATE_MODIFY": "2025-01-01T00:00:00+03:00", ">ID": 5},
            "select": ["ID", "UF_*"],
            "order": {"ID": "ASC"},
            "start": 0,
        }
    )
    assert dict(parse_qsl(q)) == {
        "filter[>=DATE_MODIFY]": "2025-01-01T00:00:00+03:00",
        "filter[>ID]": "5",
        "select[0]": "ID",
        "select[1]": "UF_*",
        "order[ID]": "ASC",
        "start": "0",
    }


def _batch_answer(results: dict, totals: dict | None = None, errors: dict | None = None) -> tuple[int, dict, dict]:
    return (
        200,
        {
            "result": {
                "result": results or [],
                "result_error": errors or [],
                "result_total": totals or [],
                "result_next": [],
                "result_time": [],
            }
        },
        {},
    )


def test_batched_pages_walks_keyset_between_requests_and_offsets_inside_one(serve):
    rows = [{"ID": str(i)} for i in range(1, 181)]  # 180 rows: 1 page, then one batch of 3 pages (130 rows)
    server = serve(
        [
            _batch_answer({"p0": rows[:50]}, {"p0": 180}),
            _batch_answer(
                {"p0": rows[50:100], "p1": rows[100:150], "p2": rows[150:]}, {"p0": 130, "p1": 130, "p2": 130}
            ),
        ]
    )
    client = Bitrix24Client(server.url, rate=None)
    pages = list(client.batched_pages("crm.deal.list", {"filter": {">DATE_MODIFY": "x"}, "select": ["*"]}))
    assert [r for p in pages for r in p.rows] == rows and not any(p.problem for p in pages)
    from urllib.parse import parse_qsl

    first, second = (r["body"] for r in server.requests)
    assert all(r["path"].endswith("/batch.json") for r in server.requests)
    query = {
        key: dict(parse_qsl(c.split("?", 1)[1])) for key, c in {**second["cmd"], "first": first["cmd"]["p0"]}.items()
    }
    assert list(first["cmd"]) == ["p0"] and query["first"]["filter[>ID]"] == "0"
    assert list(second["cmd"]) == ["p0", "p1", "p2"]
    assert [query[f"p{k}"]["start"] for k in range(3)] == ["0", "50", "100"]  # offsets inside the request
    assert {query[f"p{k}"]["filter[>ID]"] for k in range(3)} == {"50"}  # keyset from the last request's last ID
    assert {query[f"p{k}"]["filter[>DATE_MODIFY]"] for k in range(3)} == {"x"}


def test_a_malformed_page_in_a_batch_is_reported_and_the_rest_goes_on(serve):
    rows = [{"ID": str(i)} for i in range(1, 121)]
    server = serve(
        [
            _batch_answer({"p0": rows[:50]}, {"p0": 120}),
            _batch_answer({"p0": "<html>502</html>", "p1": rows[100:]}, {"p0": 70, "p1": 70}),
            _batch_answer({"p0": "<html>502 again</html>"}, {"p0": 70}),  # asked once more on its own
        ]
    )
    pages = list(Bitrix24Client(server.url, rate=None).batched_pages("crm.deal.list"))
    assert [p.problem is not None for p in pages] == [False, True, False]
    assert pages[1].raw == "<html>502 again</html>" and "ID>50 start=0" in pages[1].position
    assert [r["ID"] for r in pages[2].rows] == [str(i) for i in range(101, 121)]


def test_a_temporary_command_error_retries_the_batch_and_a_real_one_raises(serve):
    limit = {"p0": {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}}
    server = serve(
        [
            _batch_answer({}, errors=limit),
            _batch_answer({"p0": [{"ID": "1"}]}, {"p0": 1}),
            _batch_answer({}, errors={"p0": {"error": "ACCESS_DENIED", "error_description": "no"}}),
        ]
    )
    client = Bitrix24Client(server.url, rate=None, sleep=lambda s: None)
    assert [p.rows for p in client.batched_pages("crm.deal.list")] == [[{"ID": "1"}]]
    with pytest.raises(Bitrix24Error, match="ACCESS_DENIED"):
        list(client.batched_pages("crm.deal.list"))
    with pytest.raises(ValueError):
        client.batch({str(i): ("user.get", {}) for i in range(51)})


def test_the_client_paces_itself_by_the_portals_bucket(serve):
    import time

    server = serve([(200, {"result": []}, {})] * 8)
    client = Bitrix24Client(server.url, rate=20.0, burst=3)
    t0 = time.monotonic()
    for _ in range(8):
        client.call("user.get")
    assert time.monotonic() - t0 >= (8 - 3) / 20.0 * 0.9  # the burst goes at once, the rest at 20/s
