"""The warehouse: DuckDB file (embedded default) or PostgreSQL (production), one interface.

Only this module knows how to open a connection; assets ask it for frames and hand it frames.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

import polars as pl
from dagster import ConfigurableResource

_PG_TYPES = {
    pl.Int8: "bigint",
    pl.Int16: "bigint",
    pl.Int32: "bigint",
    pl.Int64: "bigint",
    pl.UInt8: "bigint",
    pl.UInt16: "bigint",
    pl.UInt32: "bigint",
    pl.UInt64: "bigint",
    pl.Float32: "double precision",
    pl.Float64: "double precision",
    pl.Boolean: "boolean",
    pl.Date: "date",
    pl.Utf8: "text",
}


def _sql_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamp"
    if isinstance(dtype, pl.Decimal):
        return "double precision"
    return _PG_TYPES.get(dtype.base_type(), "text")


class Warehouse(ConfigurableResource):
    """`url` is WAREHOUSE_URL: `duckdb:///path/file.duckdb` or `postgresql://user:password@host:port/db`.

    User, password and database name are URL-encoded in the URL (`p%40ss` for `p@ss`); `pg_params`
    decodes them once, and every tool gets the decoded values as separate fields, never a URL
    rebuilt from them (a decoded `@`, `/`, `:` or `%` would change what the URL means).
    """

    url: str

    @property
    def kind(self) -> Literal["duckdb", "postgres"]:
        return "duckdb" if self.url.startswith("duckdb:") else "postgres"

    @property
    def duckdb_path(self) -> Path:
        if self.kind != "duckdb":
            raise ValueError("duckdb_path asked of a PostgreSQL warehouse")
        return Path(self.url.removeprefix("duckdb:///").removeprefix("duckdb://"))

    def pg_params(self) -> dict[str, Any]:
        """The connection's fields, decoded (psycopg2.connect keywords)."""
        parsed = urlparse(self.url)
        return {
            "host": parsed.hostname or "127.0.0.1",
            "port": parsed.port or 5432,
            "user": unquote(parsed.username or "postgres"),
            "password": unquote(parsed.password or ""),
            "dbname": unquote((parsed.path or "/postgres").lstrip("/")) or "postgres",
        }

    # --- connections -------------------------------------------------------------------
    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        """A DB-API connection; closed (and committed, for Postgres) on exit. One writer at a time."""
        if self.kind == "duckdb":
            import duckdb

            self.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(self.duckdb_path))
            try:
                yield con
            finally:
                con.close()
        else:
            import psycopg2

            con = psycopg2.connect(**self.pg_params())
            try:
                yield con
                con.commit()
            finally:
                con.close()

    def query(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """Run a SELECT and return it as a polars frame (portable SQL only)."""
        with self.connect() as con:
            if self.kind == "duckdb":
                return con.sql(sql, params=params or None).pl()  # duckdb 2.0: a cursor has no .pl()
            cur = con.cursor()
            cur.execute(sql.replace("?", "%s"), params or None)
            cols = [c.name for c in cur.description]
            rows = cur.fetchall()
            return pl.DataFrame(rows, schema=cols, orient="row", infer_schema_length=None)

    def table_exists(self, schema: str, table: str) -> bool:
        frame = self.query(
            "select count(*) as n from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        )
        return bool(frame["n"][0])

    def replace_rows(self, schema: str, table: str, frame: pl.DataFrame, where: dict[str, Any]) -> int:
        """Idempotent write: delete the rows matching `where`, insert `frame`, in one transaction.

        Used for partitioned outputs (one as-of day at a time) so a rerun replaces, never duplicates.
        A column `frame` has and the table lacks (written by an older version) is added first.
        """
        cols = ", ".join(f'"{c}" {_sql_type(t)}' for c, t in frame.schema.items())
        names = ", ".join(f'"{c}"' for c in frame.columns)
        cond = " and ".join(f'"{k}" = ?' for k in where) or "true"
        with self.connect() as con:
            if self.kind == "duckdb":
                con.execute(f'create schema if not exists "{schema}"')
                con.execute(f'create table if not exists "{schema}"."{table}" ({cols})')
                for c, t in frame.schema.items():  # a column added since the table was created
                    con.execute(f'alter table "{schema}"."{table}" add column if not exists "{c}" {_sql_type(t)}')
                con.execute("begin")
                con.execute(f'delete from "{schema}"."{table}" where {cond}', list(where.values()))
                if frame.height:
                    con.register("_incoming", frame.to_arrow())
                    con.execute(f'insert into "{schema}"."{table}" ({names}) select {names} from _incoming')
                    con.unregister("_incoming")
                con.execute("commit")
            else:
                cur = con.cursor()
                cur.execute(f'create schema if not exists "{schema}"')
                cur.execute(f'create table if not exists "{schema}"."{table}" ({cols})')
                for c, t in frame.schema.items():  # a column added since the table was created
                    cur.execute(f'alter table "{schema}"."{table}" add column if not exists "{c}" {_sql_type(t)}')
                cur.execute(f'delete from "{schema}"."{table}" where {cond.replace("?", "%s")}', list(where.values()))
                if frame.height:
                    marks = ", ".join(["%s"] * len(frame.columns))
                    cur.executemany(f'insert into "{schema}"."{table}" ({names}) values ({marks})', frame.rows())
        return frame.height

    # --- what other tools need to reach the same warehouse ------------------------------
    def dlt_destination(self) -> Any:
        import dlt

        if self.kind == "duckdb":
            self.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            return dlt.destinations.duckdb(str(self.duckdb_path))
        from dlt.destinations.impl.postgres.configuration import PostgresCredentials

        # Fields, not a URL: dlt encodes them itself when it opens the connection.
        p = self.pg_params()
        credentials = PostgresCredentials()
        credentials.host = p["host"]
        credentials.port = p["port"]
        credentials.username = p["user"]
        credentials.password = p["password"]
        credentials.database = p["dbname"]
        return dlt.destinations.postgres(credentials=credentials)

    def dbt_env(self) -> dict[str, str]:
        """Environment for dbt's profiles.yml (target chosen by DBT_TARGET)."""
        if self.kind == "duckdb":
            return {"DBT_TARGET": "duckdb", "DUCKDB_PATH": str(self.duckdb_path)}
        p = self.pg_params()
        return {
            "DBT_TARGET": "postgres",
            "PG_HOST": p["host"],
            "PG_PORT": str(p["port"]),
            "PG_USER": p["user"],
            "PG_PASSWORD": p["password"],
            "PG_DBNAME": p["dbname"],
        }
