"""The days a CRM export covers and the currencies its amounts are in, read before any load.

`make load-dataset` needs both before it starts the graph: a public dataset that ended years ago is
analysed as of its own last day (the ML partition and the report's "today"), with its history as the
backfill range, not as of the calendar's today, when it has no sale at all; and amounts in dollars or
reais need a rate before any ruble sum is more than zero. A company's own export is read the same way
by the source at run time; this module only looks.

    python -m assets.ingest.export.span EXPORT_DIR MAPPING [--rates-out FILE --rub-per-unit R]

prints `first=YYYY-MM-DD last=YYYY-MM-DD currencies=USD,...` (for the shell), and with `--rates-out`
writes a CBR_RATES_FILE holding one fixed rate per non-ruble currency from the first day on (the
CBR's file columns; a rate stays valid until a later row, so one row covers the whole history); an
export in rubles only, or without amounts, needs none and gets no file.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from assets.ingest.export.mapping import CANONICAL, ExportMapping, MappingError, load_mapping
from assets.ingest.export.reader import ExportFileError, read_entity
from resources.crm_export import ExportNotConfigured, resolve_mapping
from resources.settings import DEFAULT_TIMEZONE, SettingsError, load_settings

RUBLES = "RUB"


@dataclass(frozen=True)
class ExportSpan:
    """First and last business day with any dated row, and the currencies of the amounts (RUB too)."""

    first_day: date
    last_day: date
    currencies: tuple[str, ...]

    def foreign(self) -> tuple[str, ...]:
        return tuple(c for c in self.currencies if c != RUBLES)


class EmptyExport(ValueError):
    """No readable row of the export carries a date: there is nothing to analyse as of any day."""


def _days(row: dict, fields: list[str], tz: ZoneInfo) -> list[date]:
    out = []
    for name in fields:
        value = row.get(name)
        if isinstance(value, datetime):
            out.append(value.astimezone(tz).date())  # the business day, as the warehouse counts it
        elif isinstance(value, date):
            out.append(value)
    return out


def export_span(export_dir: Path, mapping: ExportMapping, company_timezone: str = DEFAULT_TIMEZONE) -> ExportSpan:
    """Read every mapped entity (quarantined rows left out, as the load leaves them out) for its business
    days (in `company_timezone`) and currencies."""
    tz = ZoneInfo(company_timezone)
    days: list[date] = []
    currencies: set[str] = set()
    for name, spec in mapping.entities.items():
        dated = [f for f in spec.fields if CANONICAL[name][f] in ("timestamp", "date")]
        rows, _ = read_entity(spec, export_dir, mapping.name)
        for row in rows:
            days.extend(_days(row, dated, tz))
            if row.get("amount") is not None and row.get("currency"):
                currencies.add(str(row["currency"]).upper())
    if not days:
        raise EmptyExport(f"{export_dir}: no row of the export has a date (mapping {mapping.path})")
    return ExportSpan(min(days), max(days), tuple(sorted(currencies)))


def write_fixed_rates(path: Path, span: ExportSpan, rub_per_unit: Decimal) -> None:
    """One row per foreign currency, valid from the export's first day on (CBR_RATES_FILE's columns)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["date", "char_code", "nominal", "value"])
        for currency in span.foreign():
            writer.writerow([span.first_day.isoformat(), currency, 1, str(rub_per_unit)])


def _rate(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"a rate must be a positive number of rubles, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assets.ingest.export.span", description=__doc__.split("\n")[0])
    parser.add_argument("export_dir", type=Path)
    parser.add_argument("mapping", help="a mapping YAML, or the name of a shipped one")
    parser.add_argument("--rates-out", type=Path, help="write a fixed-rate CBR_RATES_FILE here")
    parser.add_argument("--rub-per-unit", type=_rate, default=None, help="rubles per unit of each foreign currency")
    args = parser.parse_args(argv)
    if (args.rates_out is None) != (args.rub_per_unit is None):
        parser.error("--rates-out and --rub-per-unit go together")
    try:
        zone = load_settings().company_timezone
        span = export_span(args.export_dir, load_mapping(resolve_mapping(args.mapping), zone), zone)
    except (MappingError, ExportFileError, ExportNotConfigured, EmptyExport, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.rates_out is not None and span.foreign():
        write_fixed_rates(args.rates_out, span, args.rub_per_unit)
    print(f"first={span.first_day.isoformat()} last={span.last_day.isoformat()} currencies={','.join(span.currencies)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
