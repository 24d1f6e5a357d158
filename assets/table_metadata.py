"""Row count and column schema of an ML output table, as Dagster's standard table metadata.

Why: the dbt marts report `dagster/row_count` and `dagster/column_schema` (assets/transform.py),
and the ml.* tables the ML stage writes should read the same in the asset catalog. The schema is
the warehouse's own (information_schema, on DuckDB and PostgreSQL alike), so it shows the table as
it is, whatever a run wrote; the row count is the rows of the run's as-of days.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

import polars as pl
from dagster import MetadataValue, TableColumn, TableSchema


class Queryable(Protocol):
    """What this needs of the warehouse (resources.warehouse.Warehouse)."""

    def query(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame: ...


def as_of_table_metadata(warehouse: Queryable, schema: str, table: str, days: Sequence[date]) -> dict[str, Any]:
    """`dagster/column_schema` of `schema.table` and `dagster/row_count` of its rows for `days`."""
    columns = warehouse.query(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    )
    if columns.is_empty():
        raise RuntimeError(f"{schema}.{table} does not exist: nothing was written to describe")
    marks = ", ".join("?" for _ in days)
    rows = warehouse.query(f'select count(*) as n from "{schema}"."{table}" where as_of_day in ({marks})', list(days))[
        "n"
    ][0]
    schema_value = TableSchema(
        columns=[TableColumn(name=name, type=str(kind).lower()) for name, kind in columns.iter_rows()]
    )
    # Dagster's standard keys: the catalog shows them as the table's columns and row count.
    return {
        "dagster/column_schema": MetadataValue.table_schema(schema_value),
        "dagster/row_count": MetadataValue.int(int(rows)),
    }
