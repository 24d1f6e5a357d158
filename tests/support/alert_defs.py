"""A code location with only the rule-alert sensor, for tests that run it through Dagster's sensor
daemon against a DAGSTER_HOME on disk. Its resources read the environment (TELEGRAM_*, WAREHOUSE_URL),
set by the test before the daemon loads this file."""

from __future__ import annotations

import os

from dagster import Definitions

from resources.telegram import TelegramNotifier
from resources.warehouse import Warehouse
from schedules.sensors import build_sensors

defs = Definitions(
    sensors=[s for s in build_sensors("Europe/Moscow") if s.name == "rule_alerts_to_head_of_sales"],
    resources={"telegram": TelegramNotifier(), "warehouse": Warehouse(url=os.environ["WAREHOUSE_URL"])},
)
