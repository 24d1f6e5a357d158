"""Reading export files (CSV or XLSX) into canonical rows (plain Python): decode, split, normalise, type,
quarantine.

`read_entity(spec, export_dir)` returns the good rows and the quarantined ones. A quarantined row says
which file and which line (the physical line where the CSV record ends, or the XLSX row; 1 = the header), why, and
what the raw record was, so the on-call can fix the export and reload. Problems with the whole file
(missing file, a mapped column absent from the header, undecodable bytes) raise ExportFileError.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from assets.ingest.export.mapping import (
    CANONICAL,
    DEAL_STATUSES,
    ONE_PER_RECORD,
    SURROGATE_KEYS,
    EntitySpec,
    FieldSpec,
)
from assets.ingest.exportfiles import read_header_and_rows

_SPACES = re.compile(r"\s+")
_MONEY_NOISE = re.compile(r"[\s$€£₽¥']|руб\.?|RUB|USD|EUR", re.IGNORECASE)


class ExportFileError(ValueError):
    """A whole export file cannot be read as mapped; the message names the file and the problem."""


def normalise(value: str | None, replace: dict[str, str]) -> str | None:
    """Replace (NBSP -> space), collapse runs of whitespace, trim; blank -> None."""
    if value is None:
        return None
    for old, new in replace.items():
        value = value.replace(old, new)
    value = _SPACES.sub(" ", value).strip()
    return value or None


def parse_decimal(text: str) -> Decimal:
    cleaned = _MONEY_NOISE.sub("", text)
    if "," in cleaned and "." in cleaned:
        cleaned = cleaned.replace(",", "")  # 1,234.56
    else:
        cleaned = cleaned.replace(",", ".")  # 1234,56
    try:
        result = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    return result


def parse_timestamp(text: str, formats: tuple[str, ...], tz: ZoneInfo | None = None) -> datetime:
    """The first format that parses, as an aware time; a value without an offset is a wall-clock time in
    `tz` (the company's zone: a CRM writes its exports in local time, so a deal won at 23:30 on the
    31st stays in its month), UTC when no zone is given; a bare date is midnight there."""
    for fmt in formats:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz or UTC)
    try:  # ISO 8601 with an offset, whatever the configured formats
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz or UTC)
    except ValueError:
        raise ValueError(f"not a date in {' or '.join(formats)}: {text!r}") from None


def convert(value: Any, spec: FieldSpec) -> Any:
    if value is None or not isinstance(value, str):
        return value
    if spec.type == "text":
        return value
    if spec.type == "decimal":
        return parse_decimal(value)
    if spec.type == "int":
        number = parse_decimal(value)
        if number != number.to_integral_value():
            raise ValueError(f"not a whole number: {value!r}")
        return int(number)
    if spec.type in ("timestamp", "date"):
        stamp = parse_timestamp(value, spec.date_format, spec.tz)
        return stamp.date() if spec.type == "date" else stamp.astimezone(UTC)
    raise AssertionError(spec.type)


def files_of(spec: EntitySpec, export_dir: Path) -> list[Path]:
    files = sorted(p for p in export_dir.glob(spec.file) if p.is_file())
    if not files:
        raise ExportFileError(f"{spec.name}: no file matches {spec.file!r} in {export_dir}")
    return files


def read_entity(spec: EntitySpec, export_dir: Path, export_name: str) -> tuple[list[dict], list[dict]]:
    """Good rows (later files win on the key) and quarantined rows of one mapped entity."""
    rows: dict[Any, dict] = {}
    quarantine: list[dict] = []
    for path in files_of(spec, export_dir):
        file_rows, file_bad = _read_file(spec, path, export_name)
        rows.update({row[spec.key]: row for row in file_rows})
        quarantine.extend(file_bad)
    return list(rows.values()), quarantine


def _read_file(spec: EntitySpec, path: Path, export_name: str) -> tuple[list[dict], list[dict]]:
    good: list[dict] = []
    bad: list[dict] = []
    first_line: dict[Any, int] = {}
    line_ids: dict[str, int] = {}  # with `lines:`, where each line id was first seen
    lines_of: dict[Any, list[tuple[int, dict, dict]]] = {}  # key -> its lines (line, row, raw record)

    def reject(line: int, reason: str, record: Any) -> None:
        bad.append(
            {
                "entity": spec.name,
                "file": path.name,
                "line": line,
                "reason": reason,
                "record": json.dumps(record, ensure_ascii=False, default=str),
            }
        )

    try:
        header, records = _records(spec, path)
        if header is None:
            return good, bad
        header = [normalise(h, spec.replace) or "" for h in header]
        header[0] = header[0].lstrip("\ufeff")
        mapped = {f.column for f in spec.fields.values() if f.column} | ({spec.lines} if spec.lines else set())
        missing = sorted(mapped - set(header))
        if missing:
            raise ExportFileError(
                f"{path}: the mapping's columns {missing} are not in the header ({', '.join(header)})"
            )
        index = {name: i for i, name in enumerate(header)}
        for line, record in records:
            if not any(cell.strip() for cell in record):
                continue  # blank line (a trailing CRLF, an Excel leftover)
            if len(record) != len(header):
                reject(line, f"{len(record)} fields, the header has {len(header)}", record)
                continue
            try:
                row = _canonical(spec, record, index)
            except ValueError as exc:
                reject(line, str(exc), dict(zip(header, record)))
                continue
            key = row[spec.key]
            if spec.lines:
                line_id = normalise(record[index[spec.lines]], spec.replace)
                if line_id is None:
                    reject(line, f"blank {spec.lines}", dict(zip(header, record)))
                elif line_id in line_ids:
                    reject(
                        line,
                        f"duplicate {spec.lines} {line_id!r} (first at line {line_ids[line_id]})",
                        dict(zip(header, record)),
                    )
                else:
                    line_ids[line_id] = line
                    lines_of.setdefault(key, []).append((line, row, dict(zip(header, record))))
                continue
            if key in first_line:
                reject(
                    line, f"duplicate {spec.key} {key!r} (first at line {first_line[key]})", dict(zip(header, record))
                )
                continue
            first_line[key] = line
            row.update({"export_name": export_name, "source_file": path.name, "source_line": line})
            good.append(row)
        for lines in lines_of.values():
            combined, conflicts = combine_lines(spec, [(at, canonical) for at, canonical, _ in lines])
            raw_of = {at: raw for at, _, raw in lines}
            for at, reason in conflicts:
                reject(at, reason, raw_of[at])
            combined.update({"export_name": export_name, "source_file": path.name, "source_line": lines[0][0]})
            good.append(combined)
    except UnicodeDecodeError as exc:
        raise ExportFileError(
            f"{path}: not {spec.encoding} text (byte {exc.start}: {exc.object[exc.start : exc.start + 1]!r}); "
            "set `encoding:` in the mapping (Excel on Windows writes cp1252)"
        ) from None
    return good, bad


def _records(spec: EntitySpec, path: Path) -> tuple[list[str] | None, Iterator[tuple[int, list[str]]]]:
    """The header and the (line, cells as text) records of a CSV or an XLSX export.

    Both kinds go through the same normalising and typing: an XLSX (Excel "Save as", a CRM's "Export
    to Excel") is read by the folder sources' reader (exportfiles) and its typed cells turned back into
    the text a CSV export of the same sheet holds, so one mapping serves both.
    """
    if path.suffix.lower() == ".xlsx":
        header, rows = read_header_and_rows(path)
        if not header:
            return None, iter(())

        def xlsx() -> Iterator[tuple[int, list[str]]]:
            for position, cells in rows:
                yield int(position.rsplit(":", 1)[1]), [xlsx_text(cells.get(h)) for h in header]

        return header, xlsx()
    text = path.read_bytes().decode(spec.encoding)  # UnicodeDecodeError -> the caller names the encoding
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=spec.delimiter)
    csv_header = next(reader, None)

    def rows_csv() -> Iterator[tuple[int, list[str]]]:
        for record in reader:
            yield reader.line_num, record

    return csv_header, rows_csv()


def xlsx_text(value: Any) -> str:
    """An XLSX cell as a CSV export writes it: 5.0 -> "5", a date-time -> ISO 8601, empty -> ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if value.time() != datetime.min.time() else value.date().isoformat()
    return str(value)


def _canonical(spec: EntitySpec, record: list[str], index: dict[str, int]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, fspec in spec.fields.items():
        if fspec.column is None:
            value: Any = fspec.const
        else:
            value = normalise(record[index[fspec.column]], spec.replace)
            if value is not None and fspec.value_map:
                if value in fspec.value_map:
                    value = fspec.value_map[value]
                elif fspec.strict_map:
                    raise ValueError(f"{fspec.column}: {value!r} is not in the mapping's map")
            if value is None:
                value = fspec.default
        try:
            row[name] = convert(value, fspec)
        except ValueError as exc:
            raise ValueError(f"{fspec.column or name}: {exc}") from None
    key = spec.key
    if row.get(key) in (None, ""):
        raise ValueError(f"blank {key}")
    if spec.name == "deals":
        status = str(row.get("status") or "").lower()
        if status not in DEAL_STATUSES:
            raise ValueError(f"status {row.get('status')!r} is not one of {DEAL_STATUSES} (map it in the mapping)")
        row["status"] = status
    if "currency" in CANONICAL[spec.name] and row.get("currency") is None and spec.currency:
        row["currency"] = spec.currency
    add_surrogate_keys(spec.name, row)
    return row


def combine_lines(spec: EntitySpec, lines: list[tuple[int, dict]]) -> tuple[dict, list[tuple[int, str]]]:
    """One record of the lines sharing its key (an order's lines make one deal), and the lines left out.

    Numbers are summed (the order's amount is its lines' total, rounded once, as the shop bills it);
    created_at is the earliest, closed_at the latest; a text said differently by the lines (the products)
    is their distinct values joined by "; ". A field a record has once (`ONE_PER_RECORD`) that a line
    says differently leaves that line out, named with the reason, rather than mixing currencies or owners.
    """
    first_line, first = lines[0]
    record = dict(first)
    texts = {  # the texts a record may list several of (its products), as the lines say them
        name: [first[name]] if first.get(name) is not None else []
        for name, kind in CANONICAL[spec.name].items()
        if kind == "text" and name not in ONE_PER_RECORD
    }
    conflicts: list[tuple[int, str]] = []
    for line, row in lines[1:]:
        clash = next(
            (
                name
                for name in ONE_PER_RECORD
                if row.get(name) is not None and record.get(name) is not None and row[name] != record[name]
            ),
            None,
        )
        if clash is not None:
            conflicts.append(
                (
                    line,
                    f"{clash} {row[clash]!r} differs from {record[clash]!r} of {spec.key} {record[spec.key]!r} "
                    f"(its first line is {first_line}): one record cannot have two",
                )
            )
            continue
        for name, kind in CANONICAL[spec.name].items():
            value = row.get(name)
            if value is None or name == spec.key:
                continue
            if record.get(name) is None:
                record[name] = value
            elif kind in ("decimal", "int"):
                record[name] += value
            elif kind in ("timestamp", "date"):
                record[name] = max(record[name], value) if name == "closed_at" else min(record[name], value)
            if name in texts and value not in texts[name]:
                texts[name].append(value)
    for name, values in texts.items():
        if len(values) > 1:
            record[name] = "; ".join(values)
    add_surrogate_keys(spec.name, record)
    return record, conflicts


def surrogate_key(text: str | None) -> int | None:
    """A stable 63-bit integer for a text id: the first 8 bytes of its SHA-256, top bit cleared.

    Deterministic across runs, machines and warehouses (no dense_rank over a growing file); with
    63 bits, a collision among a few million ids has a probability below 1e-6.
    """
    if text is None or text == "":
        return None
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") & (2**63 - 1)


def manager_text_key(row: dict[str, Any]) -> str | None:
    """The text a manager is keyed by: manager_id if the export has one, else "name:<manager_name>"."""
    if row.get("manager_id") not in (None, ""):
        return str(row["manager_id"])
    if row.get("manager_name") not in (None, ""):
        return f"name:{row['manager_name']}"
    return None


def add_surrogate_keys(entity: str, row: dict[str, Any]) -> None:
    """Set `<field>_key` (bigint) beside each text id of `SURROGATE_KEYS[entity]`, in place."""
    for field in SURROGATE_KEYS.get(entity, ()):
        text = manager_text_key(row) if field == "manager" else row.get(field)
        row[f"{field}_key"] = surrogate_key(None if text is None else str(text))
