"""dlt source for the Central Bank of Russia's daily rates (XML_daily.asp), plain dlt, no Dagster.

`GET <base>/scripts/XML_daily.asp?date_req=DD/MM/YYYY` answers windows-1251 XML
`<ValCurs Date="DD.MM.YYYY"><Valute><CharCode/><Nominal/><Value>92,1234</Value>…`. On weekends and
holidays the answer's Date is the last published day, so rows are keyed on the answer's date and
repeated answers are loaded once. Table `rates` (dataset raw_cbr): date, char_code, nominal, value
(rubles per `nominal` units, decimal comma read as a decimal), merged on date + char_code.

A company in a closed network may hand the same rows over as a file instead (`rates_file`, the
CBR_RATES_FILE setting: columns date, char_code, nominal, value), merged the same way.

Incremental: the resource state keeps the last day asked; the next run asks again from a few days
before it (the CBR publishes tomorrow's rate today) up to `end_date`. A malformed value is
quarantined (raw_cbr.quarantine: the day asked, the currency, the reason) and the other currencies load.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import dlt
from dlt.common.schema import TTableSchemaColumns
from dlt.sources import DltResource

from assets.ingest.quarantine import quarantined
from resources.http import RetryingSession, SourceHTTPError

LOOKBACK_DAYS = 3
CBR_KEY = ("date", "char_code")
CBR_HINTS: TTableSchemaColumns = {
    "date": {"data_type": "date", "nullable": False},
    "char_code": {"data_type": "text", "nullable": False},
    "nominal": {"data_type": "bigint"},
    "value": {"data_type": "decimal", "precision": 38, "scale": 9},
}


class CBRFormatError(ValueError):
    """The answer is not XML_daily (wrong URL, an HTML error page, missing ValCurs/Date)."""


def parse_xml_daily(body: bytes, asked: date) -> tuple[date | None, list[dict[str, Any]], list[tuple[str, str, str]]]:
    """(published date, rows, problems[(char_code, reason, raw)]); an empty ValCurs gives (None, [], [])."""
    try:
        root = ET.fromstring(body)  # the XML declaration names windows-1251; ElementTree decodes it
    except ET.ParseError as exc:
        raise CBRFormatError(f"CBR answer for {asked:%d/%m/%Y} is not XML ({exc}): {body[:80]!r}") from None
    if root.tag != "ValCurs":
        raise CBRFormatError(f"CBR answer for {asked:%d/%m/%Y} has root <{root.tag}>, expected <ValCurs>")
    valutes = root.findall("Valute")
    if not valutes:
        return None, [], []
    try:
        published = datetime.strptime(root.attrib["Date"], "%d.%m.%Y").date()
    except (KeyError, ValueError):
        raise CBRFormatError(
            f"CBR answer for {asked:%d/%m/%Y}: ValCurs Date {root.attrib.get('Date')!r} is not DD.MM.YYYY"
        ) from None
    rows, problems = [], []
    for v in valutes:
        code = (v.findtext("CharCode") or "").strip().upper()
        raw_nominal, raw_value = (v.findtext("Nominal") or "").strip(), (v.findtext("Value") or "").strip()
        try:
            if len(code) != 3 or not code.isalpha():
                raise ValueError(f"CharCode {code!r} is not a 3-letter code")
            nominal = int(raw_nominal)
            value = Decimal(raw_value.replace(",", ".").replace("\u00a0", "").replace(" ", ""))
            if not value.is_finite() or value <= 0 or nominal <= 0:
                raise InvalidOperation
        except (ValueError, InvalidOperation) as exc:
            reason = (
                str(exc)
                if isinstance(exc, ValueError) and str(exc)
                else f"Nominal {raw_nominal!r} / Value {raw_value!r} is not a positive number"
            )
            problems.append((code or "?", reason, ET.tostring(v, encoding="unicode")))
            continue
        rows.append({"date": published, "char_code": code, "nominal": nominal, "value": value})
    return published, rows, problems


def _code(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"{value!r} is not a 3-letter currency code")
    return code


def _decimal(value: str) -> Decimal:
    try:
        result = Decimal(value.strip().replace(",", ".").replace("\u00a0", "").replace(" ", ""))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a number")
    return result


def _positive(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def checked(value: str) -> Any:
        result = convert(value)
        if result <= 0:
            raise ValueError(f"{value!r} is not positive")
        return result

    return checked


# A rates file (CBR_RATES_FILE) for a closed network: the same four columns as the table.
RATES_FILE_COLUMNS: dict[str, Callable[[str], Any]] = {
    "date": lambda v: date.fromisoformat(v.strip()),
    "char_code": _code,
    "nominal": _positive(lambda v: int(v.strip())),
    "value": _positive(lambda v: _decimal(v)),
}


@dlt.source(name="cbr")
def cbr_source(
    base_url: str = dlt.config.value,
    start_date: date = dlt.config.value,
    end_date: date | None = None,
    sleep: Callable[[float], None] = time.sleep,
    read_timeout: float = 120.0,
    rates_file: str | None = None,
) -> DltResource:
    """CBR daily rates from XML_daily.asp (or, in a closed network, from a rates file) -> raw_cbr.rates."""
    if rates_file:
        return _rates_from_file(rates_file)
    http = RetryingSession("CBR", timeout=(10.0, read_timeout), sleep=sleep)

    @dlt.resource(name="rates", primary_key=list(CBR_KEY), write_disposition="merge", columns=CBR_HINTS)
    def rates() -> Iterator[Any]:
        """CBR rates: rubles per `nominal` units of char_code on the published date (merged on date + char_code)."""
        state = dlt.current.resource_state()
        last = state.get("last_day")
        first = (
            start_date if last is None else max(start_date, date.fromisoformat(last) - timedelta(days=LOOKBACK_DAYS))
        )
        end = end_date or date.today() + timedelta(days=1)
        seen: set[date] = set()
        day = first
        while day <= end:
            url = f"{base_url.rstrip('/')}/scripts/XML_daily.asp?date_req={day:%d/%m/%Y}"
            response = http.get(url)
            if response.status_code != 200:
                raise SourceHTTPError(
                    f"CBR: XML_daily for {day:%d/%m/%Y} answered {response.status_code}", status=response.status_code
                )
            published, rows, problems = parse_xml_daily(response.content, day)
            for code, reason, raw in problems:
                yield quarantined("cbr", f"XML_daily date_req={day:%d/%m/%Y} CharCode={code}", reason, raw)
            if published is not None and published not in seen:
                seen.add(published)
                yield rows
            state["last_day"] = day.isoformat()
            day += timedelta(days=1)

    return rates


def _rates_from_file(rates_file: str) -> DltResource:
    """A CSV/XLSX of date, char_code, nominal, value (rubles per `nominal` units), merged like the API's rows:
    a file holding only recent days adds to the history instead of replacing it."""
    from assets.ingest.files.source import read_typed_csv

    @dlt.resource(name="rates", primary_key=list(CBR_KEY), write_disposition="merge", columns=CBR_HINTS)
    def rates() -> Iterator[Any]:
        """CBR rates from the company's rates file (CBR_RATES_FILE), merged on date + char_code."""
        yield read_typed_csv(rates_file, RATES_FILE_COLUMNS, tuple(RATES_FILE_COLUMNS), CBR_KEY, "CBR rates")

    return rates
