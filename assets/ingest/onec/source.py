"""dlt source for 1C invoices and payments exported to a folder (CSV or XLSX), plain dlt, no Dagster.

The folder holds `invoices*.csv|xlsx` and `payments*.csv|xlsx` (one file or several, e.g. one a
month; examples: invoices_example.csv and payments_example.csv beside this file). CSV as 1C writes
it: `;` (or `,`) separated, windows-1251 (or UTF-8), dates DD.MM.YYYY (or ISO), decimal comma. Columns (header row, names as below; extra columns are kept as text):

    invoices: invoice_number*, invoice_date*, amount*, currency*, deal_id, company_id, counterparty, status
    payments: payment_number*, payment_date*, amount*, currency*, invoice_number, deal_id, company_id, purpose

(* required; each row needs a deal_id or a company_id — the link to the CRM). Currency is an ISO code
or 1C's "руб."/RUR/643 and the like (normalised to RUB/USD/…). Tables merge on the document number;
each row records its source file and line. Only new or changed files are read on a rerun (the dlt
state keeps each file's size and mtime). A missing required column stops the load naming the file;
a bad row goes to raw_onec.quarantine with file:line and reason, and the rest loads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
from dlt.sources import DltResource

from assets.ingest.exportfiles import (
    ExportFileError,
    blank,
    changed_files,
    read_header_and_rows,
    to_date,
    to_decimal,
    to_int,
)
from assets.ingest.quarantine import quarantined

CURRENCY_ALIASES = {
    "RUB": "RUB",
    "RUR": "RUB",
    "РУБ": "RUB",
    "РУБ.": "RUB",
    "643": "RUB",
    "₽": "RUB",
    "USD": "USD",
    "840": "USD",
    "$": "USD",
    "EUR": "EUR",
    "978": "EUR",
    "€": "EUR",
    "CNY": "CNY",
    "156": "CNY",
    "KZT": "KZT",
    "398": "KZT",
    "BYN": "BYN",
    "933": "BYN",
}


def currency(value: Any) -> str:
    code = str(value).strip().upper()
    if code not in CURRENCY_ALIASES:
        raise ValueError(
            f"currency {value!r} is not a known code ({', '.join(sorted(set(CURRENCY_ALIASES.values())))})"
        )
    return CURRENCY_ALIASES[code]


def _text(value: Any) -> str:
    return str(value).strip()


DECIMAL = {"data_type": "decimal", "precision": 38, "scale": 6}
DOCS: dict[str, dict[str, Any]] = {
    "invoices": {
        "patterns": ("invoices*.csv", "invoices*.xlsx"),
        "key": "invoice_number",
        "required": ("invoice_number", "invoice_date", "amount", "currency"),
        "parsers": {
            "invoice_number": _text,
            "invoice_date": to_date,
            "amount": to_decimal,
            "currency": currency,
            "deal_id": to_int,
            "company_id": to_int,
            "counterparty": _text,
            "status": _text,
        },
        "hints": {
            "invoice_number": {"data_type": "text"},
            "invoice_date": {"data_type": "date"},
            "amount": DECIMAL,
            "currency": {"data_type": "text"},
            "deal_id": {"data_type": "bigint"},
            "company_id": {"data_type": "bigint"},
            "counterparty": {"data_type": "text"},
            "status": {"data_type": "text"},
            "source_file": {"data_type": "text"},
            "source_line": {"data_type": "text"},
        },
    },
    "payments": {
        "patterns": ("payments*.csv", "payments*.xlsx"),
        "key": "payment_number",
        "required": ("payment_number", "payment_date", "amount", "currency"),
        "parsers": {
            "payment_number": _text,
            "payment_date": to_date,
            "amount": to_decimal,
            "currency": currency,
            "invoice_number": _text,
            "deal_id": to_int,
            "company_id": to_int,
            "purpose": _text,
        },
        "hints": {
            "payment_number": {"data_type": "text"},
            "payment_date": {"data_type": "date"},
            "amount": DECIMAL,
            "currency": {"data_type": "text"},
            "invoice_number": {"data_type": "text"},
            "deal_id": {"data_type": "bigint"},
            "company_id": {"data_type": "bigint"},
            "purpose": {"data_type": "text"},
            "source_file": {"data_type": "text"},
            "source_line": {"data_type": "text"},
        },
    },
}


def parse_document(
    raw: dict[str, Any], parsers: dict[str, Callable[[Any], Any]], required: tuple[str, ...]
) -> dict[str, Any]:
    if "__invalid__" in raw:
        raise ValueError(raw.get("__reason__", "not a row"))
    row: dict[str, Any] = {}
    for column, value in raw.items():
        if column is None or column == "":
            continue
        if blank(value):
            if column in required:
                raise ValueError(f"{column} is empty")
            row[column] = None
        elif column in parsers:
            try:
                row[column] = parsers[column](value)
            except ValueError as exc:
                raise ValueError(f"{column}: {exc}") from None
        else:
            row[column] = _text(value)
    if row.get("deal_id") is None and row.get("company_id") is None:
        raise ValueError("neither deal_id nor company_id: the document cannot be linked to the CRM")
    return row


def _documents(folder: Path, name: str) -> Iterator[Any]:
    spec = DOCS[name]
    if not folder.is_dir():
        raise ExportFileError(f"1C export folder not found: {folder}")
    state = dlt.current.resource_state()
    for path in changed_files(folder, spec["patterns"], state):
        header, rows = read_header_and_rows(path)
        missing = [c for c in spec["required"] if c not in header]
        if not {"deal_id", "company_id"} & set(header):
            missing.append("deal_id or company_id")
        if missing:
            raise ExportFileError(
                f"1C {name} file {path} lacks column(s) {', '.join(missing)}; "
                f"it has: {', '.join(header) or '(no header)'}"
            )
        for position, raw in rows:
            try:
                row = parse_document(raw, spec["parsers"], spec["required"])
            except ValueError as exc:
                yield quarantined("onec", position, str(exc), raw.get("__invalid__", raw))
                continue
            row["source_file"], row["source_line"] = path.name, position.rsplit(":", 1)[-1]
            yield row


@dlt.source(name="onec")
def onec_source(export_dir: str = dlt.config.value) -> list[DltResource]:
    """1C invoices and payments from an export folder -> raw_onec.invoices, raw_onec.payments."""
    folder = Path(export_dir)

    @dlt.resource(
        name="invoices", primary_key="invoice_number", write_disposition="merge", columns=DOCS["invoices"]["hints"]
    )
    def invoices() -> Iterator[Any]:
        """1C invoices (number, date, amount, currency, deal/company reference), merged on invoice_number."""
        yield from _documents(folder, "invoices")

    @dlt.resource(
        name="payments", primary_key="payment_number", write_disposition="merge", columns=DOCS["payments"]["hints"]
    )
    def payments() -> Iterator[Any]:
        """1C payments (number, date, amount, currency, invoice/deal/company reference), merged on payment_number."""
        yield from _documents(folder, "payments")

    return [invoices, payments]
