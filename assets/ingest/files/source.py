"""dlt source for the sales plan sheet (plain dlt, no Dagster).

- `plan_source(plan_file)` (.csv or .xlsx, a Google Sheet export; template: plan_template.csv/.xlsx
  beside this file) -> table `plan` (dataset raw_plan): one row per month x manager x pipeline,
  replaced whole on every run, because the sheet is the full truth (a row removed from the sheet must
  disappear from the warehouse). Duplicate keys in the sheet are an error, not a silent merge.

The CBR exchange rates come over HTTP (assets/ingest/cbr/source.py), not from a file.

Values are typed while reading (ids and counts as integers, money and rates as decimals, dates as
dates), and every problem names the file, the line and the column.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import dlt
from dlt.common.schema import TColumnSchema, TTableSchemaColumns
from dlt.sources import DltResource


class SourceFileError(ValueError):
    """A plan file is missing, lacks columns, or holds a value of the wrong kind."""


def _month(value: str) -> str:
    """Plan months are `YYYY-MM`; kept as text, validated."""
    date.fromisoformat(value.strip() + "-01")
    return value.strip()


def _decimal(value: str) -> Decimal:
    text = value.strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        result = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def _int(value: str) -> int:
    return int(value.strip())


PLAN_COLUMNS: dict[str, Callable[[str], Any]] = {
    "month": _month,
    "manager_id": _int,
    "pipeline_id": _int,
    "amount_rub": _decimal,
    "deal_count": _int,
    "bonus_threshold_pct": _decimal,
    "bonus_rub": _decimal,
}
PLAN_KEY = ("month", "manager_id", "pipeline_id")
# Only these must be present; the others are typed when present (older sheets may lack bonus columns).
PLAN_REQUIRED = ("month", "manager_id", "pipeline_id", "amount_rub")


def _decimal_hint() -> TColumnSchema:
    return {"data_type": "decimal", "precision": 38, "scale": 9}  # a fresh dict each: dlt writes into hints


PLAN_HINTS: TTableSchemaColumns = {
    "month": {"data_type": "text"},
    "manager_id": {"data_type": "bigint"},
    "pipeline_id": {"data_type": "bigint"},
    "amount_rub": _decimal_hint(),
    "deal_count": {"data_type": "bigint"},
    "bonus_threshold_pct": _decimal_hint(),
    "bonus_rub": _decimal_hint(),
}


def read_typed_csv(
    path: Path | str,
    converters: dict[str, Callable[[str], Any]],
    required: Sequence[str],
    key: Sequence[str],
    what: str,
) -> list[dict[str, Any]]:
    """Read a UTF-8 CSV (or the first sheet of an .xlsx) with a header; convert known columns, keep unknown ones as text.

    Raises SourceFileError naming the file (and line/column) when it is missing, lacks a required
    column, holds a bad value, or repeats a key.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceFileError(f"{what} file not found: {path}")
    if path.suffix.lower() == ".xlsx":
        header, records = _xlsx_records(path)
        return _typed_rows(path, header, records, converters, required, key, what)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        return _typed_rows(path, header, enumerate(reader, start=2), converters, required, key, what)


def _xlsx_cell(value: Any) -> str:
    """An XLSX cell as the text a CSV export would hold (Sheets turns `2026-07` into a date, 5 into 5.0)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m") if value.day == 1 and not value.time() else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx_records(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The first sheet of an .xlsx (a Google Sheet downloaded as Microsoft Excel): header row, then rows."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    header = [_xlsx_cell(h).strip() for h in (rows[0] if rows else ())]
    return header, ((n, dict(zip(header, map(_xlsx_cell, values)))) for n, values in enumerate(rows[1:], start=2))


def _typed_rows(
    path: Path,
    header: list[str],
    records: Iterator[tuple[int, dict[str, Any]]],
    converters: dict[str, Callable[[str], Any]],
    required: Sequence[str],
    key: Sequence[str],
    what: str,
) -> list[dict[str, Any]]:
    """Type and check the records of a plan sheet (see read_typed_csv)."""
    missing = [c for c in required if c not in header]
    if missing:
        raise SourceFileError(
            f"{what} file {path} lacks column(s) {', '.join(missing)}; it has: {', '.join(header) or '(no header)'}"
        )
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for line_no, raw in records:
        if not any((v or "").strip() for k, v in raw.items() if k is not None):
            continue  # blank line
        row: dict[str, Any] = {}
        for column in header:
            value = raw.get(column)
            if column in converters:
                if value is None or not value.strip():
                    if column in required or column in key:
                        raise SourceFileError(f"{what} file {path}, line {line_no}: column {column} is empty")
                    row[column] = None
                    continue
                try:
                    row[column] = converters[column](value)
                except ValueError as exc:
                    raise SourceFileError(f"{what} file {path}, line {line_no}, column {column}: {exc}") from None
            else:  # a column the sheet's owner added: kept as text, an empty cell as NULL like the others
                row[column] = value.strip() if value and value.strip() else None
        ident = tuple(row[k] for k in key)
        if ident in seen:
            raise SourceFileError(
                f"{what} file {path}, line {line_no}: duplicate {'+'.join(key)} {ident} (first on line {seen[ident]})"
            )
        seen[ident] = line_no
        rows.append(row)
    return rows


@dlt.source(name="plan")
def plan_source(plan_file: str = dlt.config.value) -> DltResource:
    """The monthly sales plan sheet (plan.csv or .xlsx) -> raw_plan.plan."""

    @dlt.resource(name="plan", primary_key=list(PLAN_KEY), write_disposition="replace", columns=PLAN_HINTS)
    def plan() -> Iterator[list[dict[str, Any]]]:
        """Plan per month x manager x pipeline: amount_rub, deal_count, bonus terms (replaced whole)."""
        yield read_typed_csv(plan_file, PLAN_COLUMNS, PLAN_REQUIRED, PLAN_KEY, "plan")

    return plan
