"""The CRM-export mapping: a YAML file that says which export file holds which canonical entity, and how
its columns become the canonical fields (plain Python, no Dagster, no dlt).

    name: maven_crm                       # free text, lands in every row as `export_name`
    defaults:                             # apply to every entity unless it overrides them
      encoding: utf-8                     # any Python codec: cp1252, utf-8-sig, …
      delimiter: ","                      # "\t" for TSV, ";" for European Excel
      date_format: "%Y-%m-%d"             # strptime format(s); a list tries each in turn
      currency: USD                       # the currency of amounts when no column says it
      timezone: Europe/Moscow             # the zone of times written without an offset (default: the
                                          # company's, COMPANY_TIMEZONE: a CRM exports local time)
      replace: {"\u00a0": " "}            # text replaced in every value before parsing (default: NBSP -> space);
                                          # runs of spaces are then collapsed and the value trimmed
    entities:
      deals:                              # required; leads, activities, managers are optional
        file: sales_pipeline.csv          # a glob; several files are read in name order, later wins;
                                          # .xlsx files (first sheet) are read like CSV (encoding/delimiter unused)
        fields:
          deal_id: opportunity_id         # canonical field: source column
          product:
            column: product
            map: {GTXPro: GTX Pro}        # name normalisation: value -> canonical value
          status:
            column: deal_stage
            map: {Won: won, Lost: lost, Engaging: open, Prospecting: open}
          pipeline: {const: Sales}        # a constant for every row
          account: {column: account, default: null}   # blank -> default (null unless given)

An order export lists one row per order line; `lines: <column>` (the column numbering the lines, e.g.
Superstore's "Row ID") makes the rows sharing a key one record (`reader.combine_lines`): amounts,
quantities and profit summed, the earliest created_at and the latest closed_at, the lines' distinct texts
(products) joined by "; "; the fields one record has once (`ONE_PER_RECORD`: status, currency, owner,
pipeline, stage, account, lead) must agree, else the line is quarantined. A repeated line id is a duplicate.

Each canonical field has a type (text, int, decimal, date, timestamp); values are parsed into it while
reading, so a bad value is found at its file and line. A row whose key is blank, whose typed value does
not parse, or whose mapped value is not in a closed `map` (`strict_map: true`) is quarantined with the
file, line and reason; the rest loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from resources.settings import DEFAULT_TIMEZONE

# Canonical fields per entity: name -> type. The first field is the entity's key.
CANONICAL: dict[str, dict[str, str]] = {
    "deals": {
        "deal_id": "text",
        "title": "text",
        "manager_id": "text",
        "manager_name": "text",
        "pipeline": "text",
        "stage": "text",
        "status": "text",
        "amount": "decimal",
        "currency": "text",
        "created_at": "timestamp",
        "closed_at": "timestamp",
        "account": "text",
        "product": "text",
        "segment": "text",
        "region": "text",
        "source": "text",
        "lead_id": "text",
        "lost_reason": "text",
        "quantity": "decimal",
        "profit": "decimal",
    },
    "leads": {
        "lead_id": "text",
        "title": "text",
        "manager_id": "text",
        "manager_name": "text",
        "status": "text",
        "source": "text",
        "created_at": "timestamp",
        "closed_at": "timestamp",
        "landing_page": "text",
        "account": "text",
        "amount": "decimal",
        "currency": "text",
    },
    "activities": {
        "activity_id": "text",
        "type": "text",
        "direction": "text",
        "manager_id": "text",
        "manager_name": "text",
        "deal_id": "text",
        "lead_id": "text",
        "occurred_at": "timestamp",
        "duration_seconds": "int",
        "completed": "text",
        "subject": "text",
    },
    "managers": {
        "manager_name": "text",
        "manager_id": "text",
        "head_name": "text",
        "department": "text",
        "email": "text",
        "active": "text",
    },
}

# Canonical ids are bigint; exports carry text keys (Maven's "1C1I7A6R", managers by name). Each row
# also gets `<field>_key`: a stable 63-bit integer of the text (see `surrogate_key`), computed here at
# ingestion so DuckDB and PostgreSQL read identical ids and a key never changes as the files grow.
# Managers are keyed by manager_id when the export has one, else by their name ("name:<name>").
SURROGATE_KEYS: dict[str, tuple[str, ...]] = {
    "deals": ("deal_id", "lead_id", "manager", "pipeline", "account"),
    "leads": ("lead_id", "manager"),
    "activities": ("activity_id", "manager", "deal_id", "lead_id"),
    "managers": ("manager", "department"),
}
# A record made of several lines (`lines:`) has each of these once: a line that differs is quarantined
# (summing one order's amounts across two currencies or two owners would misstate both).
ONE_PER_RECORD = ("status", "currency", "manager_id", "manager_name", "pipeline", "stage", "account", "lead_id")
REQUIRED_ENTITIES = ("deals",)
DEAL_STATUSES = ("open", "won", "lost")
# Non-breaking and narrow no-break spaces (Excel and 1C love them) become plain spaces.
DEFAULT_REPLACE = {"\u00a0": " ", "\u202f": " "}


class MappingError(ValueError):
    """The mapping file is missing or malformed; the message names the file and the place."""


@dataclass(frozen=True)
class FieldSpec:
    """How one canonical field is read: from a column (or a constant), with a value map and a default."""

    name: str
    type: str
    column: str | None = None
    const: Any = None
    value_map: dict[str, Any] = field(default_factory=dict)
    strict_map: bool = False
    default: Any = None
    date_format: tuple[str, ...] = ()
    tz: ZoneInfo | None = None  # the zone of a time without an offset


@dataclass(frozen=True)
class EntitySpec:
    name: str
    file: str
    encoding: str
    delimiter: str
    date_format: tuple[str, ...]
    currency: str | None
    replace: dict[str, str]
    fields: dict[str, FieldSpec]
    lines: str | None = None  # the column naming a line when several rows are one record (an order's lines)

    @property
    def key(self) -> str:
        return next(iter(CANONICAL[self.name]))


@dataclass(frozen=True)
class ExportMapping:
    name: str
    path: Path
    entities: dict[str, EntitySpec]


def _formats(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _zone(name: Any, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingError(f"{where}: timezone {name!r} is not an IANA zone such as {DEFAULT_TIMEZONE}") from None


def load_mapping(path: str | Path, company_timezone: str = DEFAULT_TIMEZONE) -> ExportMapping:
    """Read and validate a mapping YAML; every problem names the file and the entity/field. Times without
    an offset are read in the mapping's `timezone:`, else in `company_timezone`."""
    path = Path(path)
    if not path.is_file():
        raise MappingError(f"CRM_EXPORT_MAPPING: no mapping file at {path}")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("entities"), dict):
        raise MappingError(f"{path}: needs an `entities:` section (deals required)")
    defaults = doc.get("defaults") or {}
    unknown = set(doc["entities"]) - set(CANONICAL)
    if unknown:
        raise MappingError(f"{path}: unknown entities {sorted(unknown)}; known: {sorted(CANONICAL)}")
    for required in REQUIRED_ENTITIES:
        if required not in doc["entities"]:
            raise MappingError(f"{path}: entity `{required}` is required")
    entities = {}
    for name, raw in doc["entities"].items():
        where = f"{path}: entities.{name}"
        if not isinstance(raw, dict) or not raw.get("file"):
            raise MappingError(f"{where}: needs `file:`")
        opts = {**defaults, **{k: v for k, v in raw.items() if k not in ("file", "fields", "lines")}}
        lines = raw.get("lines")
        if lines is not None and (not isinstance(lines, str) or not lines.strip()):
            raise MappingError(f"{where}.lines: the name of the column that numbers the lines (e.g. Row ID)")
        date_format = _formats(opts.get("date_format")) or ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
        tz = _zone(opts.get("timezone") or company_timezone, where)
        fields_raw = raw.get("fields") or {}
        bad = set(fields_raw) - set(CANONICAL[name])
        if bad:
            raise MappingError(f"{where}: unknown fields {sorted(bad)}; known: {list(CANONICAL[name])}")
        fields: dict[str, FieldSpec] = {}
        for fname, spec in fields_raw.items():
            ftype = CANONICAL[name][fname]
            if isinstance(spec, str):
                fields[fname] = FieldSpec(fname, ftype, column=spec, date_format=date_format, tz=tz)
            elif isinstance(spec, dict):
                if "column" not in spec and "const" not in spec:
                    raise MappingError(f"{where}.fields.{fname}: needs `column:` or `const:`")
                fields[fname] = FieldSpec(
                    fname,
                    ftype,
                    column=spec.get("column"),
                    const=spec.get("const"),
                    value_map={str(k): v for k, v in (spec.get("map") or {}).items()},
                    strict_map=bool(spec.get("strict_map", False)),
                    default=spec.get("default"),
                    date_format=_formats(spec.get("date_format")) or date_format,
                    tz=tz,
                )
            else:
                raise MappingError(f"{where}.fields.{fname}: a column name or a mapping")
        key = next(iter(CANONICAL[name]))
        if key not in fields:
            raise MappingError(f"{where}: the key field `{key}` must be mapped")
        if name == "deals" and "status" not in fields:
            raise MappingError(f"{where}: `status` (open/won/lost) must be mapped, by a column map or a const")
        entities[name] = EntitySpec(
            name=name,
            file=str(raw["file"]),
            encoding=str(opts.get("encoding", "utf-8")),
            delimiter=str(opts.get("delimiter", ",")),
            date_format=date_format,
            currency=opts.get("currency"),
            replace=dict(opts.get("replace") or DEFAULT_REPLACE),
            fields=fields,
            lines=lines.strip() if lines else None,
        )
    return ExportMapping(name=str(doc.get("name") or path.stem), path=path, entities=entities)
