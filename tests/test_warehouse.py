"""The warehouse writes partitioned outputs idempotently, on DuckDB and on PostgreSQL alike."""
from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from resources.warehouse import Warehouse
from tests.support.pg import temporary_database


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path):
    if request.param == "duckdb":
        yield Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    else:
        with temporary_database() as url:
            yield Warehouse(url=url)


def test_replace_rows_is_idempotent_per_partition(warehouse):
    day1 = pl.DataFrame({"as_of_day": [date(2026, 1, 5)] * 2, "manager_id": [1, 2], "score": [0.5, 0.9]})
    day2 = pl.DataFrame({"as_of_day": [date(2026, 1, 6)], "manager_id": [1], "score": [0.1]})
    warehouse.replace_rows("ml", "scores", day1, where={"as_of_day": date(2026, 1, 5)})
    warehouse.replace_rows("ml", "scores", day2, where={"as_of_day": date(2026, 1, 6)})
    # the same partition written again replaces, never duplicates
    warehouse.replace_rows("ml", "scores", day1, where={"as_of_day": date(2026, 1, 5)})
    got = warehouse.query("select as_of_day, count(*) as n, sum(score) as s from ml.scores group by 1 order by 1")
    assert got["n"].to_list() == [2, 1]
    assert got["s"].to_list() == pytest.approx([1.4, 0.1])
    assert warehouse.table_exists("ml", "scores")
    assert not warehouse.table_exists("ml", "nothing_here")


def test_query_with_parameters(warehouse):
    warehouse.replace_rows("ml", "t", pl.DataFrame({"k": ["a", "b"], "v": [1, 2]}), where={})
    assert warehouse.query("select v from ml.t where k = ?", ["b"])["v"].to_list() == [2]


def test_tools_reach_the_same_warehouse(tmp_path):
    duck = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    assert duck.dbt_env() == {"DBT_TARGET": "duckdb", "DUCKDB_PATH": f"{tmp_path}/w.duckdb"}
    pg = Warehouse(url="postgresql://ann:p%40ss@db.local:6543/sales")
    env = pg.dbt_env()
    assert (env["PG_HOST"], env["PG_PORT"], env["PG_USER"], env["PG_PASSWORD"], env["PG_DBNAME"]) == (
        "db.local", "6543", "ann", "p@ss", "sales")
