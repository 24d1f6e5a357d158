"""The asset checks on ml.forecast_month_end: each passes on a sound forecast and fails when broken on purpose,
and a failure reaches the on-call chat through the check-failure sensor like a failed dbt test.

The world is tests/test_forecast.py's: 70 + 30 a weekday since 1 July 2025, so the month to date on
15 October 2025 is 100 × 11 weekdays = 1 100 and the history from 1 July through the 15th is 107 days.
"""

from datetime import date

import polars as pl
from dagster import AssetExecutionContext, Definitions, asset, build_sensor_context, instance_for_test, materialize

from assets.forecast.assets import forecast_month_end as forecast_asset
from assets.forecast.checks import (
    CHECKS,
    interval_problems,
    leakage_problems,
    negative_problems,
    scope_problems,
    scope_table_problems,
)
from assets.forecast.model import to_frame
from assets.partitions import as_of_days
from resources.telegram import TelegramNotifier
from resources.warehouse import Warehouse
from schedules.sensors import build_sensors
from tests.fakes.fake_telegram import FakeTelegram
from tests.test_forecast import AS_OF, _marts

ONCALL = "200"
MTD_15, HISTORY_15 = 1100.0, 107  # by hand, see the module docstring


def _row(**changes: object) -> dict[str, object]:
    """A sound company row for AS_OF; `changes` break it."""
    row: dict[str, object] = {
        "as_of_day": AS_OF,
        "month": date(2025, 10, 1),
        "scope": "company",
        "plan_rub": 2500.0,
        "actual_mtd_rub": MTD_15,
        "forecast_rub": 2300.0,
        "forecast_low_rub": 2200.0,
        "forecast_high_rub": 2400.0,
        "prob_reach_plan": 0.1,
        "ruler_rub": MTD_15 / 15 * 31,
        "model": "test",
        "history_days": HISTORY_15,
    }
    return {**row, **changes}


def _frame(*rows: dict[str, object]) -> pl.DataFrame:
    return pl.concat([to_frame([]), pl.DataFrame(list(rows))], how="diagonal_relaxed")


def _revenue() -> pl.DataFrame:
    """100 a weekday from 1 July to 30 November 2025 (the company total of the world)."""
    days = pl.date_range(date(2025, 7, 1), date(2025, 11, 30), "1d", eager=True)
    return pl.DataFrame({"day": days}).filter(pl.col("day").dt.weekday() <= 5).with_columns(revenue_rub=pl.lit(100.0))


def test_a_sound_row_has_no_problem() -> None:
    rows = _frame(_row())
    assert interval_problems(rows) == []
    assert negative_problems(rows) == []
    assert scope_problems(rows, [AS_OF]) == []
    assert leakage_problems(rows, _revenue(), None, None) == []


def test_an_interval_that_misses_the_point_fails() -> None:
    problems = interval_problems(_frame(_row(forecast_low_rub=2350.0), _row(as_of_day=date(2025, 10, 16))))
    assert len(problems) == 1 and "2025-10-15" in problems[0] and "2350" in problems[0]
    assert interval_problems(_frame(_row(forecast_high_rub=2000.0)))
    assert interval_problems(_frame(_row(forecast_low_rub=None)))


def test_a_negative_figure_or_a_probability_beyond_one_fails() -> None:
    assert negative_problems(_frame(_row(forecast_low_rub=-1.0))) == ["2025-10-15 company: forecast_low_rub = -1.0 < 0"]
    assert negative_problems(_frame(_row(prob_reach_plan=1.2)))
    assert negative_problems(_frame(_row(ruler_rub=-0.01)))


def test_a_missing_or_doubled_scope_fails() -> None:
    assert scope_problems(_frame(_row()), [AS_OF, date(2025, 10, 16)]) == [
        "2025-10-16: scope company — 0 строк(и), ожидалась одна"
    ]
    assert scope_problems(_frame(_row(), _row()), [AS_OF]) == ["2025-10-15: scope company — 2 строк(и), ожидалась одна"]


def test_a_forecast_that_saw_the_next_day_fails() -> None:
    # the 16th is a Thursday: a month to date through it is 1 200, a history one day longer
    problems = leakage_problems(_frame(_row(actual_mtd_rub=MTD_15 + 100)), _revenue(), None, None)
    assert problems == ["2025-10-15: выручка с начала месяца 1200.0, а в витрине по этот день 1100.00"]
    assert leakage_problems(_frame(_row(history_days=HISTORY_15 + 1)), _revenue(), None, None)
    # the deals listed: one created the next day, one already closed on the day, one sound
    listed = pl.DataFrame({"as_of_day": [AS_OF] * 3, "deal_id": [1, 2, 3]})
    deals = pl.DataFrame(
        {
            "deal_id": [1, 2, 3],
            "created_day": [date(2025, 10, 16), date(2025, 10, 1), date(2025, 10, 1)],
            "closed_day": [None, AS_OF, date(2025, 10, 20)],
        }
    )
    problems = leakage_problems(_frame(_row()), _revenue(), listed, deals)
    assert [p.split(" ")[2] for p in problems] == ["1", "2"]


