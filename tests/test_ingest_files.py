"""Plan sheet and CBR rates land in raw_plan.plan / raw_cbr.rates with the file's figures, or fail naming the problem."""
from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import dlt
import pytest

from assets.ingest.files.source import cbr_source, plan_source
from resources.source_files import SourceFiles
from resources.warehouse import Warehouse

S_TODAY = "2025-06-15"


def _pipeline(tmp_path: Path, name: str, dataset: str) -> tuple[dlt.Pipeline, Warehouse]:
    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    pipe = dlt.pipeline(pipeline_name=name, destination=wh.dlt_destination(), dataset_name=dataset,
                        pipelines_dir=str(tmp_path / "pipelines"))
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
    from demo.world import ensure_world
    from datetime import date

    return Path(ensure_world(tmp_path_factory.getbasetemp() / "world_S", "S", date.fromisoformat(S_TODAY), 7))


def test_demo_plan_and_rates_load_with_the_files_totals(tmp_path, s_world):
    plan_csv, cbr_csv = s_world / "plan.csv", s_world / "cbr_rates.csv"
    with plan_csv.open() as fh:
        plan_rows = list(csv.DictReader(fh))
    with cbr_csv.open() as fh:
        rate_rows = list(csv.DictReader(fh))
    expected_plan = sum(Decimal(r["amount_rub"]) for r in plan_rows)
    expected_usd = sum(Decimal(r["value"]) / int(r["nominal"]) for r in rate_rows if r["char_code"] == "USD")

    pipe, wh = _pipeline(tmp_path, "plan", "raw_plan")
    pipe.run(plan_source(plan_file=str(plan_csv)))
    pipe2 = dlt.pipeline(pipeline_name="cbr", destination=wh.dlt_destination(), dataset_name="raw_cbr",
                         pipelines_dir=str(tmp_path / "pipelines"))
    pipe2.run(cbr_source(rates_file=str(cbr_csv)))

    got = wh.query("select count(*) as n, sum(amount_rub) as total, count(distinct month) as months from raw_plan.plan")
    assert got["n"][0] == len(plan_rows)
    assert Decimal(str(got["total"][0])) == expected_plan
    assert got["months"][0] == len({r["month"] for r in plan_rows})
    rates = wh.query("select count(*) as n, sum(value / nominal) as usd from raw_cbr.rates where char_code = 'USD'")
    assert rates["n"][0] == sum(1 for r in rate_rows if r["char_code"] == "USD")
    assert abs(Decimal(str(rates["usd"][0])) - expected_usd) < Decimal("0.0001")
    types = wh.query("select column_name, data_type from information_schema.columns "
                     "where table_schema = 'raw_cbr' and table_name = 'rates'")
    assert dict(zip(types["column_name"], types["data_type"]))["date"] == "DATE"


def test_rates_merge_on_date_and_code_and_plan_is_replaced(tmp_path):
    header = ["date", "char_code", "nominal", "value"]
    first = _write(tmp_path / "r1.csv", header, [["2025-01-09", "USD", 1, "101.6797"], ["2025-01-09", "CNY", 10, "138.5"]])
    second = _write(tmp_path / "r2.csv", header, [["2025-01-09", "USD", 1, "101.7000"], ["2025-01-10", "USD", 1, "102.1"]])
    pipe, wh = _pipeline(tmp_path, "cbr", "raw_cbr")
    pipe.run(cbr_source(rates_file=str(first)))
    pipe.run(cbr_source(rates_file=str(second)))
    rows = wh.query("select cast(date as varchar) as d, char_code, cast(value as double) as v from raw_cbr.rates order by 1, 2")
    assert rows.rows() == [("2025-01-09", "CNY", 138.5), ("2025-01-09", "USD", 101.7), ("2025-01-10", "USD", 102.1)]

    plan_header = ["month", "manager_id", "pipeline_id", "amount_rub", "deal_count", "bonus_threshold_pct", "bonus_rub"]
    p1 = _write(tmp_path / "p1.csv", plan_header, [["2025-01", 1, 0, "1000000", 5, "100", "20000"],
                                                   ["2025-01", 2, 0, "500000.50", 3, "100", "10000"]])
    p2 = _write(tmp_path / "p2.csv", plan_header, [["2025-01", 1, 0, "1200000", 6, "100", "20000"]])
    ppipe = dlt.pipeline(pipeline_name="plan", destination=wh.dlt_destination(), dataset_name="raw_plan",
                         pipelines_dir=str(tmp_path / "pipelines"))
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
    bad = _write(tmp_path / "rates.csv", ["date", "char_code", "value"], [["2025-01-09", "USD", "101.6"]])
    pipe, _ = _pipeline(tmp_path, "cbr", "raw_cbr")
    with pytest.raises(Exception) as err:
        pipe.run(cbr_source(rates_file=str(bad)))
    assert "lacks column(s) nominal" in str(err.value)
    bad2 = _write(tmp_path / "plan.csv", ["month", "manager_id", "pipeline_id", "amount_rub"],
                  [["2025-01", 1, 0, "100"], ["2025-13", 2, 0, "100"]])
    with pytest.raises(Exception, match=r"plan.csv, line 3, column month"):
        list(plan_source(plan_file=str(bad2)).resources["plan"])
    dup = _write(tmp_path / "dup.csv", ["month", "manager_id", "pipeline_id", "amount_rub"],
                 [["2025-01", 1, 0, "100"], ["2025-01", 1, 0, "200"]])
    with pytest.raises(Exception, match=r"line 3: duplicate month\+manager_id\+pipeline_id"):
        list(plan_source(plan_file=str(dup)).resources["plan"])


def test_source_files_resource_prefers_configured_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAN_FILE", str(tmp_path / "my_plan.csv"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    files = SourceFiles(cbr_rates_file=str(tmp_path / "my_rates.csv"))
    assert files.plan_path() == tmp_path / "my_plan.csv"
    assert files.cbr_rates_path() == tmp_path / "my_rates.csv"
