"""The CRM-export dlt source (plain dlt, no Dagster): a folder of CSV or XLSX exports + a YAML column mapping.

Tables (dataset `raw_export`):
- deals (required), leads, activities, managers: the canonical fields of `mapping.CANONICAL` (every
  one declared, so a column exists even when the export has no value for it), plus `export_name`,
  `source_file`, `source_line`, and a bigint `<field>_key` beside each text id (`mapping.SURROGATE_KEYS`). Replaced whole on every run: an export is a full snapshot, so a record
  removed from the file disappears from the warehouse. Entities the mapping does not name load empty.
- quarantine: the rows that could not be read (entity, file, line, reason, the raw record as JSON),
  also replaced on every run, so it always describes the files as they are now.

For companies whose CRM has no API access, and for the public datasets this product is checked on
(`mappings/*.yaml`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.common.schema import TTableSchemaColumns
from dlt.sources import DltResource

from assets.ingest.export.mapping import CANONICAL, SURROGATE_KEYS, ExportMapping, load_mapping
from assets.ingest.export.reader import read_entity
from resources.settings import DEFAULT_TIMEZONE

_DLT_TYPES = {"text": "text", "int": "bigint", "decimal": "decimal", "timestamp": "timestamp", "date": "date"}
QUARANTINE_COLUMNS: TTableSchemaColumns = {
    "entity": {"data_type": "text", "nullable": False},
    "file": {"data_type": "text", "nullable": False},
    "line": {"data_type": "bigint", "nullable": False},
    "reason": {"data_type": "text", "nullable": False},
    "record": {"data_type": "text", "nullable": True},
}


def _columns(entity: str) -> dict[str, Any]:
    cols: dict[str, Any] = {
        name: {"data_type": _DLT_TYPES[kind], "nullable": True} for name, kind in CANONICAL[entity].items()
    }
    for name in ("amount", "quantity", "profit"):  # as exported (Superstore has 3-4 decimals)
        if name in cols:
            cols[name].update(precision=18, scale=4)
    for field in SURROGATE_KEYS.get(entity, ()):  # stable bigint ids beside the text ids (reader.surrogate_key)
        cols[f"{field}_key"] = {"data_type": "bigint", "nullable": True}
    cols.update(
        {
            "export_name": {"data_type": "text"},
            "source_file": {"data_type": "text"},
            "source_line": {"data_type": "bigint"},
        }
    )
    return cols


@dlt.source(name="crm_export", max_table_nesting=0)
def crm_export_source(
    export_dir: str, mapping_file: str, company_timezone: str = DEFAULT_TIMEZONE
) -> Sequence[DltResource]:
    """Every entity the mapping names, read from `export_dir`; bad rows go to `quarantine`. Times written
    without an offset are the company's wall-clock times (or the mapping's `timezone:`)."""
    state: dict[str, ExportMapping] = {}

    def mapping() -> ExportMapping:
        if "m" not in state:  # read when the load runs, not when the source is built
            state["m"] = load_mapping(mapping_file, company_timezone)
        return state["m"]

    def make(entity: str) -> DltResource:
        key = next(iter(CANONICAL[entity]))

        def rows() -> Iterator[list[dict]]:
            spec = mapping().entities.get(entity)
            if spec is None:
                return
            good, _ = read_entity(spec, Path(export_dir), mapping().name)
            for start in range(0, len(good), 5000):
                yield good[start : start + 5000]

        rows.__doc__ = f"Canonical {entity} from the export (mapping's `entities.{entity}`), replaced each run."
        return dlt.resource(rows, name=entity, primary_key=key, write_disposition="replace", columns=_columns(entity))

    entities = [make(entity) for entity in CANONICAL]

    @dlt.resource(name="quarantine", write_disposition="replace", columns=QUARANTINE_COLUMNS)
    def quarantine() -> Iterator[list[dict]]:
        """Rows that could not be read: entity, file, line, reason, raw record (JSON)."""
        # Reads the files again on its own (extraction order is not guaranteed, and a run may select
        # only this table): exports are small next to the time the warehouse load takes.
        rejects: list[dict] = []
        for spec in mapping().entities.values():
            rejects.extend(read_entity(spec, Path(export_dir), mapping().name)[1])
        if rejects:
            yield rejects

    return [*entities, quarantine]
