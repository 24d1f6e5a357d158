"""The shared retrying session against a loopback server: what is retried, how long it waits, when it stops."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from resources.http import (
    RETRY_AFTER_CAP,
    NoAnswer,
    RetryingSession,
    RetryPolicy,
    retry_after_seconds,
)

RESET = "reset"  # close the connection with a TCP reset instead of answering


class Scripted:
    """Answers each request with the next scripted (status, headers) or RESET; 200 once the script is spent."""

    def __init__(self, script: list) -> None:
        self.script = list(script)
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner.hits += 1
                step = owner.script.pop(0) if owner.script else (200, {})
                if step == RESET:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                status, headers = step
                body = f'{{"status": {status}}}'.encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/items?token=s3cr3t"


class FakeClock:
    """sleep() records the wait and moves the clock on: the budget is checked without real waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def serve() -> Iterator:
    servers: list[Scripted] = []

    def start(script: list) -> Scripted:
        servers.append(Scripted(script))
        return servers[-1]

    yield start
    for s in servers:
        s.server.shutdown()
        s.server.server_close()


def session(clock: FakeClock, **policy: Any) -> RetryingSession:
    return RetryingSession("Test API", policy=RetryPolicy(**policy), sleep=clock.sleep, clock=clock, timeout=(2, 5))


def test_429_without_retry_after_backs_off_exponentially_with_jitter(serve):
    server = serve([(429, {})] * 3)
    clock = FakeClock()
    response = session(clock, backoff_base=1.0, backoff_max=30.0).get(server.url)
    assert response.status_code == 200 and server.hits == 4
    assert len(clock.waits) == 3
    for n, wait in enumerate(clock.waits):  # 1, 2, 4 s, each scaled by 0.5..1.0
        assert 0.5 * 2**n <= wait <= 2**n


def test_retry_after_in_seconds_is_waited_exactly(serve):
    server = serve([(429, {"Retry-After": "7"})])
    clock = FakeClock()
    assert session(clock).get(server.url).status_code == 200
    assert clock.waits == [7.0] and server.hits == 2


def test_retry_after_as_an_http_date_is_waited_until_that_time(serve):
    server = serve([(503, {"Retry-After": formatdate(time.time() + 30, usegmt=True)})])
    clock = FakeClock()
    assert session(clock).get(server.url).status_code == 200
    (wait,) = clock.waits
    assert 28.0 <= wait <= 30.0  # the date has whole seconds


def test_a_long_retry_after_is_capped(serve):
    server = serve([(429, {"Retry-After": "86400"})])
    clock = FakeClock()
    assert session(clock).get(server.url).status_code == 200
    assert clock.waits == [RETRY_AFTER_CAP]


def test_503_then_200_is_two_attempts(serve):
    server = serve([(503, {})])
    clock = FakeClock()
    response = session(clock).get(server.url)
    assert response.status_code == 200 and response.json() == {"status": 200}
    assert server.hits == 2 and len(clock.waits) == 1


def test_a_connection_reset_is_retried(serve):
    server = serve([RESET, RESET])
    clock = FakeClock()
    assert session(clock).get(server.url).status_code == 200
    assert server.hits == 3 and len(clock.waits) == 2


def test_no_answer_at_all_raises_after_max_attempts_without_the_url(serve):
    server = serve([RESET] * 10)
    clock = FakeClock()
    with pytest.raises(NoAnswer) as err:
        session(clock, max_attempts=4).get(server.url)
    assert server.hits == 4 and len(clock.waits) == 3
    assert err.value.attempts == 4 and "Test API: GET /api/items" in str(err.value)
    assert "s3cr3t" not in str(err.value) and err.value.__suppress_context__


def test_a_retryable_answer_that_persists_is_returned_after_max_attempts(serve):
    server = serve([(503, {})] * 10)
    clock = FakeClock()
    assert session(clock, max_attempts=3).get(server.url).status_code == 503
    assert server.hits == 3 and len(clock.waits) == 2


def test_the_budget_stops_before_a_wait_that_would_overrun_it(serve):
    server = serve([(429, {"Retry-After": "100"})] * 10)
    clock = FakeClock()
    response = session(clock, max_attempts=10, budget_seconds=250).get(server.url)
    assert response.status_code == 429
    assert clock.waits == [100.0, 100.0] and server.hits == 3  # a third 100 s wait would end past 250 s
    assert clock.now <= 250


def test_a_client_error_is_not_retried_and_hooks_see_only_the_final_answer(serve):
    server = serve([(503, {}), (404, {})])
    clock = FakeClock()
    seen: list[int] = []
    http = session(clock)
    response = http.get(server.url, hooks={"response": lambda r, *a, **k: seen.append(r.status_code)})
    assert response.status_code == 404 and server.hits == 2 and seen == [404]


def test_retry_if_and_hint_and_before_attempt_let_a_client_speak_its_dialect(serve):
    server = serve([(200, {"X-Busy": "5"}), (200, {})])
    clock = FakeClock()
    tries: list[int] = []
    http = RetryingSession(
        "Dialect",
        sleep=clock.sleep,
        clock=clock,
        retry_if=lambda r: "X-Busy" in r.headers,
        hint=lambda r: float(r.headers["X-Busy"]) if "X-Busy" in r.headers else None,
        before_attempt=lambda: tries.append(1),
    )
    assert http.get(server.url).status_code == 200
    assert clock.waits == [5.0] and len(tries) == 2 == server.hits


def test_retry_after_seconds_reads_both_forms_and_nothing_else():
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(" 3 ") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: now
    assert retry_after_seconds(None) is None and retry_after_seconds("") is None
    assert retry_after_seconds("soon") is None


def test_a_real_timeout_is_retried_and_then_reported():
    with socket.socket() as listener:  # accepts connections but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        clock = FakeClock()
        http = RetryingSession(
            "Slow API", policy=RetryPolicy(max_attempts=2), sleep=clock.sleep, clock=clock, timeout=(1, 0.3)
        )
        with pytest.raises(
            NoAnswer, match=r"Slow API: GET /x: no answer from 127\.0\.0\.1:\d+ after 2 attempt\(s\) \(ReadTimeout\)"
        ):
            http.get(f"http://127.0.0.1:{listener.getsockname()[1]}/x")
        assert len(clock.waits) == 1


def test_urllib3_debug_lines_show_only_what_describe_allows(serve, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    server = serve([(503, {})])
    secret_url = server.url.replace("/api/items", "/rest/1/w3bh00k/items")
    http = RetryingSession(
        "Masked API", sleep=FakeClock().sleep, describe=lambda url: url.split("?")[0].replace("w3bh00k", "***")
    )
    assert http.get(secret_url).status_code == 200
    assert "/rest/1/***/items" in caplog.text  # urllib3's request lines are there, masked
    assert "w3bh00k" not in caplog.text and "s3cr3t" not in caplog.text
