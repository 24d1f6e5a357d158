"""Manager anomaly stage: pure model in `model`, the partitioned asset in `assets`.

Importing the package loads nothing heavy; pyod and scikit-learn load when a day is scored.
"""

from __future__ import annotations

from dagster import Definitions


def build_defs() -> Definitions:
    """The anomaly stage's assets (no resources: definitions.py supplies `warehouse`)."""
    from assets.anomalies.assets import manager_anomalies

    return Definitions(assets=[manager_anomalies])
