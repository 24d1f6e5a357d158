"""Who phrases the day's recommendations: GPT, fact by fact, when it is configured and stays grounded.

The decision lives here, beside the prompt and the template, so the LLM resource stays a plain client
and the head of sales always gets 3-5 recommendations. GPT phrases each fact item (writer.fact_items)
under its id; an item it skipped, or phrased with a number or name not in that item's facts
(grounding.ungrounded), gets its template text instead, and the reason is logged. `sources` says,
per recommendation, which path wrote it.
"""

from __future__ import annotations

from typing import Literal

from dagster import get_dagster_logger
from pydantic import BaseModel, Field

from assets.insights.facts import DayFacts
from assets.insights.grounding import ungrounded
from assets.insights.writer import (
    FILLER_TOPIC,
    MAX_RECOMMENDATIONS,
    MIN_RECOMMENDATIONS,
    SYSTEM_PROMPT,
    clean_recommendations,
    fact_items,
    facts_header,
    facts_prompt,
    fillers,
    template_items,
)
from resources.llm import LLMClient, LLMError

Source = Literal["openai", "template"]


class PhrasedInsight(BaseModel):
    """One fact item phrased by GPT."""

    fact_id: str = Field(description="the item's id, as in square brackets in the facts")
    text: str = Field(description="the recommendation: what happened, to whom, how much, one action today")


class PhrasedInsights(BaseModel):
    """The shape GPT must answer in (structured output)."""

    insights: list[PhrasedInsight] = Field(min_length=1, max_length=MAX_RECOMMENDATIONS)


class WrittenInsights(BaseModel):
    """The day's recommendations and, for each, where it came from (shown to the user as `source`)."""

    texts: list[str]
    sources: list[Source]
    topics: list[str] = Field(default_factory=list, description="each text's fact item (writer.fact_items keys)")
    model: str | None = None
    fallback_reason: str | None = Field(default=None, description="why the template was used for all, if it was")
    replaced: dict[str, str] = Field(
        default_factory=dict, description="fact id -> why GPT's phrasing of it was replaced by the template"
    )

    @property
    def source(self) -> Source:
        """'openai' when GPT wrote every recommendation, else 'template'."""
        return "openai" if self.sources and set(self.sources) == {"openai"} else "template"


def _all_template(facts: DayFacts, reason: str) -> WrittenInsights:
    items = template_items(facts)
    return WrittenInsights(
        texts=[text for _, text in items],
        sources=["template"] * len(items),
        topics=[topic for topic, _ in items],
        fallback_reason=reason,
    )


def write_insights(llm: LLMClient, facts: DayFacts) -> WrittenInsights:
    """3-5 recommendations for `facts`; never raises for API trouble (falls back to the template, says why)."""
    log = get_dagster_logger("insights")
    if not llm.available:
        reason = "OPENAI_API_KEY is not set"
        log.info("insights: %s; using the template text", reason)
        return _all_template(facts, reason)
    try:
        answer = llm.complete(SYSTEM_PROMPT, facts_prompt(facts), PhrasedInsights)
    except LLMError as exc:
        reason = str(exc)
        log.warning("insights: the OpenAI call failed (%s); using the template text", reason)
        return _all_template(facts, reason)

    phrased: dict[str, str] = {}
    for item in answer.insights:
        cleaned = clean_recommendations([item.text])
        if cleaned and item.fact_id not in phrased:
            phrased[item.fact_id] = cleaned[0]
    header = facts_header(facts)
    texts: list[str] = []
    sources: list[Source] = []
    replaced: dict[str, str] = {}
    topics = [fact.key for fact in fact_items(facts)]
    for fact in fact_items(facts):
        answer_text = phrased.get(fact.key)
        why = (
            "GPT did not phrase it"
            if answer_text is None
            else ungrounded(answer_text, "\n".join([header, *fact.lines]))
        )
        if answer_text is None or why is not None:
            replaced[fact.key] = why or ""
            log.warning("insights: fact %s: %s; its template text is used", fact.key, why)
            texts.append(fact.template)
            sources.append("template")
        else:
            texts.append(answer_text)
            sources.append("openai")
    for filler in fillers(facts):
        if len(texts) >= MIN_RECOMMENDATIONS:
            break
        texts.append(filler)
        sources.append("template")
        topics.append(FILLER_TOPIC)
    return WrittenInsights(
        texts=texts[:MAX_RECOMMENDATIONS],
        sources=sources[:MAX_RECOMMENDATIONS],
        topics=topics[:MAX_RECOMMENDATIONS],
        model=llm.resolved_model,
        replaced=replaced,
    )
