"""The jobs people and schedules start: the incremental refresh, the morning forecast, the digest."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from dagster import (
    AssetSelection,
    Backoff,
    Config,
    JobDefinition,
    OpExecutionContext,
    RetryPolicy,
    define_asset_job,
    get_dagster_logger,
    job,
    op,
)

from assets.insights.facts import DayFacts, collect_facts
from assets.insights.writer import template_items
from resources.settings import load_settings
from resources.telegram import TelegramNotifier
from resources.warehouse import Warehouse
from schedules.actions import buttons_enabled, take_deal_markup
from schedules.drivers import read_drivers
from schedules.messages import DIGEST_INSIGHTS, digest_html
from schedules.picture import month_revenue, picture_caption, picture_data, render_png
from schedules.progress import InstanceProgress

REFRESH_JOB_NAME = "incremental_refresh"
FORECAST_JOB_NAME = "morning_forecast"
DIGEST_JOB_NAME = "morning_digest"

# The run tag the instance's run queue limits to one run in progress (run_queue.tag_concurrency_limits
# in deploy/*/dagster.yaml): a refresh that outlasts 15 minutes makes the next tick wait, not overlap.
REFRESH_CONCURRENCY_TAGS = {"concurrency_group": "incremental_refresh"}

# Every 15 minutes: pull what changed in the sources and rebuild the dbt models (and their checks).
incremental_refresh_job = define_asset_job(
    REFRESH_JOB_NAME,
    selection=AssetSelection.groups("ingest", "warehouse"),
    description="Incremental ingest (dlt, merge on key) and the dbt models with their tests.",
    tags=REFRESH_CONCURRENCY_TAGS,
)

# 06:00: the forecast and anomalies for today's as-of partition, then that day's insights.
morning_forecast_job = define_asset_job(
    FORECAST_JOB_NAME,
    selection=AssetSelection.groups("ml", "insights"),  # partitioned by as_of_days (inferred)
    description="Month-end forecast, manager anomalies and insights for one as-of day.",
)


class DigestConfig(Config):
    """as_of_day: YYYY-MM-DD; empty means today in COMPANY_TIMEZONE."""

    as_of_day: str | None = None
    company_timezone: str | None = None


def digest_day(config: DigestConfig) -> date:
    """The digest's day: the configured one, else today in the company's time zone."""
    if config.as_of_day:
        return date.fromisoformat(config.as_of_day)
    tz = config.company_timezone or load_settings().company_timezone
    return datetime.now(ZoneInfo(tz)).date()


# The Telegram client retries a blip itself (5xx, network, 429); this covers an outage of minutes:
# 1, 2 and 4 minutes later, each rerun resuming from the first piece not delivered (InstanceProgress).
DIGEST_RETRY_POLICY = RetryPolicy(max_retries=3, delay=60, backoff=Backoff.EXPONENTIAL)

# Topics the digest's own lines already show (plan vs actual, the forecast): its recommendations skip them.
SHOWN_IN_DIGEST = {"plan", "forecast"}


def day_insights(warehouse: Warehouse, day: date) -> tuple[list[tuple[str, str]], str] | None:
    """The day's (topic, text) rows of ml.insights in rank order, with their source; None when not written yet."""
    if not warehouse.table_exists("ml", "insights"):
        return None
    frame = warehouse.query("select * from ml.insights where as_of_day = ? order by rank", [day])
    if frame.is_empty():
        return None
    topics = frame["topic"].to_list() if "topic" in frame.columns else [""] * frame.height
    sources = frame["source"].unique().to_list()
    return list(zip([t or "" for t in topics], frame["text"].to_list(), strict=True)), (
        "openai" if sources == ["openai"] else "template"
    )


def digest_recommendations(items: list[tuple[str, str]]) -> list[str]:
    """The digest's top recommendations in rank order, leaving out what its own lines already say (a day
    with fewer than three other insights gets fewer lines, not the plan or the forecast said twice)."""
    return [text for topic, text in items if topic not in SHOWN_IN_DIGEST][:DIGEST_INSIGHTS]


@op(description="Reads the day's facts and insights from the warehouse and sends the digest to the head of sales.")
def send_morning_digest(
    context: OpExecutionContext, config: DigestConfig, warehouse: Warehouse, telegram: TelegramNotifier
) -> int:
    """Compose and send the 09:00 digest; returns the number of Telegram messages sent."""
    day = digest_day(config)
    facts = collect_facts(warehouse, day)
    stored = day_insights(warehouse, day)
    if stored is None:
        context.log.warning(f"no insights stored for {day}; the digest uses the template text")
        items, source = template_items(facts), "template"
    else:
        items, source = stored
    settings = load_settings()
    drivers = read_drivers(warehouse, day)
    text = digest_html(facts, digest_recommendations(items), source, settings.report_site_url, drivers)
    # the largest forgotten deal gets a button when someone may press it and the CRM can take the write
    markup = (
        take_deal_markup(facts.top_forgotten.deal_id) if facts.top_forgotten and buttons_enabled(settings) else None
    )
    # progress in the instance: a rerun after a failure half-way sends only the pieces not delivered
    sent = telegram.send_html(
        telegram.head_chat, text, progress=InstanceProgress(context.instance), reply_markup=markup
    )
    photos = send_digest_picture(context, warehouse, telegram, facts)
    context.add_output_metadata({"as_of_day": day.isoformat(), "messages": sent, "photos": photos, "source": source})
    return sent


def send_digest_picture(
    context: OpExecutionContext, warehouse: Warehouse, telegram: TelegramNotifier, facts: DayFacts
) -> int:
    """The plan-vs-forecast picture after the text; returns the photos sent (0 or 1).

    A bonus to the text: whatever goes wrong (drawing, a refusal, an outage) is logged as a warning and
    the digest's run still succeeds, so a retry never sends the text twice; the instance remembers a
    delivered picture as it does the text's pieces."""
    if facts.forecast_rub is None and not facts.plan_rub:
        return 0
    try:
        png = render_png(picture_data(facts, month_revenue(warehouse, facts.as_of_day)))
        return telegram.send_photo(
            telegram.head_chat,
            png,
            picture_caption(facts),
            filename=f"plan_{facts.as_of_day.isoformat()}.png",
            progress=InstanceProgress(context.instance),
        )
    except Exception as exc:  # noqa: BLE001 - the text is what matters; the picture never fails the digest
        get_dagster_logger("digest").warning("digest picture not sent: %s", str(exc)[:300])
        return 0


def build_digest_job(retry_policy: RetryPolicy = DIGEST_RETRY_POLICY) -> JobDefinition:
    """The digest job with its op retry policy (tests pass one without the minutes of delay)."""

    @job(
        name=DIGEST_JOB_NAME,
        description="The 09:00 Telegram digest for the head of sales.",
        op_retry_policy=retry_policy,
    )
    def morning_digest_job() -> None:
        send_morning_digest()

    return morning_digest_job


morning_digest_job = build_digest_job()


__all__ = [
    "REFRESH_CONCURRENCY_TAGS",
    "DigestConfig",
    "build_digest_job",
    "incremental_refresh_job",
    "morning_digest_job",
    "morning_forecast_job",
]
