"""Schedules and sensors: the right partition at the right local time, alerts to the right chat, exactly once."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from dagster import (
    AssetCheckResult,
    AssetMaterialization,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    Definitions,
    MetadataValue,
    asset,
    asset_check,
    build_run_status_sensor_context,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
    job,
    materialize,
    op,
)

from resources.telegram import TelegramNotifier
from resources.warehouse import Warehouse
from schedules import build_defs
from schedules.jobs import FORECAST_JOB_NAME, REFRESH_JOB_NAME, incremental_refresh_job, morning_digest_job
from schedules.schedules import build_schedules
from schedules.sensors import build_sensors
from tests.fakes import small_day
from tests.fakes.fake_telegram import FakeTelegram

TZ = "Europe/Moscow"
ROOT = Path(__file__).resolve().parent.parent
HEAD, ONCALL = "100", "200"


@pytest.fixture
def tg():
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def resources(tg, tmp_path):
    return {
        "telegram": TelegramNotifier(bot_token="1:T", chat_id=HEAD, oncall_chat_id=ONCALL, api_url=tg.url),
        "warehouse": Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb"),
    }


def sensors():
    return {s.name: s for s in build_sensors(TZ)}


# --- schedules -----------------------------------------------------------------------------
def test_schedules_run_in_company_time():
    by_name = {s.name: s for s in build_defs().schedules}
    assert {n: (s.cron_schedule, s.execution_timezone) for n, s in by_name.items()} == {
        "incremental_refresh_every_15_minutes": ("*/15 * * * *", TZ),
        "forecast_daily_0600": ("0 6 * * *", TZ),
        "digest_daily_0900": ("0 9 * * *", TZ),
    }
    jobs = {j.name for j in build_defs().jobs}
    assert jobs == {"incremental_refresh", "morning_forecast", "morning_digest"}


@pytest.mark.parametrize("deployment", ["local", "production"])
def test_a_refresh_tick_waits_in_the_run_queue_while_the_previous_refresh_runs(deployment, tmp_path):
    """The shipped dagster.yaml limits runs carrying the refresh job's tag to one in progress; the run
    queue's own counter (what the daemon consults before launching) then holds a second refresh back
    and lets the morning forecast through."""
    from dagster._core.instance.ref import InstanceRef
    from dagster._utils.tags import TagConcurrencyLimitsCounter

    shutil.copy(ROOT / "deploy" / deployment / "dagster.yaml", tmp_path / "dagster.yaml")
    # the coordinator from the file as the instance would build it (no storage is opened: the
    # production file's PostgreSQL need not be reachable)
    coordinator = InstanceRef.from_dir(str(tmp_path)).run_coordinator
    assert type(coordinator).__name__ == "QueuedRunCoordinator"
    limits = coordinator.get_run_queue_config().tag_concurrency_limits

    def run(job_name: str, tags: dict[str, str], status: DagsterRunStatus) -> DagsterRun:
        return DagsterRun(job_name=job_name, tags=tags, status=status)

    running = run(REFRESH_JOB_NAME, dict(incremental_refresh_job.tags), DagsterRunStatus.STARTED)
    next_tick = run(REFRESH_JOB_NAME, dict(incremental_refresh_job.tags), DagsterRunStatus.NOT_STARTED)
    forecast = run(FORECAST_JOB_NAME, {}, DagsterRunStatus.NOT_STARTED)
    assert TagConcurrencyLimitsCounter(limits, [running]).is_blocked(next_tick)
    assert not TagConcurrencyLimitsCounter(limits, [running]).is_blocked(forecast)
    assert not TagConcurrencyLimitsCounter(limits, []).is_blocked(next_tick)


def test_the_local_instance_queues_runs_for_the_daemon(tmp_path):
    shutil.copy(ROOT / "deploy" / "local" / "dagster.yaml", tmp_path / "dagster.yaml")
    instance = DagsterInstance.from_config(str(tmp_path))
    try:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        ((key, value),) = incremental_refresh_job.tags.items()
        assert {"key": key, "value": value, "limit": 1} in limits
    finally:
        instance.dispose()


def test_forecast_targets_the_moscow_day():
    forecast = {s.name: s for s in build_schedules(TZ)}["forecast_daily_0600"]
    # 06:00 in Moscow on 10 March is 03:00 UTC the same day
    tick = datetime(2025, 3, 10, 3, 0, tzinfo=UTC)
    with instance_for_test() as instance:
        run = forecast(build_schedule_context(instance=instance, scheduled_execution_time=tick))
    assert run.partition_key == "2025-03-10"


def test_digest_tick_asks_for_that_day():
    digest = {s.name: s for s in build_schedules(TZ)}["digest_daily_0900"]
    tick = datetime(2025, 3, 10, 6, 0, tzinfo=UTC)  # 09:00 Moscow
    with instance_for_test() as instance:
        run = digest(build_schedule_context(instance=instance, scheduled_execution_time=tick))
    assert run.run_config["ops"]["send_morning_digest"]["config"]["as_of_day"] == "2025-03-10"


# --- the digest -----------------------------------------------------------------------------
def test_digest_reaches_the_head_of_sales(tg, resources):
    small_day.write_to(resources["warehouse"])
    with instance_for_test() as instance:
        result = morning_digest_job.execute_in_process(
            instance=instance,
            resources=resources,
            run_config={"ops": {"send_morning_digest": {"config": {"as_of_day": "2025-03-10"}}}},
        )
    assert result.success
    (msg,) = tg.to(HEAD)
    assert tg.to(ONCALL) == []
    for figure in ["10.03.2025", "3 000 000 ₽", "834 567 ₽", "28 %", "2 600 000 ₽", "25 %", "Петров Пётр"]:
        assert figure in msg.visible_text, figure


# --- anomaly alerts ---------------------------------------------------------------------------
# The sensor's "today" is the settings' (DEMO_TODAY when set): pinned, so the test never depends on
# the wall clock (a run across midnight Moscow, or a machine in another zone).
TODAY = date(2025, 3, 10)


@pytest.fixture
def pinned_today(monkeypatch):
    monkeypatch.setenv("DEMO_TODAY", TODAY.isoformat())
    return TODAY


def test_anomaly_alert_is_sent_once_per_partition(tg, resources, pinned_today):
    today = pinned_today
    small_day.write_to(resources["warehouse"], day=today)
    sensor = sensors()["anomaly_alerts_to_head_of_sales"]
    with instance_for_test() as instance:
        instance.report_runless_asset_event(AssetMaterialization("manager_anomalies", partition=today.isoformat()))
        context = build_sensor_context(instance=instance, resources=resources)
        sensor(context)
        sensor(context)  # evaluated twice: nothing new
        # the same partition materialized again (a rerun) does not repeat the alerts either
        instance.report_runless_asset_event(AssetMaterialization("manager_anomalies", partition=today.isoformat()))
        sensor(context)
    alerts = tg.to(HEAD)
    assert tg.to(ONCALL) == []
    # two flagged managers today (Петров: calls, Сидорова: revenue); Иванов is not flagged
    assert len(alerts) == 2
    first, second = (m.visible_text for m in alerts)
    assert "Аномалия: исходящие звонки" in first and "Значение: 3, обычно 35" in first
    assert "Ответственный: Петров Пётр" in first and "Что сделать:" in first
    assert "выручка" in second and "обычно 48 500 ₽" in second and "Сидорова Анна" in second


def stage_row(day: date, subject_type: str, subject_id: str, name: str, detail: str, value: float) -> dict:
    return {
        "as_of_day": day,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "manager_id": int(subject_id) if subject_type == "manager" else None,
        "manager_name": name,
        "score": 5.0,
        "is_anomaly": True,
        "top_metric": "stage_conversion",
        "metric_value": value,
        "usual_value": 85.0,
        "window_days": 1,
        "metric_detail": detail,
    }


def test_a_pipeline_and_each_stage_get_their_own_alert_and_cool_down(tg, resources, pinned_today):
    """Pipeline 1 and manager 1 share an id and a metric; one manager's two stages share the metric:
    none of them silences another. The same pipeline stage the next day is in its cool-down."""
    yesterday, today = pinned_today - timedelta(days=1), pinned_today
    kp, invoice = "«КП» → «Счёт»", "«Счёт» → «Оплата»"
    rows = pl.DataFrame(
        [
            stage_row(yesterday, "pipeline", "1", "Повторные продажи", kp, 50.0),
            stage_row(yesterday, "manager", "1", "Иванов Иван", kp, 20.0),
            stage_row(today, "manager", "1", "Иванов Иван", invoice, 10.0),
            stage_row(today, "pipeline", "1", "Повторные продажи", kp, 45.0),
        ]
    )
    resources["warehouse"].replace_rows("ml", "manager_anomalies", rows, where={})
    sensor = sensors()["anomaly_alerts_to_head_of_sales"]
    with instance_for_test() as instance:
        context = build_sensor_context(instance=instance, resources=resources)
        for day in (yesterday, today):
            instance.report_runless_asset_event(AssetMaterialization("manager_anomalies", partition=day.isoformat()))
            sensor(context)
    texts = [m.visible_text for m in tg.to(HEAD)]
    assert len(texts) == 3, texts
    pipeline, manager, second_stage = texts
    assert "Аномалия: конверсия этапа «КП» → «Счёт», % сделок" in pipeline
    assert "Значение: 50, обычно 85" in pipeline and "Воронка: Повторные продажи" in pipeline
    assert "для всей воронки" in pipeline  # its own next step, not the manager's
    assert "Ответственный: Иванов Иван" in manager and "Значение: 20" in manager
    assert "«Счёт» → «Оплата»" in second_stage and "Значение: 10" in second_stage


def test_backfilled_old_partitions_do_not_alert(tg, resources, pinned_today):
    old = pinned_today - timedelta(days=30)
    small_day.write_to(resources["warehouse"], day=old)
    sensor = sensors()["anomaly_alerts_to_head_of_sales"]
    with instance_for_test() as instance:
        instance.report_runless_asset_event(AssetMaterialization("manager_anomalies", partition=old.isoformat()))
        sensor(build_sensor_context(instance=instance, resources=resources))
    assert tg.messages == []


# --- failures → on-call -----------------------------------------------------------------------
PORTAL = {"down": True}  # whether the test's portal answers 503


@op
def load_leads() -> None:
    if PORTAL["down"]:
        raise RuntimeError("портал ответил 503 QUERY_LIMIT_EXCEEDED")


@job
def failing_refresh() -> None:
    load_leads()


UI = "http://dagster.company.local:3000"


def run_and_sense(instance, resources) -> str:
    """Run the refresh, then the failure sensor over its failure (as the daemon would); the run's id."""
    result = failing_refresh.execute_in_process(instance=instance, raise_on_error=False)
    if not result.success:
        context = build_run_status_sensor_context(
            sensor_name="run_failures_to_oncall",
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),
            dagster_event=result.get_run_failure_event(),
            resources=resources,
        ).for_run_failure()
        sensors()["run_failures_to_oncall"](context)
    return result.run_id


