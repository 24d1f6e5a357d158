"""dlt source for Yandex.Direct's Reports API (v5), plain dlt, no Dagster.

`POST <base>/json/v5/reports` with `Authorization: Bearer <token>`, `Client-Login` (agency accounts),
`processingMode: auto`, `returnMoneyInMicros: false`, `skipReportHeader/skipReportSummary: true` and a
CUSTOM_REPORT over [Date, CampaignId, CampaignName, Impressions, Clicks, Cost] in TSV. Answers:
**200** the TSV, **201/202** queued/building -> resend the same request after `retryIn` seconds,
errors as JSON `error{request_id, error_code, error_string, error_detail}` (9000 "queue full" is
waited out). 429/5xx and timeouts are retried with backoff (resources.http).

Cost has no currency column: the login's currency comes from `clients.get` (Currency) and is kept on
every row; a login in Yandex's conventional units (YND_FIXED) or an unknown code is an error.

Table `campaign_stats` (dataset raw_direct): date, campaign_id, campaign_name, impressions, clicks,
cost, currency, client_login — merged on date + campaign_id. Incremental by report date: the state
keeps the last day loaded and each run asks again from `lookback_days` before it, because Direct
revises recent statistics (a revised day is updated, never duplicated). A malformed TSV line goes to
raw_direct.quarantine with the report name and line number; the rest loads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import dlt
import requests
from dlt.common.schema import TTableSchemaColumns
from dlt.sources import DltResource

from assets.ingest.quarantine import quarantined
from resources.http import RetryingSession, RetryPolicy, SourceHTTPError

log = logging.getLogger(__name__)

FIELDS = ("Date", "CampaignId", "CampaignName", "Impressions", "Clicks", "Cost")
KEY = ("date", "campaign_id")
# Real currencies a Direct login may work in (clients.get Currency); YND_FIXED is Yandex's conventional unit.
CURRENCIES = frozenset({"RUB", "USD", "EUR", "KZT", "BYN", "UAH", "CHF", "TRY", "UZS", "CNY"})
HINTS: TTableSchemaColumns = {
    "date": {"data_type": "date", "nullable": False},
    "campaign_id": {"data_type": "bigint", "nullable": False},
    "campaign_name": {"data_type": "text"},
    "impressions": {"data_type": "bigint"},
    "clicks": {"data_type": "bigint"},
    "cost": {"data_type": "decimal", "precision": 38, "scale": 6},
    "currency": {"data_type": "text", "nullable": False},
    "client_login": {"data_type": "text"},
}
MAX_POLLS = 120


class DirectAPIError(SourceHTTPError):
    """Direct refused the request: the message carries error_code, error_string and error_detail (never the token)."""


class DirectFormatError(ValueError):
    """The report or the client answer lacks what the source needs (a column, a known currency)."""


class DirectClient:
    """Reports API client: offline-mode polling with retryIn, retries, JSON errors."""

    def __init__(
        self,
        base_url: str,
        token: str,
        client_login: str | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 5,
        read_timeout: float = 120.0,
    ) -> None:
        self.base = base_url.rstrip("/")
        self._token = token
        self.client_login = client_login
        self._sleep = sleep
        self._http = RetryingSession(
            "Yandex.Direct", policy=RetryPolicy(max_attempts=max_retries + 1), timeout=(10.0, read_timeout), sleep=sleep
        )

    def __repr__(self) -> str:
        return f"DirectClient({self.base!r}, login={self.client_login!r}, token=***)"

    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._token}", "Accept-Language": "en"}
        if self.client_login:
            headers["Client-Login"] = self.client_login
        return headers

    def _error(self, response: requests.Response, what: str) -> DirectAPIError:
        try:
            err = response.json()["error"]
            text = (
                f"Yandex.Direct {what}: HTTP {response.status_code}, error_code {err.get('error_code')} "
                f"{err.get('error_string')}: {err.get('error_detail')} (request_id {err.get('request_id')})"
            )
            return DirectAPIError(text, status=response.status_code, code=err.get("error_code"))
        except (ValueError, KeyError, TypeError):
            return DirectAPIError(
                f"Yandex.Direct {what}: HTTP {response.status_code}: {response.text[:200]!r}",
                status=response.status_code,
            )

    def currency(self) -> str:
        """The login's currency (clients.get), validated."""
        body: dict[str, Any] = {"method": "get", "params": {"FieldNames": ["Login", "Currency"]}}
        response = self._http.post(f"{self.base}/json/v5/clients", json=body, headers=self._headers())
        if response.status_code != 200 or "error" in (response.json() if response.content else {}):
            raise self._error(response, "clients.get")
        clients = response.json().get("result", {}).get("Clients") or []
        if not clients or not clients[0].get("Currency"):
            raise DirectFormatError(
                "Yandex.Direct clients.get returned no Currency for the login; cannot tell what currency Cost is in"
            )
        currency = str(clients[0]["Currency"]).upper()
        if currency not in CURRENCIES:
            raise DirectFormatError(
                f"Yandex.Direct login {clients[0].get('Login') or self.client_login} works in {currency!r}, not a "
                f"supported currency ({', '.join(sorted(CURRENCIES))}); switch the account to a real currency"
            )
        return currency

    def report_tsv(self, date_from: date, date_to: date) -> tuple[str, str]:
        """(report name, TSV text) of the daily campaign report; waits out 201/202 as told by retryIn."""
        params: dict[str, Any] = {
            "SelectionCriteria": {"DateFrom": date_from.isoformat(), "DateTo": date_to.isoformat()},
            "FieldNames": list(FIELDS),
            "ReportType": "CUSTOM_REPORT",
            "DateRangeType": "CUSTOM_DATE",
            "Format": "TSV",
            "IncludeVAT": "YES",
            "IncludeDiscount": "NO",
        }
        digest = hashlib.sha1(json.dumps([self.client_login, params], sort_keys=True).encode()).hexdigest()[:12]
        params["ReportName"] = f"rop_campaign_days_{date_from:%Y%m%d}_{date_to:%Y%m%d}_{digest}"
        headers = {
            **self._headers(),
            "processingMode": "auto",
            "returnMoneyInMicros": "false",
            "skipReportHeader": "true",
            "skipColumnHeader": "false",
            "skipReportSummary": "true",
        }
        for _ in range(MAX_POLLS):
            response = self._http.post(f"{self.base}/json/v5/reports", json={"params": params}, headers=headers)
            if response.status_code == 200:
                response.encoding = "utf-8"
                return params["ReportName"], response.text
            if response.status_code in (201, 202):
                wait = float(response.headers.get("retryIn") or 1)
                log.info(
                    "Yandex.Direct report %s %s, polling again in %s s",
                    params["ReportName"],
                    "queued" if response.status_code == 201 else "being built",
                    wait,
                )
                self._sleep(wait)
                continue
            error = self._error(response, "reports")
            if error.code == 9000:  # the offline queue is full: wait for our earlier reports to finish
                self._sleep(float(response.headers.get("retryIn") or 5))
                continue
            raise error
        raise DirectAPIError(f"Yandex.Direct report {params['ReportName']} not ready after {MAX_POLLS} polls")


