"""Reading export folders (1C, telephony): CSV (`;` or `,`, UTF-8 or windows-1251), XLSX, JSON; typed cells.

`read_rows(path)` yields (position, {column: value}) with the header's names stripped; XLSX cells keep
their types (dates, numbers), CSV cells are text. `changed_files` keeps a per-file fingerprint (size,
mtime) in the dlt resource state so a rerun reads only new or changed export files.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any


class ExportFileError(ValueError):
    """An export file cannot be read at all or lacks a required column; the message names the file."""


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1251")  # 1C's default export encoding


def read_header_and_rows(path: Path) -> tuple[list[str], Iterator[tuple[str, dict[str, Any]]]]:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        rows = wb.worksheets[0].iter_rows(values_only=True)
        first = next(rows, None) or ()
        header = [str(h).strip() if h is not None else "" for h in first]

        def gen_x() -> Iterator[tuple[str, dict[str, Any]]]:
            for n, values in enumerate(rows, start=2):
                if values is None or all(v is None or str(v).strip() == "" for v in values):
                    continue
                yield f"{path.name}:{n}", dict(zip(header, values))
            wb.close()

        return header, gen_x()
    text = _decode(path.read_bytes())
    if suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ExportFileError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(data, dict):
            data = data.get("items") or data.get("calls") or data.get("rows") or []
        if not isinstance(data, list):
            raise ExportFileError(f"{path}: expected a JSON list of objects")
        header = sorted({k for r in data if isinstance(r, dict) for k in r})

        def gen_j() -> Iterator[tuple[str, dict[str, Any]]]:
            for n, r in enumerate(data):
                yield f"{path.name}[{n}]", r if isinstance(r, dict) else {"__invalid__": r}

        return header, gen_j()
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in next(reader, [])]

    def gen_c() -> Iterator[tuple[str, dict[str, Any]]]:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                yield (
                    f"{path.name}:{reader.line_num}",
                    {
                        "__invalid__": delimiter.join(values),
                        "__reason__": f"{len(values)} cells, header has {len(header)}",
                    },
                )
                continue
            yield f"{path.name}:{reader.line_num}", dict(zip(header, values))

    return header, gen_c()


def changed_files(folder: Path, patterns: tuple[str, ...], state: dict[str, Any]) -> list[Path]:
    """Files matching `patterns` whose (size, mtime) differ from the state's; the state is updated."""
    seen = state.setdefault("files", {})
    out = []
    for path in sorted({p for pattern in patterns for p in folder.glob(pattern) if p.is_file()}):
        st = path.stat()
        fingerprint = [st.st_size, st.st_mtime_ns]
        if seen.get(path.name) != fingerprint:
            out.append(path)
            seen[path.name] = fingerprint
    return out


# -- cell parsers (raise ValueError with a readable reason) --------------------------------------------


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in ("%d.%m.%Y", "%Y-%m-%d", "%d.%m.%Y %H:%M:%S", "%d.%m.%y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a date (DD.MM.YYYY or YYYY-MM-DD)")


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(str(value))
    text = str(value).strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        result = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return result


def to_int(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an integer") from None
