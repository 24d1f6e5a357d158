"""When the jobs run, in the company's time zone: every 15 minutes, 06:00 and 09:00."""

from datetime import date
from zoneinfo import ZoneInfo

from dagster import DefaultScheduleStatus, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, schedule

from schedules.jobs import FORECAST_JOB_NAME, incremental_refresh_job, morning_digest_job, morning_forecast_job


def business_day(context: ScheduleEvaluationContext, tz: str) -> date:
    """The tick's day in the company's time zone (the as-of partition it targets)."""
    return context.scheduled_execution_time.astimezone(ZoneInfo(tz)).date()


def build_schedules(tz: str, default_status: DefaultScheduleStatus = DefaultScheduleStatus.RUNNING) -> list:
    """The three schedules, all evaluated in `tz` (COMPANY_TIMEZONE)."""

    # No check for a refresh still running: the job's concurrency tag and the instance's run queue
    # (dagster.yaml) hold the new run queued until the previous one ends.
    refresh_schedule = ScheduleDefinition(
        name="incremental_refresh_every_15_minutes",
        job=incremental_refresh_job,
        cron_schedule="*/15 * * * *",
        execution_timezone=tz,
        default_status=default_status,
        description="Incremental ingest + dbt every 15 minutes; queued while the previous refresh still runs.",
    )

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
