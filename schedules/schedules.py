"""When the jobs run, in the company's time zone: every 15 minutes, 06:00 and 09:00."""
from datetime import date
from zoneinfo import ZoneInfo

from dagster import (
    DagsterRunStatus,
    DefaultScheduleStatus,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from schedules.jobs import (
    FORECAST_JOB_NAME,
    REFRESH_JOB_NAME,
    incremental_refresh_job,
    morning_digest_job,
    morning_forecast_job,
)

ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


def business_day(context: ScheduleEvaluationContext, tz: str) -> date:
    """The tick's day in the company's time zone (the as-of partition it targets)."""
    return context.scheduled_execution_time.astimezone(ZoneInfo(tz)).date()


def build_schedules(tz: str, default_status: DefaultScheduleStatus = DefaultScheduleStatus.RUNNING) -> list:
    """The three schedules, all evaluated in `tz` (COMPANY_TIMEZONE)."""

    @schedule(
        name="incremental_refresh_every_15_minutes",
        job=incremental_refresh_job,
        cron_schedule="*/15 * * * *",
        execution_timezone=tz,
        default_status=default_status,
        description="Incremental ingest + dbt every 15 minutes; skipped while the previous refresh still runs.",
    )
    def refresh_schedule(context: ScheduleEvaluationContext):
        running = context.instance.get_runs(
            filters=RunsFilter(job_name=REFRESH_JOB_NAME, statuses=ACTIVE), limit=1
        )
        if running:
            return SkipReason(f"the previous refresh ({running[0].run_id}) is still running")
        return RunRequest()

    @schedule(
        name="forecast_daily_0600",
        job=morning_forecast_job,
        cron_schedule="0 6 * * *",
        execution_timezone=tz,
        default_status=default_status,
        description="06:00: forecast, anomalies and insights for today's as-of partition.",
    )
    def forecast_schedule(context: ScheduleEvaluationContext):
        day = business_day(context, tz).isoformat()
        return RunRequest(run_key=f"{FORECAST_JOB_NAME}-{day}", partition_key=day)

    @schedule(
        name="digest_daily_0900",
        job=morning_digest_job,
        cron_schedule="0 9 * * *",
        execution_timezone=tz,
        default_status=default_status,
        description="09:00: the Telegram digest for the head of sales.",
    )
    def digest_schedule(context: ScheduleEvaluationContext):
        day = business_day(context, tz).isoformat()
        return RunRequest(
            run_key=f"digest-{day}",
            run_config={"ops": {"send_morning_digest": {"config": {"as_of_day": day}}}},
        )

    return [refresh_schedule, forecast_schedule, digest_schedule]


__all__ = ["build_schedules"]
