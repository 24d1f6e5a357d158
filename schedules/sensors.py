"""Sensors that tell people: anomalies and alert rules → head of sales (channel rules also to the
marketer); failed runs and failed data checks → on-call.

Each keeps a cursor, so evaluating it twice sends nothing new the second time (docs/ARCHITECTURE.md: every
alert is idempotent), and alerts also respect a cool-down (docs/KPI.md "Alert rules"). Dagster stores a
sensor's cursor in the instance's storage, so that memory outlives a restart of the daemon.
"""

import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetRecordsFilter,
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    get_dagster_logger,
    run_failure_sensor,
    sensor,
)

from assets.insights.facts import AnomalyFact, anomalies_of_day
from assets.insights.writer import format_rub
from resources.amocrm import AmoCRMAccount
from resources.bitrix24 import Bitrix24Portal
from resources.settings import load_settings
from resources.telegram import Outbox, TelegramNotifier, escape_html
from resources.warehouse import Warehouse
from schedules.actions import (
    buttons_enabled,
    crm_reassign,
    handle_press,
    largest_overdue_deals,
    take_deals_markup,
)
from schedules.alert_rules import (
    AlertMessage,
    chats_for,
    compose,
    due_alerts,
    facts_from_rows,
    forget_old,
    remember,
)
from schedules.messages import (
    anomaly_alert_html,
    check_failure_html,
    check_recovered_html,
    run_failure_html,
    stale_source_html,
)

ANOMALIES_KEY = AssetKey("manager_anomalies")
ALERT_FACTS_KEY = AssetKey("mart_alert_facts")
FRESHNESS_CHECK = "freshness_check"  # the name Dagster gives its freshness checks (ingest: raw_* main tables)
# The same subject and metric are not alerted again within this many hours (docs/KPI.md cool-down).
ANOMALY_COOLDOWN_HOURS = 12
# Partitions older than this (backfills, backtests) are history, not news: no alert.
ANOMALY_MAX_AGE_DAYS = 2
# How long the cursor remembers which (partition, subject, metric) it already sent.
SENT_MEMORY_DAYS = 7
BATCH = 50
# Sending in one tick stops after this long (a sensor evaluation times out at 60 s); a longer
# rate-limit wait leaves the rest in the outbox for the next tick.
SEND_SECONDS_PER_TICK = 40.0


def _load(cursor: str | None) -> dict:
    try:
        return json.loads(cursor) if cursor else {}
    except ValueError:
        return {}


def _root_message(event: DagsterEvent) -> str:
    """The innermost error of a step failure: the user's exception, not Dagster's wrapper."""
    error = getattr(event.event_specific_data, "error", None)
    if error is None:
        return event.message or ""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def company_now(tz: str) -> datetime:
    """Now on the company's clock; in the demo world the day is DEMO_TODAY's (the hour stays the real one)."""
    now = datetime.now(ZoneInfo(tz))
    demo_today = load_settings().demo_today
    return datetime.combine(demo_today, now.timetz()) if demo_today else now


def _stale_html(asset: str, metadata: Mapping[str, Any], run_id: str | None, ui_url: str | None) -> str:
    """The on-call text of a failed freshness check, in the company's time zone."""
    settings = load_settings()
    value = metadata.get("dagster/last_updated_timestamp")
    seconds = getattr(value, "value", value)
    last = datetime.fromtimestamp(float(seconds), settings.tz) if isinstance(seconds, int | float) else None
    return stale_source_html(asset, last, datetime.now(settings.tz), settings.source_stale_hours, run_id, ui_url)


def _same_failure_as_the_run_before(instance: DagsterInstance, run: DagsterRun, steps: set[str]) -> bool:
    """Whether the job's previous finished run failed in the same steps (a streak on-call already knows)."""
    record = instance.get_run_record_by_id(run.run_id)
    if record is None:
        return False
    before = instance.get_run_records(
        RunsFilter(
            job_name=run.job_name,
            statuses=[DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED],
            created_before=record.create_timestamp,
        ),
        limit=1,
    )
    if not before or before[0].dagster_run.status != DagsterRunStatus.FAILURE:
        return False
    previous = instance.all_logs(before[0].dagster_run.run_id, of_type=DagsterEventType.STEP_FAILURE)
    return {entry.step_key or "?" for entry in previous} == steps


