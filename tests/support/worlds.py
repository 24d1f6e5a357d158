"""Fixtures the source tests share: the S demo world, and every warehouse the product supports.

Import the fixtures into a test module (`from tests.support.worlds import both_warehouses, s_world`);
pytest registers them under their names `warehouse` and `s_world`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dlt
import pytest

from resources.warehouse import Warehouse
from tests.support.pg import temporary_database

S_TODAY, SEED = date(2025, 6, 15), 7


@pytest.fixture(name="warehouse", params=["duckdb", "postgres"])
def both_warehouses(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    """The test runs once on a DuckDB file and once on a temporary PostgreSQL database."""
    if request.param == "duckdb":
        yield Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    else:
        with temporary_database(prefix="rop_src") as url:
            yield Warehouse(url=url)


@pytest.fixture(name="s_world", scope="module")
def s_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from demo.world import ensure_world

    return Path(ensure_world(tmp_path_factory.getbasetemp() / "world_S", "S", S_TODAY, SEED))


def dlt_pipeline(name: str, wh: Warehouse, dataset: str, tmp_path: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=name, destination=wh.dlt_destination(), dataset_name=dataset, pipelines_dir=str(tmp_path / "dlt")
    )
