"""Anomaly stage: the subjects' daily KPIs in `kpis`, the pure robust model in `model`, the
partitioned asset in `assets` and its checks in `checks`.

Importing the package loads nothing heavy.
"""

from __future__ import annotations

from dagster import Definitions


def build_defs() -> Definitions:
    """The anomaly stage's asset and its checks (no resources: definitions.py supplies `warehouse`)."""
    from assets.anomalies.assets import manager_anomalies
    from assets.anomalies.checks import CHECKS

    return Definitions(assets=[manager_anomalies], asset_checks=CHECKS)
