"""Manager anomalies: an injected zero-activity day and an injected spike are flagged, ordinary days mostly not."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from dagster import materialize

from assets.anomalies.assets import manager_anomalies
from assets.anomalies.model import METRICS, score_day
from resources.warehouse import Warehouse

AS_OF = date(2025, 10, 15)  # a Wednesday, not a holiday
SILENT, SPIKY = 3, 5  # manager 3 does nothing that day; manager 5 makes 5× their calls
MANAGERS = range(1, 13)


def panel(seed: int = 3, through: date = AS_OF) -> pl.DataFrame:
    """90 days of weekday activity for 12 managers of different productivity (rows as mart_manager_daily)."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in MANAGERS:
        pace = rng.uniform(0.5, 2.0)
        for i in range(90):
            d = through - timedelta(days=89 - i)
            if d.weekday() >= 5:
                continue
            r = {
                "day": d,
                "manager_id": m,
                "manager_name": f"Менеджер {m}",
                "department_id": 1 + m % 3,
                "leads_assigned": rng.poisson(5 * pace),
                "deals_created": rng.poisson(2 * pace),
                "won_count": rng.poisson(0.5 * pace),
                "calls_out": rng.poisson(40 * pace),
                "calls_in": rng.poisson(10 * pace),
                "emails": rng.poisson(8 * pace),
                "meetings": rng.poisson(1 * pace),
                "tasks_done": rng.poisson(6 * pace),
            }
            r["won_rub"] = float(r["won_count"] * rng.lognormal(11, 0.5))
            r["call_minutes"] = float(r["calls_out"] * 2 + r["calls_in"] * 3)
            r["activities_total"] = r["calls_out"] + r["calls_in"] + r["emails"] + r["meetings"] + r["tasks_done"]
            rows.append(r)
    return pl.DataFrame(rows).select(["day", "manager_id", "manager_name", "department_id", *METRICS])


def with_injections(frame: pl.DataFrame) -> pl.DataFrame:
    """Manager SILENT has no row at all on AS_OF (no activity); SPIKY's outgoing calls ×5."""
    on_day = pl.col("day") == AS_OF
    return frame.filter(~(on_day & (pl.col("manager_id") == SILENT))).with_columns(
        pl.when(on_day & (pl.col("manager_id") == SPIKY))
        .then(pl.col("calls_out") * 5)
        .otherwise(pl.col("calls_out"))
        .alias("calls_out")
    )


@pytest.fixture(scope="module")
def injected() -> pl.DataFrame:
    return with_injections(panel())


def test_injected_anomalies_are_flagged_with_their_reason(injected: pl.DataFrame) -> None:
    out = score_day(injected, AS_OF)
    assert out.height == len(MANAGERS)  # the silent manager is scored too: active lately
    by_id = {r["manager_id"]: r for r in out.iter_rows(named=True)}

    silent = by_id[SILENT]
    assert silent["is_anomaly"]
    assert silent["metric_value"] == 0.0 and silent["usual_value"] > 0
    assert silent["manager_name"] == f"Менеджер {SILENT}"

    spiky = by_id[SPIKY]
    assert spiky["is_anomaly"]
    assert spiky["top_metric"] == "calls_out"
    calls = injected.filter(pl.col("manager_id") == SPIKY).sort("day")
    assert spiky["metric_value"] == calls.filter(pl.col("day") == AS_OF)["calls_out"][0]
    # usual = the manager's median over the window's working days (last 60 calendar days)
    window = calls.filter(pl.col("day") > AS_OF - timedelta(days=60))["calls_out"]
    assert spiky["usual_value"] == pytest.approx(float(np.median(window.to_numpy())))

    others = out.filter(~pl.col("manager_id").is_in([SILENT, SPIKY]))
    assert others["is_anomaly"].sum() <= 1
    # the two injected days score above every ordinary manager that day
    assert min(silent["score"], spiky["score"]) > others["score"].max()


def test_ordinary_days_are_rarely_flagged() -> None:
    clean = panel(seed=11)
    flagged = scored = 0
    for k in range(1, 15):
        day = AS_OF - timedelta(days=k)
        out = score_day(clean, day)
        flagged += int(out["is_anomaly"].sum())
        scored += out.height
    assert scored == 10 * len(MANAGERS)  # 10 weekdays in the 14 days before AS_OF
    assert flagged / scored <= 0.06


def test_weekends_are_not_scored(injected: pl.DataFrame) -> None:
    assert score_day(injected, date(2025, 10, 12)).is_empty()  # a Sunday
    assert score_day(injected, date(2025, 11, 4)).is_empty()  # Unity Day, a Tuesday


def test_later_rows_change_nothing_and_scores_repeat(injected: pl.DataFrame) -> None:
    later = panel(seed=99, through=AS_OF + timedelta(days=30)).filter(pl.col("day") > AS_OF)
    a = score_day(injected, AS_OF)
    b = score_day(pl.concat([injected, later.with_columns(pl.col("calls_out") * 100)]), AS_OF)
    assert a.equals(b)


def test_asset_writes_the_days_scores_once(tmp_path, injected: pl.DataFrame) -> None:
    warehouse = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    warehouse.replace_rows("marts", "mart_manager_daily", injected, where={})
    for _ in range(2):  # rerun replaces
        result = materialize([manager_anomalies], partition_key=AS_OF.isoformat(), resources={"warehouse": warehouse})
        assert result.success
    rows = warehouse.query("select * from ml.manager_anomalies order by manager_id")
    assert rows.height == len(MANAGERS)
    meta = result.asset_materializations_for_node("manager_anomalies")[0].metadata
    assert meta["dagster/row_count"].value == len(MANAGERS)
    assert [c.name for c in meta["dagster/column_schema"].value.columns] == rows.columns
    assert set(rows.columns) == {
        "as_of_day",
        "manager_id",
        "manager_name",
        "score",
        "is_anomaly",
        "top_metric",
        "metric_value",
        "usual_value",
    }
    flagged = set(rows.filter(pl.col("is_anomaly"))["manager_id"].to_list())
    assert {SILENT, SPIKY} <= flagged
    # a Sunday partition writes no rows and leaves the Wednesday alone
    assert materialize([manager_anomalies], partition_key="2025-10-12", resources={"warehouse": warehouse}).success
    assert warehouse.query("select count(*) as n from ml.manager_anomalies")["n"][0] == len(MANAGERS)