def test_failed_run_goes_to_oncall_with_a_link(tg, resources, monkeypatch):
    monkeypatch.setenv("DAGSTER_UI_URL", UI + "/")
    PORTAL["down"] = True
    with instance_for_test() as instance:
        run_id = run_and_sense(instance, resources)
    assert tg.to(HEAD) == []
    (msg,) = tg.to(ONCALL)
    assert "failing_refresh" in msg.visible_text and run_id in msg.visible_text
    assert "QUERY_LIMIT_EXCEEDED" in msg.visible_text
    assert f'<a href="{UI}/runs/{run_id}">Открыть запуск в Dagster</a>' in msg.text
    assert tg.rejected == []


def test_a_job_failing_run_after_run_is_one_alert_until_it_passes(tg, resources):
    with instance_for_test() as instance:
        PORTAL["down"] = True
        first = run_and_sense(instance, resources)
        for _ in range(2):  # the next two refreshes fail the same way
            run_and_sense(instance, resources)
        assert [first in m.visible_text for m in tg.to(ONCALL)] == [True]
        PORTAL["down"] = False
        run_and_sense(instance, resources)  # the portal is back
        PORTAL["down"] = True
        again = run_and_sense(instance, resources)  # a new failure after a pass: a new alert
    assert [m.visible_text.count(run) for m, run in zip(tg.to(ONCALL), [first, again])] == [1, 1]
    assert len(tg.to(ONCALL)) == 2
    assert "<a " not in tg.to(ONCALL)[0].text  # no DAGSTER_UI_URL: no link


