"""The rest of a demo world's sources, written straight into raw_* for the report's test world.

benchmarks.dbt_build.load_direct writes the CRM, the plan and the CBR rates; the funnel, channel and
finance pages also need the deals' stage history, the ad cabinets' statistics and 1C's invoices and
payments. They come from the same generated world (demo/world, demo/marketing, demo/finance), under
the column names their dlt sources give the raw tables, every value as text as load_direct does.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from benchmarks.dbt_build import _write_table
from demo.finance import invoices_and_payments
from demo.marketing import DIRECT_CURRENCY, DIRECT_LOGIN, VK_CURRENCY, direct_stats, vk_stats
from demo.world import generate

LOAD_ID = "1700000001.000000"


def load_report_extras(size: str, today: date, duckdb_path: Path) -> None:
    """raw_bitrix24.stage_history_deals, raw_direct / raw_vk campaign_stats, raw_onec invoices / payments."""
    world = generate(size, today, 42)  # type: ignore[arg-type]
    invoices, payments = invoices_and_payments(world)
    direct = [
        {
            "date": r["Date"],
            "campaign_id": r["CampaignId"],
            "campaign_name": r["CampaignName"],
            "impressions": r["Impressions"],
            "clicks": r["Clicks"],
            "cost": r["Cost"],
            "currency": DIRECT_CURRENCY,
            "client_login": DIRECT_LOGIN,
        }
        for r in direct_stats(world)
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
            "currency": VK_CURRENCY,
        }
        for r in vk_stats(world)
    ]
    con = duckdb.connect(str(duckdb_path))
    try:
        for qualified, records in (
            ("raw_bitrix24.stage_history_deals", world.stage_history_deals),
            ("raw_direct.campaign_stats", direct),
            ("raw_vk.campaign_stats", vk),
            ("raw_onec.invoices", invoices),
            ("raw_onec.payments", payments),
        ):
            _write_table(con, qualified, records, LOAD_ID)
    finally:
        con.close()
