"""1C payments, ad spend (Yandex.Direct, VK Ads), telephony calls and CRM deletions reach the marts.

The hand-made CRM world of test_dbt_models.py plus a few raw rows of the other sources, each figure
below worked out by hand:

- 1C: deal 1 paid 60 000 RUB on Jan 20; deal 2 paid 500 USD on Sat Jan 25 (last CBR rate: Jan 13,
  101.50 -> 50 750.00); deal 4 paid 300 USD on Sat Feb 15 (Feb 14, 97.00 -> 29 100.00).
- Direct, Jan 14: campaign "brand" 1 500.00 RUB (30 clicks, 900 impressions) and "generic" 10 USD
  (the rate of Jan 13, 101.50 -> 1 015.00 RUB); VK, Feb 5: "retarget" 800 RUB, 2 leads counted by VK.
- Lead 6 came from Direct's "brand" on Jan 14 (source UC_YDIRECT, utm yandex/cpc/brand); lead 5 and
  deal 9 (a 10 000 RUB January win of Anna's) were deleted in the CRM.
- Telephony: missed inbound calls from client H1 (Jan 22 10:00, called back 15:00 the same day), H2
  (Jan 23, never called back) and H3 (Jan 24 09:00, called back Jan 25 10:00: 25 hours, too late).
- Alerts and funnel: Boris's open deal 10 (from lead 6, so Direct's) moves Заявка -> Подготовка on Jan 13 and his deal 11 goes Заявка ->
  lost on Feb 3; with the base world's deal 5 (Заявка -> lost, Jan 20) and deal 4 (Заявка ->
  Подготовка, Feb 4), Заявка's exits read: Jan 13 forward, Jan 20 lost, Feb 3 lost, Feb 4 forward.
  VK's February budget is set to 3 000 RUB: 800 spent by Feb 5 against a pace of 3 000 x 5 / 28.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from resources.warehouse import Warehouse
from tests.support.pg import temporary_database
from tests.test_dbt_models import MSK, _deal, create_raw_world, run_dbt_build

EXTRA_TABLES: dict[str, dict[str, str]] = {
    "raw_onec.payments": {
        "payment_number": "text",
        "payment_date": "date",
        "invoice_number": "text",
        "deal_id": "bigint",
        "company_id": "bigint",
        "amount": "numeric(24, 6)",
        "currency": "text",
        "purpose": "text",
    },
    "raw_direct.campaign_stats": {
        '"date"': "date",
        "campaign_id": "bigint",
        "campaign_name": "text",
        "impressions": "bigint",
        "clicks": "bigint",
        "cost": "numeric(24, 6)",
        "currency": "text",
        "client_login": "text",
    },
    "raw_vk.campaign_stats": {
        '"date"': "date",
        "campaign_id": "bigint",
        "campaign_name": "text",
        "shows": "bigint",
        "clicks": "bigint",
        "spent": "numeric(24, 6)",
        "goals": "bigint",
        "currency": "text",
    },
    "raw_telephony.calls": {
        "call_id": "text",
        "started_at": "timestamptz",
        "direction": "text",
        "status": "text",
        "answered": "boolean",
        "duration_sec": "bigint",
        "manager_id": "bigint",
        "manager": "text",
        "client_phone_hash": "text",
        "recording_url": "text",
    },
}
EXTRA_ROWS: dict[str, list[tuple]] = {
    "raw_onec.payments": [
        ("П-1", date(2025, 1, 20), "С-1", 1, 100, 60000, "RUB", "оплата по счёту С-1"),
        ("П-2", date(2025, 1, 25), "С-2", 2, 100, 500, "USD", "оплата по счёту С-2"),
        ("П-3", date(2025, 2, 15), "С-3", 4, 200, 300, "USD", "оплата по счёту С-3"),
    ],
    "raw_direct.campaign_stats": [
        (date(2025, 1, 14), 701, "brand", 900, 30, 1500, "RUB", "demo"),
        (date(2025, 1, 14), 702, "generic", 400, 12, 10, "USD", "demo"),
    ],
    "raw_vk.campaign_stats": [(date(2025, 2, 5), 52, "retarget", 5000, 40, 800, 2, "RUB")],
    "raw_telephony.calls": [
        ("t1", f"2025-01-22T10:00:00{MSK}", "in", "missed", False, 0, 2, "Борис", "H1", None),
        ("t2", f"2025-01-22T15:00:00{MSK}", "out", "answered", True, 120, 2, "Борис", "H1", "https://rec/t2"),
        ("t3", f"2025-01-23T09:00:00{MSK}", "in", "missed", False, 0, 1, "Анна", "H2", None),
        ("t4", f"2025-01-24T09:00:00{MSK}", "in", "missed", False, 0, 1, "Анна", "H3", None),
        ("t5", f"2025-01-25T10:00:00{MSK}", "out", "answered", True, 60, 1, "Анна", "H3", "https://rec/t5"),
    ],
}
LEAD_COLUMNS = (
    "id",
    "title",
    "status_id",
    "status_semantic_id",
    "source_id",
    "assigned_by_id",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "date_create",
    "date_modify",
    "is_deleted",
)
EXTRA_LEADS = [
    (
        "5",
        "Лид 5 (удалён)",
        "NEW",
        "P",
        "WEB",
        "1",
        None,
        None,
        None,
        f"2025-01-14T10:00:00{MSK}",
        f"2025-01-20T10:00:00{MSK}",
        True,
    ),
    (
        "6",
        "Лид 6",
        "NEW",
        "P",
        "UC_YDIRECT",
        "1",
        "yandex",
        "cpc",
        "brand",
        f"2025-01-14T11:00:00{MSK}",
        f"2025-01-14T11:00:00{MSK}",
        False,
    ),
]


def _fill(execute: Callable[[str, list[Any] | None], Any], placeholder: str) -> None:
    create_raw_world(execute, placeholder)
    for qualified, columns in EXTRA_TABLES.items():
        execute(f"create schema if not exists {qualified.split('.')[0]}", None)
        execute(f"create table {qualified} ({', '.join(f'{c} {t}' for c, t in columns.items())})", None)
        for row in EXTRA_ROWS[qualified]:
            marks = ", ".join([placeholder] * len(row))
            execute(f"insert into {qualified} ({', '.join(columns)}) values ({marks})", list(row))
    # The deletion scan's column on the CRM tables, a deleted lead and a deleted won deal.
    for table in ("raw_bitrix24.leads", "raw_bitrix24.deals"):
        execute(f"alter table {table} add column is_deleted boolean", None)
    marks = ", ".join([placeholder] * len(LEAD_COLUMNS))
    for lead in EXTRA_LEADS:
        execute(f"insert into raw_bitrix24.leads ({', '.join(LEAD_COLUMNS)}) values ({marks})", list(lead))
    deleted = _deal(9, 1, 0, "S", "10000", "RUB", f"2025-01-13T10:00:00{MSK}", f"2025-01-16T10:00:00{MSK}", 100)
    deleted["is_deleted"] = True
    opened = {**_deal(10, 2, 1, "P", "1000", "RUB", f"2025-01-09T10:00:00{MSK}", None, 200), "lead_id": "6"}
    lost = _deal(11, 2, 1, "F", "1000", "RUB", f"2025-01-27T10:00:00{MSK}", f"2025-02-03T10:00:00{MSK}", 200, "Дорого")
    for deal in (deleted, {**opened, "is_deleted": False}, {**lost, "is_deleted": False}):
        marks = ", ".join([placeholder] * len(deal))
        execute(f"insert into raw_bitrix24.deals ({', '.join(deal)}) values ({marks})", list(deal.values()))
    moves = [
        ("6", "1", "10", f"2025-01-09T10:00:00{MSK}", "C1:NEW"),
        ("7", "2", "10", f"2025-01-13T10:00:00{MSK}", "C1:PREPARE"),
        ("8", "1", "11", f"2025-01-27T10:00:00{MSK}", "C1:NEW"),
        ("9", "2", "11", f"2025-02-03T10:00:00{MSK}", "C1:LOSE"),
    ]
    for id_, type_id, owner, at, stage in moves:
        execute(
            "insert into raw_bitrix24.stage_history_deals (id, type_id, owner_id, created_time, category_id, stage_id)"
            f" values ({', '.join([placeholder] * 6)})",
            [id_, type_id, owner, at, "1", stage],
        )


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        yield Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    else:
        with temporary_database("rop_sources") as url:
            yield Warehouse(url=url)


def test_payments_ad_spend_calls_and_deletions_reach_the_marts(warehouse: Warehouse, tmp_path: Path) -> None:
    with warehouse.connect() as con:
        if warehouse.kind == "duckdb":
            _fill(lambda sql, params: con.execute(sql, params or []), "?")
        else:
            cur = con.cursor()
            _fill(lambda sql, params: cur.execute(sql, params), "%s")
    build = run_dbt_build(
        warehouse,
        tmp_path,
        dbt_vars={
            "channel_monthly_budget_rub": {"UC_VKADS": 3000},
            "alert_stage_min_exits": 1,
            "bonus_deal_tiers": [{"won_deals": 2, "bonus_rub": 3000}, {"won_deals": 1, "bonus_rub": 1000}],
        },
    )
    assert build.returncode == 0, build.stdout[-4000:]

    def rows(sql: str) -> list[tuple]:
        return warehouse.query(sql).rows()

    # Cash view: payments by the month paid, against the deal's manager and pipeline; the deleted
    # deal 9 is not a sale (Anna's January stays 100 000 + 1 000 USD x 100.00 from two deals).
    cash = rows(
        "select month, manager_id, pipeline_id, round(cast(cash_actual_rub as numeric), 2) as cash,"
        " round(cast(actual_rub as numeric), 2) as actual, won_count from marts.mart_plan_fact"
        " where cash_actual_rub is not null order by 1, 2, 3"
    )
    assert [(m, mg, p, float(c), float(a), n) for m, mg, p, c, a, n in cash] == [
        (date(2025, 1, 1), 1, 0, 110750.0, 200000.0, 2),
        (date(2025, 2, 1), 2, 1, 29100.0, 48548.5, 1),
    ]
    daily = rows(
        "select day, round(cast(sum(payments_rub) as numeric), 2) as paid from marts.mart_revenue_daily"
        " where payments_rub > 0 group by day order by day"
    )
    assert [(d, float(v)) for d, v in daily] == [
        (date(2025, 1, 20), 60000.0),
        (date(2025, 1, 25), 50750.0),
        (date(2025, 2, 15), 29100.0),
    ]

    # One source of truth: VK counted 2 leads in February, Direct counts none; 4 + lead 6 CRM leads in
    # January (the deleted lead 5 is gone); 1C's payments beside the CRM's wins.
    recon = rows(
        "select month, ad_platform_leads, crm_leads, payments_count,"
        " round(cast(payments_rub as numeric), 2) as paid from marts.mart_reconciliation order by month"
    )
    assert [(m, a, c, n, float(p) if p is not None else None) for m, a, c, n, p in recon] == [
        (date(2025, 1, 1), None, 5, 2, 110750.0),
        (date(2025, 2, 1), 2, 0, 1, 29100.0),
    ]

    # Channel economics: Direct's spend meets lead 6 on channel and UTM tags; USD spend in rubles.
    channel = rows(
        "select channel, utm_campaign, round(cast(spend_rub as numeric), 2) as spend, clicks, leads,"
        " round(cast(cpl_rub as numeric), 2) as cpl from marts.mart_channel"
        " where spend_rub is not null order by day, utm_campaign"
    )
    assert [(c, u, float(s), k, n, float(cpl) if cpl is not None else None) for c, u, s, k, n, cpl in channel] == [
        ("UC_YDIRECT", "brand", 1500.0, 30, 1, 1500.0),
        ("UC_YDIRECT", "generic", 1015.0, 12, 0, None),
        ("UC_VKADS", "retarget", 800.0, 40, 0, None),
    ]

    # Missed-call registry from the telephony export (it outranks the CRM's call records): H2 never
    # called back, H3 only after 25 hours; H1 was called back within the day.
    missed = rows("select call_id, client_phone_hash, manager_id from marts.mart_missed_calls order by started_at")
    assert missed == [("telephony:t3", "H2", 1), ("telephony:t4", "H3", 1)]

    # Budget overrun: only VK has a budget; 800 by Feb 5 is over the pace 3 000 x 5 / 28 = 535.71,
    # and nothing was spent before (0 against any pace never fires).
    budget = rows(
        "select day, subject_key, round(cast(value as numeric), 2) as v,"
        " round(cast(usual_value as numeric), 2) as u from marts.mart_alert_facts"
        " where rule = 'budget_overrun' and is_firing order by day"
    )
    assert [(d, k, float(v), float(u)) for d, k, v, u in budget][0] == (date(2025, 2, 5), "UC_VKADS", 800.0, 535.71)
    assert {k for _, k, _, _ in budget} == {"UC_VKADS"}
    assert all(d.month == 2 for d, _, _, _ in budget)

    # Stage conversion drop, on exits: from Jan 20 while the lost exit is in the 7-day window (through
    # Jan 26: 0 of 1 forward against Jan 13's 1 of 1 before), and Feb 3 (0 of 1 against 1 of 2); Feb 4
    # (1 of 2 against 1 of 2) does not, nor Jan 27 - Feb 2 (no exits in the window).
    stages = rows(
        "select day, subject_key, value, usual_value, is_firing from marts.mart_alert_facts"
        " where rule = 'conversion_drop' and subject_type = 'stage' order by day"
    )
    by_day = {d: (k, v, u, f) for d, k, v, u, f in stages}
    assert {d for d, (_, _, _, f) in by_day.items() if f} == {date(2025, 1, d) for d in range(20, 27)} | {
        date(2025, 2, 3)
    }
    assert by_day[date(2025, 2, 3)] == ("1:C1:NEW", 0.0, 50.0, True)
    assert by_day[date(2025, 2, 4)] == ("1:C1:NEW", 50.0, 50.0, False)

    # The funnel by channel: a deal counts under its lead's channel (deal 10 came from Direct's lead 6),
    # else its own source (CALL); the weekday of entering is ISO (Jan 8 2025 a Wednesday).
    funnel = rows(
        "select month, channel, entered_weekday, entered, advanced from marts.mart_funnel"
        " where stage_id = 'C1:NEW' order by month, entered_weekday"
    )
    assert funnel == [
        (date(2025, 1, 1), "CALL", 1, 1, 0),  # deal 11, Mon Jan 27, lost
        (date(2025, 1, 1), "CALL", 3, 1, 0),  # deal 5, Wed Jan 8, lost
        (date(2025, 1, 1), "UC_YDIRECT", 4, 1, 1),  # deal 10, Thu Jan 9, on to Подготовка
        (date(2025, 2, 1), "CALL", 6, 1, 1),  # deal 4, Sat Feb 1, on to Подготовка and won
    ]

    # Bonus tiers by deal count on top of the fulfilment bonus (plan lines: 10 000 from 100 %): Anna's
    # January, 2 won at 80 % -> 0 + 3 000; her February, 1 won at 125 % -> 10 000 + 1 000; Boris's
    # February in Тендеры, 1 won at 97.1 % -> 0 + 1 000.
    bonus = rows(
        "select month, manager_id, pipeline_id, bonus_earned_rub, bonus_tier_rub, bonus_total_rub"
        " from marts.mart_plan_fact where won_count > 0 and manager_id in (1, 2) order by 1, 2, 3"
    )
    assert bonus == [
        (date(2025, 1, 1), 1, 0, 0.0, 3000.0, 3000.0),
        (date(2025, 2, 1), 1, 0, 10000.0, 1000.0, 11000.0),
        (date(2025, 2, 1), 2, 1, 0.0, 1000.0, 1000.0),
    ]

    # Call load by local hour: Boris's Jan 22 (missed at 10, a 2-minute call out at 15), Anna's missed
    # calls at 9 on Jan 23 and 24 and her 1-minute call out at 10 on Jan 25.
    load = rows(
        "select day, manager_id, hour_of_day, calls_out, calls_in, calls_missed, call_minutes"
        " from marts.mart_call_load_hourly order by day, hour_of_day"
    )
    assert load == [
        (date(2025, 1, 22), 2, 10, 0, 1, 1, 0.0),
        (date(2025, 1, 22), 2, 15, 1, 0, 0, 2.0),
        (date(2025, 1, 23), 1, 9, 0, 1, 1, 0.0),
        (date(2025, 1, 24), 1, 9, 0, 1, 1, 0.0),
        (date(2025, 1, 25), 1, 10, 1, 0, 0, 1.0),
    ]
