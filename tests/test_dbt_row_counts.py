"""The dbt asset's row counts, on DuckDB and PostgreSQL: each built table counted, views not, a failed model's
error still raised after what was built is reported, and no core kept busy while dbt runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetMaterialization, Output

from assets.transform import warehouse_database, with_row_counts
from resources.warehouse import Warehouse
from tests.support.pg import temporary_database


def _manifest(wh: Warehouse) -> dict[str, Any]:
    """The slice of dbt's manifest the counts read: each model's relation (named as dbt names it for this
    warehouse) and materialization."""
    database = warehouse_database(wh.dbt_env())

    def node(name: str, materialized: str) -> dict[str, Any]:
        return {"relation_name": f'"{database}"."marts"."{name}"', "config": {"materialized": materialized}}

    return {
        "metadata": {"adapter_type": "duckdb"},
        "nodes": {
            "model.p.won": node("won", "table"),
            "model.p.empty": node("empty", "incremental"),
            "model.p.recent": node("recent", "view"),
        },
    }


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        yield _filled(Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb"))
    else:
        with temporary_database("rop_counts") as url:
            yield _filled(Warehouse(url=url))


def _filled(wh: Warehouse) -> Warehouse:
    with wh.connect() as con:
        cur = con.cursor()
        cur.execute("create schema marts")
        cur.execute("create table marts.won as select * from (values (1), (2), (3)) t(i)")
        cur.execute("create table marts.empty (i int)")
        cur.execute("create view marts.recent as select * from marts.won where i > 1")
    return wh


def _events() -> list[Any]:
    return [
        Output(None, output_name="won", metadata={"unique_id": "model.p.won"}),
        AssetMaterialization(asset_key="empty", metadata={"unique_id": "model.p.empty"}),
        Output(None, output_name="recent", metadata={"unique_id": "model.p.recent"}),
    ]


def _counts(events: list[Any]) -> dict[str, int | None]:
    out = {}
    for e in events:
        name = e.output_name if isinstance(e, Output) else e.asset_key.path[-1]
        out[name] = e.metadata["dagster/row_count"].value if "dagster/row_count" in e.metadata else None
    return out


def test_tables_are_counted_and_views_are_not(warehouse: Warehouse) -> None:
    got = list(with_row_counts(iter(_events()), _manifest(warehouse), warehouse))
    assert _counts(got) == {"won": 3, "empty": 0, "recent": None}
    assert got[0].metadata["dagster/storage_kind"].value == "duckdb"


def test_a_failed_model_raises_after_what_was_built_is_reported(warehouse: Warehouse) -> None:
    def failing() -> Iterator[Any]:
        yield from _events()[:2]
        raise RuntimeError("model.p.lost failed")

    got: list[Any] = []
    with pytest.raises(RuntimeError, match="model.p.lost failed"):
        for event in with_row_counts(failing(), _manifest(warehouse), warehouse):
            got.append(event)
    assert _counts(got) == {"won": 3, "empty": 0}


def test_a_table_that_cannot_be_counted_costs_the_counts_not_the_events(warehouse: Warehouse) -> None:
    with warehouse.connect() as con:
        con.cursor().execute("drop table marts.empty")
    got = list(with_row_counts(iter(_events()), _manifest(warehouse), warehouse))
    counts = _counts(got)
    assert list(counts) == ["won", "empty", "recent"]  # every event, in order
    assert counts["empty"] is None and counts["recent"] is None
    assert counts["won"] in (3, None)  # DuckDB counts all tables in one query: one missing costs them all


def test_waiting_for_dbt_keeps_no_core_busy(warehouse: Warehouse) -> None:
    """dagster-dbt's fetch_row_counts polled without sleeping: a second of dbt cost a second of CPU."""

    def slow_dbt() -> Iterator[Any]:
        time.sleep(1.0)
        yield from _events()

    cpu = time.process_time()
    got = list(with_row_counts(slow_dbt(), _manifest(warehouse), warehouse))
    assert len(got) == 3
    assert time.process_time() - cpu < 0.5
