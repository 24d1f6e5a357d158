"""The `insights` asset: the day's recommendations, written by GPT or by the template, into ml.insights."""

from collections.abc import Sequence
from datetime import date

import polars as pl
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from assets.insights.facts import collect_facts
from assets.insights.phrasing import write_insights
from assets.partitions import as_of_days, single_run_backfill
from assets.table_metadata import as_of_table_metadata
from resources.llm import LLMClient
from resources.warehouse import Warehouse


def insights_frame(day: date, texts: list[str], sources: Sequence[str], topics: Sequence[str]) -> pl.DataFrame:
    """Rows of ml.insights for one day: rank 1..n in the order written, who wrote each and its fact item
    (topic: plan, forecast, leads, lagging, anomalies, forgotten, checklist; the digest skips the first
    two, which its own lines already show)."""
    return pl.DataFrame(
        {
            "as_of_day": [day] * len(texts),
            "rank": list(range(1, len(texts) + 1)),
            "text": texts,
            "source": list(sources),
            "topic": list(topics),
        },
        schema={"as_of_day": pl.Date, "rank": pl.Int64, "text": pl.Utf8, "source": pl.Utf8, "topic": pl.Utf8},
    )


@asset(
    key=["insights"],
    group_name="insights",
    partitions_def=as_of_days,
    # Like forecast and anomalies: a backfill is one run over its days (one job, one DuckDB writer).
    backfill_policy=single_run_backfill,
    deps=[AssetKey("forecast_month_end"), AssetKey("manager_anomalies"), AssetKey("mart_plan_fact")],
    description="3-5 recommendations for the head of sales for the as-of day (GPT, or the template without a key).",
    kinds={"python", "openai"},
)
def insights(context: AssetExecutionContext, warehouse: Warehouse, llm: LLMClient) -> MaterializeResult:
    """For each day of the run: collect the facts, write the text, replace that day's rows of ml.insights."""
    sources: dict[str, int] = {}
    last_texts: list[str] = []
    for key in context.partition_keys:
        day = date.fromisoformat(key)
        facts = collect_facts(warehouse, day)
        written = write_insights(llm, facts)
        if written.fallback_reason:
            context.log.info(f"{day}: insights written from the template: {written.fallback_reason}")
        for fact_id, why in written.replaced.items():
            context.log.warning(f"{day}: insight {fact_id!r} written from the template: {why}")
        frame = insights_frame(day, written.texts, written.sources, written.topics)
        warehouse.replace_rows("ml", "insights", frame, where={"as_of_day": day})
        sources[written.source] = sources.get(written.source, 0) + 1
        last_texts = written.texts
    return MaterializeResult(
        metadata={
            "days": len(context.partition_keys),
            "days_by_source": MetadataValue.json(sources),
            "text_of_last_day": MetadataValue.md("\n".join(f"{i}. {t}" for i, t in enumerate(last_texts, 1))),
            **as_of_table_metadata(
                warehouse, "ml", "insights", [date.fromisoformat(k) for k in context.partition_keys]
            ),
        }
    )
