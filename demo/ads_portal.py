"""A loopback server speaking Yandex.Direct's Reports API, VK Ads' statistics API and the CBR's XML_daily.

    POST /json/v5/reports                       Direct report (TSV), offline mode 201/202 + retryIn, then 200
    POST /json/v5/clients                       Direct clients.get (the login's Currency)
    GET  /api/v2/campaigns.json                 VK Ads campaigns (id, name)
    GET  /api/v2/statistics/campaigns/day.json  VK Ads daily statistics (values as strings; <= 92 days, <= 200 ids)
    GET  /scripts/XML_daily.asp?date_req=DD/MM/YYYY  CBR rates (windows-1251 XML, decimal comma, last published day)

Data come from the demo world (`demo.extras`, `World.rates`). Limits and errors follow the vendors'
documentation (docs/SOURCES.md); tests inject failures with `fail_next` and revise past
statistics with `revise_direct` / `revise_vk`, as the platforms do.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import json
import threading
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from demo import marketing
from demo.extras import ensure_extras
from demo.serving import LoopbackServer

DEFAULT_DIRECT_TOKEN = "demo-direct-token"
DEFAULT_VK_TOKEN = "demo-vk-token"
DIRECT_FIELDS = ("Date", "CampaignId", "CampaignName", "Impressions", "Clicks", "Cost")
MAX_QUEUED_REPORTS = 5
VK_MAX_DAYS = 92
VK_MAX_IDS = 200
_CBR_IDS = {
    "USD": ("R01235", "840", "Доллар США"),
    "EUR": ("R01239", "978", "Евро"),
    "CNY": ("R01375", "156", "Китайский юань"),
    "KZT": ("R01335", "398", "Казахстанских тенге"),
}

Answer = tuple[int, dict[str, str], bytes]


class AdsPortal(LoopbackServer):
    """The three HTTP APIs over one demo world; `start()` returns the base URL (http://127.0.0.1:<port>)."""

    def __init__(
        self,
        world_dir: Path | str,
        *,
        direct_token: str = DEFAULT_DIRECT_TOKEN,
        direct_login: str = marketing.DIRECT_LOGIN,
        vk_token: str = DEFAULT_VK_TOKEN,
        retry_in: int = 1,
        offline_polls: int = 2,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.world_dir = Path(world_dir)
        extras = ensure_extras(self.world_dir)
        meta = json.loads((self.world_dir / "world_meta.json").read_text(encoding="utf-8"))
        self.today = date.fromisoformat(meta["today"])
        self.direct_token, self.direct_login, self.vk_token = direct_token, direct_login, vk_token
        self.direct_currency = marketing.DIRECT_CURRENCY
        self.retry_in, self.offline_polls = retry_in, offline_polls
        self.direct: dict[tuple[str, int], dict[str, Any]] = {
            (r["Date"], r["CampaignId"]): r for r in json.loads((extras / "direct_stats.json").read_text("utf-8"))
        }
        self.vk: dict[tuple[str, int], dict[str, Any]] = {
            (r["date"], r["id"]): r for r in json.loads((extras / "vk_stats.json").read_text("utf-8"))
        }
        self.vk_campaigns = {cid: name for cid, name, _ in marketing.VK_CAMPAIGNS}
        self.rates: dict[str, list[dict[str, Any]]] = {}
        with (self.world_dir / "cbr_rates.csv").open(newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):  # the world's rates file, typed as World.rates
                self.rates.setdefault(r["date"], []).append(
                    {
                        "date": r["date"],
                        "char_code": r["char_code"],
                        "nominal": int(r["nominal"]),
                        "value": float(r["value"]),
                    }
                )
        self.rate_days = sorted(self.rates)
        self.visible_until: date | None = None  # statistics after this day are not yet there
        self.malformed_direct_row: tuple[str, int] | None = None  # (Date, CampaignId) served broken
        self.malformed_cbr_day: str | None = None  # ISO day whose first Value is served broken
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers) for tests
        self._reports: dict[str, int] = {}  # ReportName -> polls so far
        self._failures: list[tuple[str, int, dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        self._slow: list[tuple[str, float]] = []
        self.delay = 0.0  # seconds every answer waits: a slow network, so a test can kill a load mid-way
        self.host, self.port = host, port

    # -- lifecycle (demo/serving.py) ----------------------------------------------------------
    thread_name = "ads-portal"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def served_url(self) -> str:
        return self.url

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- test hooks --------------------------------------------------------------------------
    def fail_next(
        self, prefix: str, n: int = 1, status: int = 503, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> None:
        """The next `n` requests whose path starts with `prefix` get `status` (e.g. 429 with Retry-After)."""
        with self._lock:
            self._failures.extend([(prefix, status, headers or {}, body)] * n)

    def slow_next(self, prefix: str, seconds: float, n: int = 1) -> None:
        """The next `n` answers to paths starting with `prefix` come after `seconds` (a client timeout)."""
        with self._lock:
            self._slow.extend([(prefix, seconds)] * n)

    def revise_direct(self, day: str, campaign_id: int, **changes: Any) -> None:
        self.direct[(day, campaign_id)].update(changes)

    def revise_vk(self, day: str, campaign_id: int, **changes: Any) -> None:
        self.vk[(day, campaign_id)].update(changes)

    # -- dispatch ----------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Answer:
        wait = self.delay
        with self._lock:
            slow = next((i for i, (prefix, _) in enumerate(self._slow) if path.startswith(prefix)), None)
            if slow is not None:
                wait += self._slow.pop(slow)[1]
        if wait:
            time.sleep(wait)
        with self._lock:
            self.requests.append((method, path, headers))
            for i, (prefix, status, extra, fail_body) in enumerate(self._failures):
                if path.startswith(prefix):
                    del self._failures[i]
                    return status, {"Content-Type": "text/plain", **extra}, fail_body or b"temporarily unavailable"
        try:
            if method == "POST" and path == "/json/v5/reports":
                return self._direct_report(headers, body)
            if method == "POST" and path == "/json/v5/clients":
                return self._direct_clients(headers, body)
            if method == "GET" and path == "/api/v2/campaigns.json":
                return self._vk_campaigns(headers, query)
            if method == "GET" and path == "/api/v2/statistics/campaigns/day.json":
                return self._vk_stats(headers, query)
            if method == "GET" and path == "/scripts/XML_daily.asp":
                return self._cbr_daily(query)
        except _ApiError as exc:
            return exc.answer
        return 404, {"Content-Type": "text/plain"}, b"not found"

    # -- Yandex.Direct -----------------------------------------------------------------------
    def _direct_auth(self, headers: dict[str, str]) -> None:
        if headers.get("authorization") != f"Bearer {self.direct_token}":
            raise _direct_error(403, 53, "Authorization error", "Invalid OAuth token")
        login = headers.get("client-login")
        if login and login != self.direct_login:
            raise _direct_error(400, 8800, "Object not found", f"Client-Login {login} is not served by this agency")

    def _direct_clients(self, headers: dict[str, str], body: bytes) -> Answer:
        self._direct_auth(headers)
        answer = {"result": {"Clients": [{"Login": self.direct_login, "Currency": self.direct_currency}]}}
        return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(answer).encode()

    def _direct_report(self, headers: dict[str, str], body: bytes) -> Answer:
        self._direct_auth(headers)
        try:
            params = json.loads(body or b"{}")["params"]
            crit, fields, name = params["SelectionCriteria"], params["FieldNames"], params["ReportName"]
            date_from, date_to = date.fromisoformat(crit["DateFrom"]), date.fromisoformat(crit["DateTo"])
        except (KeyError, ValueError, TypeError) as exc:
            raise _direct_error(400, 8000, "Invalid request", f"params: {exc}") from None
        if params.get("ReportType") != "CUSTOM_REPORT" or params.get("Format") != "TSV":
            raise _direct_error(400, 4000, "Invalid request parameters", "ReportType CUSTOM_REPORT and Format TSV only")
        unknown = [f for f in fields if f not in DIRECT_FIELDS]
        if unknown:
            raise _direct_error(400, 4000, "Invalid request parameters", f"unknown FieldNames {unknown}")
        if date_from > date_to:
            raise _direct_error(400, 4001, "Invalid request parameters", "DateFrom is after DateTo")
        mode = headers.get("processingmode", "auto")
        key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()
        with self._lock:
            polls = self._reports.get(name + key)
            if polls is None and any(k.startswith(name) for k in self._reports):
                raise _direct_error(
                    400, 4000, "Invalid request parameters", f"ReportName {name} was already used with other parameters"
                )
            if mode != "online" and (polls or 0) < self.offline_polls:
                queued = sum(1 for p in self._reports.values() if p < self.offline_polls)
                if polls is None and queued >= MAX_QUEUED_REPORTS:
                    raise _direct_error(400, 9000, "Reports queue is full", "at most 5 reports in offline mode")
                self._reports[name + key] = (polls or 0) + 1
                status = 201 if polls is None else 202
                return status, {"retryIn": str(self.retry_in), "reportsInQueue": str(queued + (polls is None))}, b""
            self._reports[name + key] = self.offline_polls
        micros = headers.get("returnmoneyinmicros", "true").lower() != "false"
        lines: list[str] = []
        if headers.get("skipreportheader", "false").lower() != "true":
            lines.append(f'"{name} ({date_from.isoformat()} - {date_to.isoformat()})"')
        if headers.get("skipcolumnheader", "false").lower() != "true":
            lines.append("\t".join(fields))
        rows = [
            r
            for (d, _), r in sorted(self.direct.items())
            if date_from.isoformat() <= d <= date_to.isoformat()
            and (self.visible_until is None or d <= self.visible_until.isoformat())
        ]
        for r in rows:
            cells = []
            for f in fields:
                v = r[f]
                if f == "Cost":
                    v = int(Decimal(str(v)) * 1_000_000) if micros else f"{Decimal(str(v)):.2f}"
                cells.append(str(v))
            if self.malformed_direct_row == (r["Date"], r["CampaignId"]):
                cells = cells[:-1] + ["n/a"]
            lines.append("\t".join(cells))
        if headers.get("skipreportsummary", "false").lower() != "true":
            lines.append(f"Total rows: {len(rows)}")
        data = ("\n".join(lines) + "\n").encode("utf-8")
        return 200, {"Content-Type": "text/tab-separated-values; charset=utf-8", "units": "0/0/0"}, data

    # -- VK Ads ------------------------------------------------------------------------------
    def _vk_auth(self, headers: dict[str, str]) -> None:
        if headers.get("authorization") != f"Bearer {self.vk_token}":
            raise _vk_error(401, "invalid_token", "Token is invalid or expired")

    def _vk_campaigns(self, headers: dict[str, str], query: str) -> Answer:
        self._vk_auth(headers)
        q = {k: v[-1] for k, v in parse_qs(query).items()}
        limit, offset = min(int(q.get("limit", 20)), 250), int(q.get("offset", 0))
        items = [{"id": cid, "name": name} for cid, name in sorted(self.vk_campaigns.items())]
        answer = {"count": len(items), "offset": offset, "items": items[offset : offset + limit]}
        return 200, {"Content-Type": "application/json"}, json.dumps(answer, ensure_ascii=False).encode()

    def _vk_stats(self, headers: dict[str, str], query: str) -> Answer:
        self._vk_auth(headers)
        q = {k: v[-1] for k, v in parse_qs(query).items()}
        try:
            ids = [int(x) for x in q["id"].split(",") if x]
            d_from, d_to = date.fromisoformat(q["date_from"]), date.fromisoformat(q["date_to"])
        except (KeyError, ValueError) as exc:
            raise _vk_error(400, "invalid_params", f"id, date_from, date_to are required: {exc}") from None
        if len(ids) > VK_MAX_IDS:
            raise _vk_error(400, "too_many_ids", f"at most {VK_MAX_IDS} ids a request")
        if d_from > d_to or (d_to - d_from).days + 1 > VK_MAX_DAYS:
            raise _vk_error(400, "invalid_period", f"the period must be 1..{VK_MAX_DAYS} days")
        items = []
        for cid in ids:
            rows = []
            day = d_from
            while day <= d_to:
                r = self.vk.get((day.isoformat(), cid))
                visible = self.visible_until is None or day <= self.visible_until
                base = (
                    {
                        "shows": str(r["shows"]),
                        "clicks": str(r["clicks"]),
                        "spent": f"{r['spent']:.2f}",
                        "goals": str(r["goals"]),
                    }
                    if r and visible
                    else {"shows": "0", "clicks": "0", "spent": "0.00", "goals": "0"}
                )
                rows.append({"date": day.isoformat(), "base": base})
                day += timedelta(days=1)
            items.append({"id": cid, "rows": rows})
        return 200, {"Content-Type": "application/json"}, json.dumps({"items": items}).encode()

    # -- CBR ---------------------------------------------------------------------------------
    def _cbr_daily(self, query: str) -> Answer:
        q = {k: v[-1] for k, v in parse_qs(query).items()}
        try:
            asked = datetime.strptime(q["date_req"], "%d/%m/%Y").date() if "date_req" in q else self.today
        except ValueError:
            return 200, {"Content-Type": "text/html"}, b"<html><body>Error in parameters</body></html>"
        i = bisect.bisect_right(self.rate_days, asked.isoformat()) - 1
        if i < 0:
            body = f'<?xml version="1.0" encoding="windows-1251"?><ValCurs Date="{asked:%d.%m.%Y}" name="Foreign Currency Market"></ValCurs>'
            return 200, {"Content-Type": "application/xml; charset=windows-1251"}, body.encode("cp1251")
        day = self.rate_days[i]
        parts = [
            f'<?xml version="1.0" encoding="windows-1251"?><ValCurs Date="{date.fromisoformat(day):%d.%m.%Y}" '
            'name="Foreign Currency Market">'
        ]
        for n, r in enumerate(self.rates[day]):
            vid, num, name = _CBR_IDS.get(r["char_code"], ("R00000", "000", r["char_code"]))
            value = f"{r['value']:.4f}".replace(".", ",")
            if self.malformed_cbr_day == day and n == 0:
                value = "9x,12"
            unit = f"{r['value'] / r['nominal']:.4f}".replace(".", ",")
            parts.append(
                f'<Valute ID="{vid}"><NumCode>{num}</NumCode><CharCode>{r["char_code"]}</CharCode>'
                f"<Nominal>{r['nominal']}</Nominal><Name>{name}</Name><Value>{value}</Value>"
                f"<VunitRate>{unit}</VunitRate></Valute>"
            )
        parts.append("</ValCurs>")
        return 200, {"Content-Type": "application/xml; charset=windows-1251"}, "".join(parts).encode("cp1251")


class _ApiError(Exception):
    def __init__(self, answer: Answer) -> None:
        super().__init__(answer[0])
        self.answer = answer


def _direct_error(status: int, code: int, string: str, detail: str) -> _ApiError:
    body = {
        "error": {
            "request_id": hashlib.md5(detail.encode()).hexdigest()[:16],
            "error_code": code,
            "error_string": string,
            "error_detail": detail,
        }
    }
    return _ApiError(
        (status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(body, ensure_ascii=False).encode())
    )


def _vk_error(status: int, code: str, message: str) -> _ApiError:
    return _ApiError(
        (
            status,
            {"Content-Type": "application/json"},
            json.dumps({"error": {"code": code, "message": message}}).encode(),
        )
    )


def _handler_for(portal: AdsPortal) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, data = portal.handle(method, url.path, url.query, headers, body)
            self.send_response(status)
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler
