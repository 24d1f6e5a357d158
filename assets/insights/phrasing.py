"""Who phrases the day's recommendations: GPT when it is configured and answers, else the template.

The decision lives here, beside the prompt and the template, so the LLM resource stays a plain client
and the head of sales always gets 3-5 recommendations, with `source` saying which path wrote them.
"""

from __future__ import annotations

from typing import Literal

from dagster import get_dagster_logger
from pydantic import BaseModel, Field

from assets.insights.facts import DayFacts
from assets.insights.writer import (
    MAX_RECOMMENDATIONS,
    MIN_RECOMMENDATIONS,
    SYSTEM_PROMPT,
    clean_recommendations,
    facts_prompt,
    template_recommendations,
)
from resources.llm import LLMClient, LLMError


class Recommendations(BaseModel):
    """The shape GPT must answer in (structured output)."""

    recommendations: list[str] = Field(
        min_length=MIN_RECOMMENDATIONS,
        description=f"{MIN_RECOMMENDATIONS}-{MAX_RECOMMENDATIONS} recommendations for today, one per item",
    )


class WrittenInsights(BaseModel):
    """The day's recommendations and where they came from (shown to the user as `source`)."""

    texts: list[str]
    source: Literal["openai", "template"]
    model: str | None = None
    fallback_reason: str | None = Field(default=None, description="why the template was used, if it was")


def write_insights(llm: LLMClient, facts: DayFacts) -> WrittenInsights:
    """3-5 recommendations for `facts`; never raises for API trouble (falls back to the template, says why)."""
    log = get_dagster_logger("insights")
    if not llm.available:
        reason = "OPENAI_API_KEY is not set"
        log.info("insights: %s; using the template text", reason)
        return WrittenInsights(texts=template_recommendations(facts), source="template", fallback_reason=reason)
    try:
        answer = llm.complete(SYSTEM_PROMPT, facts_prompt(facts), Recommendations)
        texts = clean_recommendations(answer.recommendations)
        if len(texts) < MIN_RECOMMENDATIONS:
            raise LLMError(f"the answer held {len(texts)} recommendations, fewer than {MIN_RECOMMENDATIONS}")
    except LLMError as exc:
        reason = str(exc)
        log.warning("insights: the OpenAI call failed (%s); using the template text", reason)
        return WrittenInsights(texts=template_recommendations(facts), source="template", fallback_reason=reason)
    return WrittenInsights(texts=texts, source="openai", model=llm.resolved_model)