@asset
def mart_plan_fact() -> None:
    return None


PLAN = {"rows": 0}


@asset_check(asset=mart_plan_fact, description="plan rows exist for the current month")
def plan_present() -> AssetCheckResult:
    if PLAN["rows"]:
        return AssetCheckResult(passed=True, metadata={"rows": PLAN["rows"]})
    return AssetCheckResult(passed=False, metadata={"rows": 0}, description="в плане нет строк за март")


@asset_check(asset=mart_plan_fact)
def plan_not_negative() -> AssetCheckResult:
    return AssetCheckResult(passed=True)


def test_failed_asset_check_goes_to_oncall_once_per_streak(tg, resources, monkeypatch):
    monkeypatch.setenv("DAGSTER_UI_URL", UI)
    defs = Definitions(assets=[mart_plan_fact], asset_checks=[plan_present, plan_not_negative])
    sensor = sensors()["asset_check_failures_to_oncall"]
    everything = [mart_plan_fact, plan_present, plan_not_negative]
    PLAN["rows"] = 0
    with instance_for_test() as instance:
        first = materialize(everything, instance=instance, raise_on_error=False)
        context = build_sensor_context(instance=instance, definitions=defs, resources=resources)
        sensor(context)
        sensor(context)  # same evaluation: not repeated
        assert len(tg.to(ONCALL)) == 1
        for _ in range(2):  # fails at the next two refreshes too: the same streak, no new alert
            materialize(everything, instance=instance, raise_on_error=False)
            sensor(context)
        assert len(tg.to(ONCALL)) == 1
        PLAN["rows"] = 12
        materialize(everything, instance=instance)  # the plan is loaded: the check passes
        sensor(context)
    assert tg.to(HEAD) == []
    alert, recovered = tg.to(ONCALL)
    assert "plan_not_negative" not in alert.visible_text  # a passing check is silent
    assert "mart_plan_fact / plan_present" in alert.visible_text
    assert "в плане нет строк за март" in alert.visible_text and "rows: 0" in alert.visible_text
    assert f'<a href="{UI}/runs/{first.run_id}">запуск</a>' in alert.text
    assert f'<a href="{UI}/assets/mart_plan_fact?view=checks">проверки актива</a>' in alert.text
    assert "Проверка снова проходит: mart_plan_fact / plan_present" in recovered.visible_text
    assert "не проходила 3 раза подряд" in recovered.visible_text
    assert tg.rejected == []