def _with_take_buttons(warehouse: Warehouse, message: AlertMessage, day: date) -> tuple[str, dict | None]:
    """An overdue-deals alert with its largest deals named and a "take it" button for each."""
    forgotten = (
        warehouse.query("select entity_type, entity_id, manager_id, amount_rub, is_forgotten from marts.mart_forgotten")
        if warehouse.table_exists("marts", "mart_forgotten")
        else pl.DataFrame()
    )
    deals = (
        warehouse.query(
            "select deal_id, manager_id, semantic, expected_close_day, amount_rub from marts.mart_deals"
            " where semantic = 'open'"
        )
        if warehouse.table_exists("marts", "mart_deals")
        else pl.DataFrame()
    )
    managers = [str(fact.subject_id if fact.subject_id is not None else fact.subject_key) for fact in message.facts]
    largest = largest_overdue_deals(forgotten, deals, managers, day)
    if not largest:
        return message.html, None
    names = {str(f.subject_id if f.subject_id is not None else f.subject_key): f.subject_name for f in message.facts}
    listed = ", ".join(
        f"№ {d.deal_id} ({format_rub(d.amount_rub)}, {escape_html(names.get(d.manager_id) or '—')})" for d in largest
    )
    body, _, step = message.html.rpartition("\n")  # the next step stays the last line
    return f"{body}\nКрупнейшие: {listed}\n{step}", take_deals_markup([d.deal_id for d in largest])


def anomaly_alert_key(anomaly: AnomalyFact) -> str:
    """What one cool-down covers: the subject (its kind too: pipeline 1 is not manager 1), the metric
    and what it is about, so two stages of one manager, or a pipeline and a manager of it, each get
    their own alert."""
    return f"{anomaly.subject_type}|{anomaly.manager_id}|{anomaly.metric}|{anomaly.detail or ''}"


