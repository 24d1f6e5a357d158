"""Month-end forecast stage: pure model in `model` (parts in `pipeline`, weights in `calibration`,
scoring in `accuracy`), the partitioned assets (forecast, its accuracy) in `assets`; the current
week's forecast in `week` (its asset in `week_asset`).

Importing the package loads nothing heavy; Prophet and CatBoost load when a forecast is fitted.
"""

from __future__ import annotations

from dagster import Definitions


def build_defs() -> Definitions:
    """The forecast stage's assets and the checks on the forecast (no resources: definitions.py supplies `warehouse`)."""
    from assets.forecast.assets import forecast_accuracy, forecast_month_end
    from assets.forecast.checks import CHECKS, WEEK_CHECKS
    from assets.forecast.week_asset import forecast_week

    return Definitions(assets=[forecast_month_end, forecast_accuracy, forecast_week], asset_checks=CHECKS + WEEK_CHECKS)
