"""Insights stage: the day's facts -> 3-5 recommendations (GPT or template) in ml.insights."""

from __future__ import annotations

from dagster import Definitions


def build_defs() -> Definitions:
    """The stage's assets (resources `warehouse` and `llm` come from definitions.py)."""
    from assets.insights.assets import insights

    return Definitions(assets=[insights])
