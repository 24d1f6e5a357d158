"""The M world's warehouse for the anomaly benchmark: the marts the anomaly model reads, built by dbt.

The demo world (seed 42) goes straight into raw_bitrix24 with dlt's names (benchmarks/dbt_build.py),
its ad cabinets' statistics (demo.marketing, the rows the Direct and VK portals serve) into
raw_direct / raw_vk with the ingest's column names, then `dbt run` builds what the model reads.
A built file is kept in the cache folder and reused (delete it to build again).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from benchmarks.dbt_build import _write_table, load_direct, run_dbt

DBT_SELECT = ["+mart_manager_daily", "+mart_channel"]
LOAD_ID = "1700000000.000000"


def build(cache: Path, size: str, today: date) -> Path:
    """The world of `size` through `today` in a DuckDB file with the anomaly model's marts."""
    import duckdb

    from demo import marketing
    from demo.world import generate

    path = cache / f"anomalies_{size}_{today.isoformat()}.duckdb"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    load_direct(size, today.isoformat(), tmp)  # type: ignore[arg-type]
    world = generate(size, today, 42)  # type: ignore[arg-type]
    direct = [
        {
            "date": r["Date"],
            "campaign_id": r["CampaignId"],
            "campaign_name": r["CampaignName"],
            "impressions": r["Impressions"],
            "clicks": r["Clicks"],
            "cost": r["Cost"],
            "currency": marketing.DIRECT_CURRENCY,
            "client_login": marketing.DIRECT_LOGIN,
        }
        for r in marketing.direct_stats(world)
    ]
    vk = [
        {
            "date": r["date"],
            "campaign_id": r["id"],
            "campaign_name": r["name"],
            "shows": r["shows"],
            "clicks": r["clicks"],
            "spent": r["spent"],
            "goals": r["goals"],
            "currency": marketing.VK_CURRENCY,
        }
        for r in marketing.vk_stats(world)
    ]
    con = duckdb.connect(str(tmp))
    try:
        _write_table(con, "raw_bitrix24.stage_history_deals", world.stage_history_deals, LOAD_ID)
        _write_table(con, "raw_direct.campaign_stats", direct, LOAD_ID)
        _write_table(con, "raw_vk.campaign_stats", vk, LOAD_ID)
    finally:
        con.close()
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
