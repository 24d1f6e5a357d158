"""The one partitioning of the ML stage: the as-of business day (forecast, anomalies, insights share it).

Backfilling a range of these partitions replays history day by day, which is the forecast's backtest.

The one place that reads settings at import time: the assets that share this partitioning take it
in their decorators, which run when their modules are imported, and a day starts at midnight in
the company's time zone (COMPANY_TIMEZONE); the first day is AS_OF_START_DATE. It is read through load_settings() like everywhere
else, so a bad zone fails the import with the variable's name.
"""

from __future__ import annotations

import warnings

from dagster import BackfillPolicy, BetaWarning, DailyPartitionsDefinition

from resources.settings import load_settings

_settings = load_settings()
# The first as-of day (AS_OF_START_DATE, default 2024-01-01). History earlier than this is only used
# as training data, never as an as-of day; a company with older history sets it earlier to backtest.
AS_OF_START = _settings.as_of_start_date.isoformat()

as_of_days = DailyPartitionsDefinition(
    start_date=AS_OF_START,
    # end_offset=1: today's partition exists, so the 06:00 forecast is "as of today so far".
    end_offset=1,
    timezone=_settings.company_timezone,
)

# A backfill of these partitions runs as ONE run that loops over its days (the assets read the marts
# once), which is what makes `dagster asset materialize --partition-range A...B` work from the CLI.
# Dagster 1.13 still labels the `backfill_policy` parameter beta; we rely on it knowingly, so its
# BetaWarning is silenced here, narrowly, rather than shown on every load of the definitions.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy`", category=BetaWarning)
single_run_backfill = BackfillPolicy.single_run()
