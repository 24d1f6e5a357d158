"""Ad-cabinet statistics derived from the demo world: Yandex.Direct and VK Ads spend by campaign and day.

Deterministic: clicks and impressions follow the leads each campaign brought that day (the leads'
UTM_SOURCE/UTM_CAMPAIGN), with a seeded per-(campaign, day) stream for the noise, so the ad spend
and the CRM's funnel tell one story. Direct costs are in the login's currency (RUB), VK's in the
account's (RUB); neither platform sends a currency column.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta
from typing import Any

from demo.world import World
from demo.world.channel_events import SPEND_FACTOR

DIRECT_LOGIN = "demo-sales-direct"
DIRECT_CURRENCY = "RUB"
VK_CURRENCY = "RUB"
# (campaign id, UTM_CAMPAIGN, base cost per click)
DIRECT_CAMPAIGNS: tuple[tuple[int, str, float], ...] = (
    (70100001, "brand_search", 18.0),
    (70100002, "crm_search", 64.0),
    (70100003, "retarget_rsya", 22.0),
    (70100004, "competitors", 85.0),
)
VK_CAMPAIGNS: tuple[tuple[int, str, float], ...] = (
    (5200001, "lookalike_b2b", 31.0),
    (5200002, "retarget_site", 19.0),
    (5200003, "lead_forms", 42.0),
)


def _days(world: World) -> list[date]:
    return [world.start + timedelta(days=i) for i in range((world.today - world.start).days + 1)]


def _leads_by(world: World, utm_source: str) -> Counter:
    return Counter(
        (lead["DATE_CREATE"][:10], lead["UTM_CAMPAIGN"]) for lead in world.leads if lead.get("UTM_SOURCE") == utm_source
    )


def spend_factors(world: World, channel: str) -> dict[str, float]:
    """Day -> cost multiplier of `channel`'s cabinet on the world's overspending days (its ground truth:
    every calendar day from an event's first to its last truth row, the weekend between included)."""
    spans: dict[str, tuple[str, str, float]] = {}
    for row in world.anomalies:
        factor = SPEND_FACTOR.get(row.get("kind") or "")
        if factor is None or row.get("subject_id") != channel:
            continue
        first, last, _ = spans.get(row["event"], (row["day"], row["day"], factor))
        spans[row["event"]] = (min(first, row["day"]), max(last, row["day"]), factor)
    out: dict[str, float] = {}
    for first, last, factor in spans.values():
        day = date.fromisoformat(first)
        while day.isoformat() <= last:
            out[day.isoformat()] = factor
            day += timedelta(days=1)
    return out


def direct_stats(world: World) -> list[dict[str, Any]]:
    """Rows {Date, CampaignId, CampaignName, Impressions, Clicks, Cost} (Cost in rubles, 2 decimals)."""
    leads = _leads_by(world, "yandex")
    factors = spend_factors(world, "UC_YDIRECT")
    rows = []
    for day in _days(world):
        for cid, name, cpc in DIRECT_CAMPAIGNS:
            rng = random.Random(f"{world.seed}:direct:{cid}:{day.isoformat()}")
            n = leads[(day.isoformat(), name)]
            clicks = n * rng.randint(12, 30) + rng.randint(3, 40)
            rows.append(
                {
                    "Date": day.isoformat(),
                    "CampaignId": cid,
                    "CampaignName": name,
                    "Impressions": clicks * rng.randint(15, 60),
                    "Clicks": clicks,
                    "Cost": round(clicks * cpc * rng.uniform(0.8, 1.2) * factors.get(day.isoformat(), 1.0), 2),
                }
            )
    return rows


def vk_stats(world: World) -> list[dict[str, Any]]:
    """Rows {date, id, name, shows, clicks, spent, goals} (spent in rubles, 2 decimals)."""
    leads = _leads_by(world, "vk")
    factors = spend_factors(world, "UC_VKADS")
    rows = []
    for day in _days(world):
        for cid, name, cpc in VK_CAMPAIGNS:
            rng = random.Random(f"{world.seed}:vk:{cid}:{day.isoformat()}")
            n = leads[(day.isoformat(), name)]
            clicks = n * rng.randint(15, 40) + rng.randint(0, 25)
            rows.append(
                {
                    "date": day.isoformat(),
                    "id": cid,
                    "name": name,
                    "shows": clicks * rng.randint(40, 120),
                    "clicks": clicks,
                    "spent": round(clicks * cpc * rng.uniform(0.8, 1.25) * factors.get(day.isoformat(), 1.0), 2),
                    "goals": n,
                }
            )
    return rows