def test_the_checks_pass_on_a_real_backfill_of_the_forecast(tmp_path) -> None:
    warehouse = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    _marts(warehouse)
    tags = {"dagster/asset_partition_range_start": "2025-10-13", "dagster/asset_partition_range_end": "2025-10-15"}
    result = materialize([forecast_asset, *CHECKS], tags=tags, resources={"warehouse": warehouse})
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {c.check_key.name for c in CHECKS}
    assert all(e.passed and e.metadata["rows_checked"].value == 3 for e in evaluations.values())


BROKEN = [  # two company rows for the day; one's interval misses its point, its ruler is negative, its MTD saw the 16th
    _row(forecast_low_rub=2350.0, ruler_rub=-1.0, actual_mtd_rub=MTD_15 + 100),
    _row(),
]


@asset(key=["forecast_month_end"], partitions_def=as_of_days)
def broken_forecast(context: AssetExecutionContext, warehouse: Warehouse) -> None:
    """A forecast gone wrong, written where the real one writes."""
    warehouse.replace_rows("ml", "forecast_month_end", _frame(*BROKEN), where={"as_of_day": AS_OF})


def test_a_broken_forecast_fails_every_check_and_reaches_on_call(tmp_path) -> None:
    warehouse = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    _marts(warehouse)
    everything = [broken_forecast, *CHECKS]
    with FakeTelegram() as tg, instance_for_test() as instance:
        resources = {
            "warehouse": warehouse,
            "telegram": TelegramNotifier(bot_token="1:T", chat_id="100", oncall_chat_id=ONCALL, api_url=tg.url),
        }
        result = materialize(
            everything, partition_key=AS_OF.isoformat(), instance=instance, resources={"warehouse": warehouse}
        )
        evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
        assert {n: e.passed for n, e in evaluations.items()} == {c.check_key.name: False for c in CHECKS}
        assert all(e.severity.value == "ERROR" for e in evaluations.values())
        assert "2350" in (evaluations["forecast_interval_holds_point"].description or "")
        assert "ruler_rub = -1.0" in (evaluations["forecast_not_negative"].description or "")
        assert "2 строк" in (evaluations["forecast_every_scope_present"].description or "")
        assert "1100.00" in (evaluations["forecast_no_data_after_as_of_day"].description or "")
        sensor = next(s for s in build_sensors("Europe/Moscow") if s.name == "asset_check_failures_to_oncall")
        defs = Definitions(assets=[broken_forecast], asset_checks=CHECKS, resources={"warehouse": warehouse})
        sensor(build_sensor_context(instance=instance, definitions=defs, resources=resources))
        texts = [m.visible_text for m in tg.to(ONCALL)]
    assert len(texts) == 4
    assert any("forecast_month_end / forecast_no_data_after_as_of_day" in t and "1100.00" in t for t in texts)


def test_the_morning_forecast_runs_the_checks() -> None:
    from definitions import defs

    job = defs.resolve_job_def("morning_forecast")
    checks = {k.name for k in job.asset_layer.asset_graph.asset_check_keys}
    assert {c.check_key.name for c in CHECKS} <= checks


def test_a_department_or_manager_with_a_plan_but_no_forecast_fails() -> None:
    plan_lines = pl.DataFrame(
        {
            "month": [date(2025, 10, 1)] * 3,
            "manager_id": [11, 12, 21],
            "department_id": [1, 1, 2],
            "plan_rub": [1200.0, 300.0, 0.0],  # manager 21 has no plan this month: not required
        }
    )
    scoped = pl.DataFrame(
        {"as_of_day": [AS_OF] * 3, "scope_type": ["department", "manager", "manager"], "scope_id": [1, 11, 11]}
    )
    assert scope_table_problems(scoped, plan_lines, [AS_OF]) == [
        "2025-10-15: manager 11 с планом — 2 строк(и) прогноза, ожидалась одна",
        "2025-10-15: manager 12 с планом — 0 строк(и) прогноза, ожидалась одна",
    ]
    complete = pl.DataFrame(
        {"as_of_day": [AS_OF] * 3, "scope_type": ["department", "manager", "manager"], "scope_id": [1, 11, 12]}
    )
    assert scope_table_problems(complete, plan_lines, [AS_OF]) == []