def parse_report(tsv: str, report_name: str, currency: str, client_login: str | None) -> Iterator[Any]:
    """Rows of the TSV (column header first); malformed lines become quarantine items."""
    lines = tsv.splitlines()
    if not lines:
        return
    header = lines[0].split("\t")
    missing = [f for f in FIELDS if f not in header]
    if missing:
        raise DirectFormatError(
            f"Yandex.Direct report {report_name}: column(s) {', '.join(missing)} missing; the header is {header}"
        )
    idx = {f: header.index(f) for f in FIELDS}
    for line_no, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("Total rows:"):
            continue
        cells = line.split("\t")
        try:
            if len(cells) != len(header):
                raise ValueError(f"{len(cells)} cells, expected {len(header)}")
            try:
                cost = Decimal(cells[idx["Cost"]])
            except InvalidOperation:
                raise ValueError(f"Cost {cells[idx['Cost']]!r} is not a number") from None
            if not cost.is_finite():
                raise ValueError(f"Cost {cells[idx['Cost']]!r} is not a finite number")
            row = {
                "date": date.fromisoformat(cells[idx["Date"]]),
                "campaign_id": int(cells[idx["CampaignId"]]),
                "campaign_name": cells[idx["CampaignName"]],
                "impressions": int(cells[idx["Impressions"]]),
                "clicks": int(cells[idx["Clicks"]]),
                "cost": cost,
                "currency": currency,
                "client_login": client_login,
            }
        except ValueError as exc:
            yield quarantined("direct", f"report {report_name}, line {line_no}", str(exc), line)
            continue
        yield row


@dlt.source(name="direct")
def direct_source(
    base_url: str = dlt.config.value,
    token: str = dlt.secrets.value,
    client_login: str | None = None,
    start_date: date = dlt.config.value,
    end_date: date | None = None,
    lookback_days: int = 7,
    sleep: Callable[[float], None] = time.sleep,
    read_timeout: float = 120.0,
) -> DltResource:
    """Yandex.Direct daily statistics by campaign -> raw_direct.campaign_stats."""

    @dlt.resource(name="campaign_stats", primary_key=list(KEY), write_disposition="merge", columns=HINTS)
    def campaign_stats() -> Iterator[Any]:
        """Daily impressions, clicks and cost per campaign, in the login's currency (merged on date + campaign_id)."""
        client = DirectClient(base_url, token, client_login, sleep=sleep, read_timeout=read_timeout)
        state = dlt.current.resource_state()
        last = state.get("last_date")
        first = (
            start_date if last is None else max(start_date, date.fromisoformat(last) - timedelta(days=lookback_days))
        )
        end = end_date or date.today()
        if first > end:
            return
        currency = client.currency()
        name, tsv = client.report_tsv(first, end)
        newest = None
        for item in parse_report(tsv, name, currency, client_login):
            if isinstance(item, dict) and "campaign_id" in item:
                newest = max(newest or item["date"], item["date"])
            yield item
        if newest is not None:
            state["last_date"] = max(newest, date.fromisoformat(last) if last else newest).isoformat()

    return campaign_stats
