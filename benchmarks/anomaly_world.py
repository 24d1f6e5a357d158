"""The M world's warehouse for the anomaly benchmark: the marts the anomaly model reads, built by dbt.

The demo world (seed 42) goes straight into raw_bitrix24 with dlt's names (benchmarks/dbt_build.py),
its other sources (stage history, ad cabinets, 1C: `load_extras`) beside it, then `dbt run` builds what the model reads.
A built file is kept in the cache folder and reused (delete it to build again).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from benchmarks.dbt_build import load_direct, load_extras, run_dbt

DBT_SELECT = ["+mart_manager_daily", "+mart_channel", "+mart_stage_exits"]


def build(cache: Path, size: str, today: date) -> Path:
    """The world of `size` through `today` in a DuckDB file with the anomaly model's marts."""
    path = cache / f"anomalies_{size}_{today.isoformat()}.duckdb"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    load_direct(size, today.isoformat(), tmp)  # type: ignore[arg-type]
    load_extras(size, today.isoformat(), tmp)  # type: ignore[arg-type]
    env = {
        **os.environ,
        "DBT_TARGET": "duckdb",
        "DUCKDB_PATH": str(tmp),
        "COMPANY_TIMEZONE": "Europe/Moscow",
        "COMPANY_CRM": "bitrix24",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    run_dbt("run", env, cache / f"target_{size}", "--select", *DBT_SELECT)
    tmp.rename(path)
    return path
