"""GPT insights over the openai SDK, with an honest fallback to the deterministic template.

The only code that talks to OpenAI (or any OpenAI-compatible endpoint). Settings are read when the
resource is used, not when it is defined, so the key never sits in Dagster's resource config and
the UI never shows it.
"""
from __future__ import annotations

import logging
import os
from typing import Literal

from dagster import ConfigurableResource, get_dagster_logger
from pydantic import BaseModel, Field

from assets.insights.facts import DayFacts
from assets.insights.writer import (
    MIN_RECOMMENDATIONS,
    SYSTEM_PROMPT,
    facts_prompt,
    parse_recommendations,
    template_recommendations,
)

DEFAULT_MODEL = "gpt-4o"


class WrittenInsights(BaseModel):
    """The day's recommendations and where they came from (shown to the user as `source`)."""

    texts: list[str]
    source: Literal["openai", "template"]
    model: str | None = None
    fallback_reason: str | None = Field(default=None, description="why the template was used, if it was")


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


class InsightWriter(ConfigurableResource):
    """Writes the recommendations with GPT; without a key, or when the call fails, uses the template.

    Every field left empty falls back to its environment variable at run time:
    api_key ← OPENAI_API_KEY, base_url ← OPENAI_BASE_URL, model ← OPENAI_MODEL (default gpt-4o).
    """

    api_key: str | None = None
    base_url: str | None = None
    model: str | None = None
    timeout_seconds: float = 30.0
    max_retries: int = 1
    temperature: float = 0.3

    @property
    def resolved_model(self) -> str:
        return self.model or _env("OPENAI_MODEL") or DEFAULT_MODEL

    def _key(self) -> str | None:
        return self.api_key or _env("OPENAI_API_KEY")

    @property
    def enabled(self) -> bool:
        return self._key() is not None

    def _log(self) -> logging.Logger:
        return get_dagster_logger("insights.llm")

    def write(self, facts: DayFacts) -> WrittenInsights:
        """3-5 recommendations for `facts`; never raises for API trouble (falls back, says why)."""
        key = self._key()
        if key is None:
            reason = "OPENAI_API_KEY is not set"
            self._log().info("insights: %s; using the template text", reason)
            return WrittenInsights(texts=template_recommendations(facts), source="template", fallback_reason=reason)
        try:
            texts = self._ask(key, facts)
        except Exception as exc:  # noqa: BLE001 - any API or network failure means: fall back
            reason = f"{type(exc).__name__}: {str(exc).replace(key, '***')[:300]}"
            self._log().warning("insights: OpenAI call failed (%s); using the template text", reason)
            return WrittenInsights(texts=template_recommendations(facts), source="template", fallback_reason=reason)
        return WrittenInsights(texts=texts, source="openai", model=self.resolved_model)

    def _ask(self, key: str, facts: DayFacts) -> list[str]:
        from openai import OpenAI

        client = OpenAI(
            api_key=key,
            base_url=self.base_url or _env("OPENAI_BASE_URL"),
            timeout=self.timeout_seconds,
            max_retries=self.max_retries,
        )
        try:
            response = client.chat.completions.create(
                model=self.resolved_model,
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": facts_prompt(facts)},
                ],
                temperature=self.temperature,
            )
        finally:
            client.close()
        answer = (response.choices[0].message.content or "") if response.choices else ""
        texts = parse_recommendations(answer)
        if len(texts) < MIN_RECOMMENDATIONS:
            raise ValueError(f"the answer held {len(texts)} recommendations, fewer than {MIN_RECOMMENDATIONS}")
        return texts