def build_sensors(
    tz: str,
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
    clock: Callable[[], datetime] | None = None,
) -> list:
    """The alert sensors; `tz` is COMPANY_TIMEZONE (what "today" means); `clock` pins "now" in tests."""
    now_local = clock or (lambda: company_now(tz))

    @sensor(
        name="anomaly_alerts_to_head_of_sales",
        minimum_interval_seconds=60,
        default_status=default_status,
        description=(
            "When manager_anomalies materializes, one Telegram alert per flagged manager, channel and pipeline "
            "to the head of sales."
        ),
    )
    def anomaly_alerts(
        context: SensorEvaluationContext, telegram: TelegramNotifier, warehouse: Warehouse
    ) -> SkipReason:
        state = _load(context.cursor)
        last_id: int | None = state.get("last_id")
        sent: dict[str, float] = state.get("sent", {})  # "<day>|<anomaly_alert_key>" -> epoch seconds
        cooldown: dict[str, float] = state.get("cooldown", {})  # anomaly_alert_key -> epoch seconds
        now = time.time()
        today = load_settings().today  # DEMO_TODAY in the demo world, else today in COMPANY_TIMEZONE
        records = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=ANOMALIES_KEY, after_storage_id=last_id), limit=BATCH, ascending=True
        ).records
        delivered = 0
        try:
            for record in records:
                partition = record.partition_key
                if partition and date.fromisoformat(partition) >= today - timedelta(days=ANOMALY_MAX_AGE_DAYS):
                    day = date.fromisoformat(partition)
                    rows = warehouse.query("select * from ml.manager_anomalies where as_of_day = ?", [day])
                    for anomaly in anomalies_of_day(day, rows):
                        pair = anomaly_alert_key(anomaly)
                        key = f"{day}|{pair}"
                        if key in sent or now - cooldown.get(pair, 0) < ANOMALY_COOLDOWN_HOURS * 3600:
                            continue
                        telegram.send_html(
                            telegram.head_chat, anomaly_alert_html(anomaly, day), deadline=now + SEND_SECONDS_PER_TICK
                        )
                        sent[key] = cooldown[pair] = now
                        delivered += 1
                last_id = record.storage_id
        finally:
            # Whatever was sent stays recorded even if a later send failed (then the tick errors and retries).
            horizon = now - SENT_MEMORY_DAYS * 86400
            context.update_cursor(
                json.dumps(
                    {
                        "last_id": last_id,
                        "sent": {k: v for k, v in sent.items() if v > horizon},
                        "cooldown": {k: v for k, v in cooldown.items() if v > now - ANOMALY_COOLDOWN_HOURS * 3600},
                    }
                )
            )
        return SkipReason(f"{delivered} anomaly alert(s) sent from {len(records)} new materialization(s)")

    @sensor(
        name="rule_alerts_to_head_of_sales",
        minimum_interval_seconds=60,
        default_status=default_status,
        description="When mart_alert_facts materializes, its firing rules (out of cool-down) → Telegram: "
        "the head of sales, and the marketer for channel rules.",
    )
    def rule_alerts(context: SensorEvaluationContext, telegram: TelegramNotifier, warehouse: Warehouse) -> SkipReason:
        state = _load(context.cursor)
        last_id: int | None = state.get("last_id")
        sent: dict[str, str] = state.get("sent", {})  # rule|subject -> the fact day last alerted
        outbox = Outbox.model_validate(state.get("outbox", {}))  # queued, not yet (wholly) delivered
        deadline = time.time() + SEND_SECONDS_PER_TICK
        records = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=ALERT_FACTS_KEY, after_storage_id=last_id), limit=BATCH, ascending=False
        ).records
        if not records and not outbox.pending:
            return SkipReason("mart_alert_facts has not materialized since the last evaluation")
        queued = 0
        if records:
            now = now_local()
            rows = warehouse.query(
                "select * from marts.mart_alert_facts where is_firing and day >= ?", [now.date() - timedelta(days=1)]
            )
            buttons = buttons_enabled(load_settings())
            for message in compose(due_alerts(facts_from_rows(rows.iter_rows(named=True)), now, sent)):
                html, markup = message.html, None
                if buttons and message.rule == "overdue_deals":
                    html, markup = _with_take_buttons(warehouse, message, now.date())
                for chat in chats_for(message.facts[0], telegram.head_chat, telegram.marketer_chat):
                    outbox.add(chat, html, markup)
                for fact in message.facts:  # queued counts as sent: the outbox delivers it, once
                    remember(sent, fact)
                queued += 1
            last_id = max(record.storage_id for record in records)
            sent = forget_old(sent, now.date())
        delivered = outbox.flush(telegram, deadline)
        # The cursor is stored when the tick ends (Dagster keeps it in the instance's storage).
        context.update_cursor(json.dumps({"last_id": last_id, "sent": sent, "outbox": outbox.model_dump()}))
        return SkipReason(
            f"{queued} rule alert message(s) queued, {delivered} delivered, {len(outbox.pending)} waiting"
        )

    @run_failure_sensor(
        name="run_failures_to_oncall",
        default_status=default_status,
        description="A failed run of any job of this code location → the on-call chat; a job failing "
        "run after run in the same steps is one alert until a run of it passes.",
    )
    def run_failures(context: RunFailureSensorContext, telegram: TelegramNotifier) -> SkipReason | None:
        run = context.dagster_run
        steps = {event.step_key or "?": _root_message(event) for event in context.get_step_failure_events()}
        if _same_failure_as_the_run_before(context.instance, run, set(steps)):
            return SkipReason(f"{run.job_name} failed again in the same steps: on-call was told at the first failure")
        telegram.send_html(
            telegram.oncall_chat,
            run_failure_html(
                run.job_name,
                run.run_id,
                run.tags.get("dagster/partition"),
                context.failure_event.message or "",
                steps,
                ui_url=load_settings().dagster_ui_url,
            ),
            deadline=time.time() + SEND_SECONDS_PER_TICK,
        )
        return None

    @sensor(
        name="asset_check_failures_to_oncall",
        minimum_interval_seconds=60,
        default_status=default_status,
        description="A failed asset check (dbt test, Python or freshness check) → the on-call chat, once per "
        "streak of failures; its first pass after them says so.",
    )
    def check_failures(context: SensorEvaluationContext, telegram: TelegramNotifier) -> SkipReason:
        state = _load(context.cursor)
        if "seen" not in state:  # the cursor of the version before streaks: {check: last record id}
            state = {"seen": state, "failing": {}}
        seen: dict[str, int] = state["seen"]
        failing: dict[str, int] = state["failing"]  # check -> failures in a row (alerted at the first)
        repository = context.repository_def
        assert repository is not None, "dagster evaluates a sensor within its code location's definitions"
        keys: list[AssetCheckKey] = list(repository.asset_graph.asset_check_keys)
        latest = context.instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
        ui_url = load_settings().dagster_ui_url
        delivered = 0
        # a longer rate limit: the tick errors and the next one sends the rest
        deadline = time.time() + SEND_SECONDS_PER_TICK
        try:
            for key, record in sorted(latest.items(), key=lambda item: item[1].id):
                name = key.to_user_string()
                if record.id <= seen.get(name, -1) or record.status.value in ("PLANNED", "SKIPPED"):
                    continue
                evaluation = record.event.asset_check_evaluation if record.event is not None else None
                asset = key.asset_key.to_user_string()
                if record.status.value == "FAILED" and evaluation is not None and not evaluation.passed:
                    if name not in failing and key.name == FRESHNESS_CHECK:
                        telegram.send_html(
                            telegram.oncall_chat,
                            _stale_html(asset, evaluation.metadata, record.run_id, ui_url),
                            deadline=deadline,
                        )
                        delivered += 1
                    elif name not in failing:
                        telegram.send_html(
                            telegram.oncall_chat,
                            check_failure_html(
                                asset,
                                key.name,
                                evaluation.severity.value,
                                record.run_id,
                                record.partition,
                                evaluation.description,
                                {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()},
                                blocking=bool(evaluation.blocking),
                                ui_url=ui_url,
                            ),
                            deadline=deadline,
                        )
                        delivered += 1
                    failing[name] = failing.get(name, 0) + 1
                elif record.status.value == "SUCCEEDED" and name in failing:
                    telegram.send_html(
                        telegram.oncall_chat,
                        check_recovered_html(asset, key.name, failing[name], ui_url=ui_url),
                        deadline=deadline,
                    )
                    del failing[name]
                    delivered += 1
                seen[name] = record.id
        finally:
            context.update_cursor(json.dumps({"seen": seen, "failing": failing}))
        return SkipReason(f"{delivered} check message(s) sent to on-call; {len(failing)} check(s) failing")

    @sensor(
        name="telegram_button_presses",
        minimum_interval_seconds=30,
        default_status=default_status,
        description="Polls Telegram (getUpdates) for action-button presses; a press by a member of "
        "TELEGRAM_ACTION_USERS changes the deal in the CRM (Bitrix24 crm.deal.update or amoCRM PATCH "
        "/api/v4/leads), is answered and logged.",
    )
    def button_presses(
        context: SensorEvaluationContext, telegram: TelegramNotifier, bitrix24: Bitrix24Portal, amocrm: AmoCRMAccount
    ) -> SkipReason:
        users = load_settings().action_users
        reassign = crm_reassign(bitrix24, amocrm)
        if not users or reassign is None:  # no buttons are sent; the bot's updates are left alone
            return SkipReason("TELEGRAM_ACTION_USERS or a writable CRM is not set: no action buttons to poll for")
        offset = int(context.cursor) if context.cursor else None
        done = 0
        for update in telegram.get_updates(offset):
            outcome = handle_press(update, users, reassign)
            if outcome is not None:
                # who did what: in the tick's log (Dagster UI) and the daemon's log (kept with the process logs)
                level = logging.INFO if outcome.done else logging.WARNING
                context.log.log(level, f"button: {outcome.log}")
                get_dagster_logger("actions").log(level, "button: %s", outcome.log)
                telegram.answer_callback(outcome.callback_query_id, outcome.answer)
                done += outcome.done
            # the next poll asks from here, which confirms this update to the Bot API
            context.update_cursor(str(int(update["update_id"]) + 1))
        return SkipReason(f"{done} button press(es) acted on")

    return [anomaly_alerts, rule_alerts, run_failures, check_failures, button_presses]
