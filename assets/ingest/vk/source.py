"""dlt source for VK Ads (ads.vk.com API v2) daily campaign statistics, plain dlt, no Dagster.

Campaigns from `GET <base>/api/v2/campaigns.json?fields=id,name&limit=250&offset=…`, statistics from
`GET <base>/api/v2/statistics/campaigns/day.json?id=…&date_from=&date_to=&metrics=base` with a Bearer
token -> `items[{id, rows[{date, base{shows, clicks, spent, goals}}]}]`, values as strings. VK allows at
most 92 days and 200 ids a request, so the range is cut into such windows. Errors come as JSON
`error{code, message}`; 429/5xx are retried with backoff honouring Retry-After.

Table `campaign_stats` (dataset raw_vk): date, campaign_id, campaign_name, shows, clicks, spent,
goals, currency (the account's, from settings: VK sends none) — merged on date + campaign_id, with
the same look-back cursor as Direct. A value that is not a number goes to raw_vk.quarantine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import dlt
from dlt.common.schema import TTableSchemaColumns
from dlt.sources import DltResource

from assets.ingest.quarantine import quarantined
from resources.http import RetryingSession, SourceHTTPError

MAX_DAYS = 92
MAX_IDS = 200
KEY = ("date", "campaign_id")
CURRENCIES = frozenset({"RUB", "USD", "EUR", "KZT", "BYN", "UZS", "CNY"})
HINTS: TTableSchemaColumns = {
    "date": {"data_type": "date"},
    "campaign_id": {"data_type": "bigint"},
    "campaign_name": {"data_type": "text"},
    "shows": {"data_type": "bigint"},
    "clicks": {"data_type": "bigint"},
    "spent": {"data_type": "decimal", "precision": 38, "scale": 6},
    "goals": {"data_type": "bigint"},
    "currency": {"data_type": "text"},
}


class VKAdsError(SourceHTTPError):
    """VK Ads refused a request; the message carries its error code and message (never the token)."""


class VKAdsFormatError(ValueError):
    """VK's answer lacks what the source needs (a metric, a known currency)."""


def windows(first: date, last: date, days: int = MAX_DAYS) -> Iterator[tuple[date, date]]:
    while first <= last:
        end = min(last, first + timedelta(days=days - 1))
        yield first, end
        first = end + timedelta(days=1)


class VKAdsClient:
    def __init__(
        self, base_url: str, token: str, *, sleep: Callable[[float], None] = time.sleep, read_timeout: float = 120.0
    ) -> None:
        self.base = base_url.rstrip("/")
        self._token = token
        self._http = RetryingSession("VK Ads", timeout=(10.0, read_timeout), sleep=sleep)

    def __repr__(self) -> str:
        return f"VKAdsClient({self.base!r}, token=***)"

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        response = self._http.get(
            f"{self.base}{path}", params=params, headers={"Authorization": f"Bearer {self._token}"}
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or "error" in body:
            err = (body or {}).get("error") if isinstance(body, dict) else None
            detail = f"{err.get('code')}: {err.get('message')}" if isinstance(err, dict) else repr(response.text[:200])
            raise VKAdsError(
                f"VK Ads GET {path}: HTTP {response.status_code}, {detail}",
                status=response.status_code,
                code=err.get("code") if isinstance(err, dict) else None,
            )
        return body

    def campaigns(self) -> dict[int, str]:
        out: dict[int, str] = {}
        offset = 0
        while True:
            page = self.get("/api/v2/campaigns.json", {"fields": "id,name", "limit": 250, "offset": offset})
            items = page.get("items") or []
            out.update({int(c["id"]): c.get("name") for c in items})
            offset += len(items)
            if not items or offset >= int(page.get("count", 0)):
                return out


def _number(value: Any, kind: type, name: str) -> Any:
    try:
        result = kind(str(value).strip())
    except (ValueError, InvalidOperation, TypeError):
        raise ValueError(f"{name} {value!r} is not a number") from None
    if kind is Decimal and not result.is_finite():
        raise ValueError(f"{name} {value!r} is not a finite number")
    return result


@dlt.source(name="vk")
def vk_source(
    base_url: str = dlt.config.value,
    token: str = dlt.secrets.value,
    currency: str = "RUB",
    start_date: date = dlt.config.value,
    end_date: date | None = None,
    lookback_days: int = 7,
    sleep: Callable[[float], None] = time.sleep,
    read_timeout: float = 120.0,
) -> DltResource:
    """VK Ads daily statistics by campaign -> raw_vk.campaign_stats."""
    if currency.upper() not in CURRENCIES:
        raise VKAdsFormatError(
            f"VK_ADS_CURRENCY={currency!r} is not a supported currency ({', '.join(sorted(CURRENCIES))})"
        )

    @dlt.resource(name="campaign_stats", primary_key=list(KEY), write_disposition="merge", columns=HINTS)
    def campaign_stats() -> Iterator[Any]:
        """Daily shows, clicks, spend and goals per campaign in the account's currency (merged on date + campaign_id)."""
        client = VKAdsClient(base_url, token, sleep=sleep, read_timeout=read_timeout)
        state = dlt.current.resource_state()
        last = state.get("last_date")
        first = (
            start_date if last is None else max(start_date, date.fromisoformat(last) - timedelta(days=lookback_days))
        )
        end = end_date or date.today()
        if first > end:
            return
        names = client.campaigns()
        ids = sorted(names)
        for d_from, d_to in windows(first, end):
            for i in range(0, len(ids), MAX_IDS):
                chunk = ids[i : i + MAX_IDS]
                answer = client.get(
                    "/api/v2/statistics/campaigns/day.json",
                    {
                        "id": ",".join(map(str, chunk)),
                        "date_from": d_from.isoformat(),
                        "date_to": d_to.isoformat(),
                        "metrics": "base",
                    },
                )
                for item in answer.get("items") or []:
                    for n, row in enumerate(item.get("rows") or []):
                        base = row.get("base") or {}
                        position = f"day.json id={item.get('id')} {d_from}..{d_to}, row {n}"
                        try:
                            missing = [m for m in ("shows", "clicks", "spent") if m not in base]
                            if missing:
                                raise ValueError(f"metric(s) {', '.join(missing)} missing")
                            rec = {
                                "date": date.fromisoformat(row["date"]),
                                "campaign_id": int(item["id"]),
                                "campaign_name": names.get(int(item["id"])),
                                "shows": _number(base["shows"], int, "shows"),
                                "clicks": _number(base["clicks"], int, "clicks"),
                                "spent": _number(base["spent"], Decimal, "spent"),
                                "goals": _number(base.get("goals", "0"), int, "goals"),
                                "currency": currency.upper(),
                            }
                        except (ValueError, KeyError) as exc:
                            yield quarantined("vk", position, str(exc), row)
                            continue
                        yield rec
            state["last_date"] = max(d_to, date.fromisoformat(last) if last else d_to).isoformat()

    return campaign_stats
