"""Month-end forecast stage: pure model in `model`, the partitioned asset in `assets`.

Importing the package loads nothing heavy; Prophet and CatBoost load when a forecast is fitted.
"""

from __future__ import annotations

from dagster import Definitions


def build_defs() -> Definitions:
    """The forecast stage's assets (no resources: definitions.py supplies `warehouse`)."""
    from assets.forecast.assets import forecast_month_end

    return Definitions(assets=[forecast_month_end])