def test_a_stale_source_reaches_oncall_once(tg, resources, monkeypatch):
    """The product's own freshness checks (ingest stage): a source whose last good load is 4 hours old."""
    import time as clock
    from datetime import datetime as dt

    from dagster import AssetKey, AssetSelection, AssetSpec, define_asset_job

    import assets.ingest

    monkeypatch.setenv("DAGSTER_UI_URL", UI)
    monkeypatch.setenv("SOURCE_STALE_HOURS", "3")
    monkeypatch.setenv("COMPANY_TIMEZONE", TZ)
    ingest = assets.ingest.build_defs()  # the demo world: every source configured
    (freshness_sensor,) = ingest.sensors
    assert freshness_sensor.name == "source_freshness_checks"
    freshness = [c for c in ingest.asset_checks if any(k.name == "freshness_check" for k in c.check_keys)]
    fresh_keys = {k.asset_key for c in freshness for k in c.check_keys}
    assert AssetKey(["raw_cbr", "rates"]) in fresh_keys and AssetKey(["raw_bitrix24", "deals"]) in fresh_keys
    checks_job = define_asset_job("freshness", selection=AssetSelection.checks(*freshness))
    defs = Definitions(assets=[AssetSpec(k) for k in fresh_keys], asset_checks=freshness, jobs=[checks_job])
    now = clock.time()
    with instance_for_test() as instance:
        for key in fresh_keys:  # every source loaded well 10 minutes ago, the CBR's last good load 4 h ago
            good = now - (4 * 3600 if key == AssetKey(["raw_cbr", "rates"]) else 600)
            instance.report_runless_asset_event(
                AssetMaterialization(key, metadata={"dagster/last_updated_timestamp": MetadataValue.timestamp(good)})
            )
        sensor = sensors()["asset_check_failures_to_oncall"]
        context = build_sensor_context(instance=instance, definitions=defs, resources=resources)
        for _ in range(3):  # three evaluations of the freshness checks while the CBR stays stale
            defs.resolve_job_def("freshness").execute_in_process(instance=instance, raise_on_error=False)
            sensor(context)
    (msg,) = tg.to(ONCALL)
    text = msg.visible_text
    assert "Источник не обновляется: raw_cbr/rates" in text
    last = dt.fromtimestamp(now - 4 * 3600, ZoneInfo(TZ))
    assert f"Последняя удачная загрузка: {last:%d.%m.%Y %H:%M} — 4 ч " in text  # and a few minutes at most
    assert "Ожидается хотя бы раз в 3 ч" in text
    assert f'<a href="{UI}/assets/raw_cbr/rates">актив</a>' in msg.text
    assert tg.rejected == []
