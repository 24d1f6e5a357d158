"""The plan sheet lands in raw_plan.plan with the file's figures, or fails naming the problem.

(The CBR rates come over HTTP: tests/test_ingest_marketing_finance.py checks the demo CBR server serves
the demo world's cbr_rates.csv.)"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import dlt
import pytest

from assets.ingest.files.source import plan_source
from resources.source_files import PlanSheet
from resources.warehouse import Warehouse

S_TODAY = "2025-06-15"


def _pipeline(tmp_path: Path, name: str, dataset: str) -> tuple[dlt.Pipeline, Warehouse]:
    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    pipe = dlt.pipeline(
        pipeline_name=name,
        destination=wh.dlt_destination(),
        dataset_name=dataset,
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    return pipe, wh


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def s_world(tmp_path_factory) -> Path:
    """The small demo world (generated once per test session into a shared temp folder)."""
    from datetime import date

    from demo.world import ensure_world

    return Path(ensure_world(tmp_path_factory.getbasetemp() / "world_S", "S", date.fromisoformat(S_TODAY), 7))


def test_demo_plan_loads_with_the_files_totals(tmp_path, s_world):
    plan_csv = s_world / "plan.csv"
    with plan_csv.open() as fh:
        plan_rows = list(csv.DictReader(fh))
    expected_plan = sum(Decimal(r["amount_rub"]) for r in plan_rows)

    pipe, wh = _pipeline(tmp_path, "plan", "raw_plan")
    pipe.run(plan_source(plan_file=str(plan_csv)))

    got = wh.query("select count(*) as n, sum(amount_rub) as total, count(distinct month) as months from raw_plan.plan")
    assert got["n"][0] == len(plan_rows)
    assert Decimal(str(got["total"][0])) == expected_plan
    assert got["months"][0] == len({r["month"] for r in plan_rows})


def test_plan_is_replaced_by_the_sheet(tmp_path):
    _, wh = _pipeline(tmp_path, "plan", "raw_plan")
    plan_header = ["month", "manager_id", "pipeline_id", "amount_rub", "deal_count", "bonus_threshold_pct", "bonus_rub"]
    p1 = _write(
        tmp_path / "p1.csv",
        plan_header,
        [["2025-01", 1, 0, "1000000", 5, "100", "20000"], ["2025-01", 2, 0, "500000.50", 3, "100", "10000"]],
    )
    p2 = _write(tmp_path / "p2.csv", plan_header, [["2025-01", 1, 0, "1200000", 6, "100", "20000"]])
    ppipe = dlt.pipeline(
        pipeline_name="plan",
        destination=wh.dlt_destination(),
        dataset_name="raw_plan",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    ppipe.run(plan_source(plan_file=str(p1)))
    assert float(wh.query("select sum(amount_rub) as s from raw_plan.plan")["s"][0]) == 1500000.50
    ppipe.run(plan_source(plan_file=str(p2)))  # the sheet is the truth: manager 2's row is gone
    assert wh.query("select manager_id, cast(amount_rub as double) as a from raw_plan.plan").rows() == [(1, 1200000.0)]


def test_a_missing_file_is_named(tmp_path):
    pipe, _ = _pipeline(tmp_path, "plan", "raw_plan")
    with pytest.raises(Exception) as err:
        pipe.run(plan_source(plan_file=str(tmp_path / "nope.csv")))
    assert "plan file not found" in str(err.value) and "nope.csv" in str(err.value)


def test_missing_columns_and_bad_values_are_named(tmp_path):
    lacking = _write(tmp_path / "lacking.csv", ["month", "manager_id", "amount_rub"], [["2025-01", 1, "100"]])
    with pytest.raises(Exception, match=r"lacks column\(s\) pipeline_id"):
        list(plan_source(plan_file=str(lacking)).resources["plan"])
    bad2 = _write(
        tmp_path / "plan.csv",
        ["month", "manager_id", "pipeline_id", "amount_rub"],
        [["2025-01", 1, 0, "100"], ["2025-13", 2, 0, "100"]],
    )
    with pytest.raises(Exception, match=r"plan.csv, line 3, column month"):
        list(plan_source(plan_file=str(bad2)).resources["plan"])
    dup = _write(
        tmp_path / "dup.csv",
        ["month", "manager_id", "pipeline_id", "amount_rub"],
        [["2025-01", 1, 0, "100"], ["2025-01", 1, 0, "200"]],
    )
    with pytest.raises(Exception, match=r"line 3: duplicate month\+manager_id\+pipeline_id"):
        list(plan_source(plan_file=str(dup)).resources["plan"])


def test_plan_sheet_resource_prefers_configured_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAN_FILE", str(tmp_path / "my_plan.csv"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    assert PlanSheet().plan_path() == tmp_path / "my_plan.csv"
    assert PlanSheet(plan_file=str(tmp_path / "other.csv")).plan_path() == tmp_path / "other.csv"
