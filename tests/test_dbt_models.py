"""The dbt models turn a small hand-made raw world into the marts' figures a head of sales reads.

The raw tables imitate what dlt loads from Bitrix24 (lower-cased keys, string values, ISO times
as timestamptz), the plan sheet and CBR rates. Every expected figure below is worked out by hand
from that world, and the same build must give the same figures on DuckDB and on PostgreSQL.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from resources.warehouse import Warehouse
from tests.support.dbt import dbt
from tests.support.pg import temporary_database

ROOT = Path(__file__).resolve().parent.parent

# --- the hand-made raw world ---------------------------------------------------------------
# Departments 10 and 20 under the company (1); Anna (1) and Vera (3, inactive) sell in 10,
# Boris (2) in 20 (listed in 20 and 10: the first listed is his main department).
# Pipeline 0 ("Общая", not listed by crm.category.list) and 1 ("Тендеры").
# USD rates: Jan 10 100.00, Jan 13 101.50, Jan 31 99.00, Feb 1 98.00, Feb 14 97.00;
# CNY: Feb 3 135.50 for 10 yuan.
RAW_TABLES: dict[str, dict[str, str]] = {
    "raw_bitrix24.departments": {"id": "text", "name": "text", "parent": "text"},
    "raw_bitrix24.users": {"id": "text", "name": "text", "last_name": "text", "active": "boolean"},
    "raw_bitrix24.users__uf_department": {"value": "bigint", "_dlt_list_idx": "bigint"},
    "raw_bitrix24.pipelines": {"id": "bigint", "name": "text", "sort": "bigint"},
    "raw_bitrix24.stages": {
        "entity_id": "text",
        "status_id": "text",
        "name": "text",
        "sort": "text",
        "semantics": "text",
        "category_id": "text",
    },
    "raw_bitrix24.deals": {
        "id": "text",
        "title": "text",
        "category_id": "text",
        "stage_id": "text",
        "stage_semantic_id": "text",
        "opportunity": "text",
        "currency_id": "text",
        "assigned_by_id": "text",
        "lead_id": "text",
        "source_id": "text",
        "closed": "text",
        "date_create": "timestamptz",
        "date_modify": "timestamptz",
        "closedate": "timestamptz",
        "company_id": "text",
        "uf_crm_lost_reason": "text",
    },
    "raw_bitrix24.leads": {
        "id": "text",
        "title": "text",
        "status_id": "text",
        "status_semantic_id": "text",
        "source_id": "text",
        "assigned_by_id": "text",
        "utm_source": "text",
        "utm_medium": "text",
        "utm_campaign": "text",
        "date_create": "timestamptz",
        "date_modify": "timestamptz",
    },
    "raw_bitrix24.activities": {
        "id": "text",
        "type_id": "text",
        "direction": "text",
        "completed": "text",
        "responsible_id": "text",
        "owner_type_id": "text",
        "owner_id": "text",
        "provider_id": "text",
        "created": "timestamptz",
        "start_time": "timestamptz",
        "end_time": "timestamptz",
        "deadline": "timestamptz",
    },
    "raw_bitrix24.stage_history_deals": {
        "id": "text",
        "type_id": "text",
        "owner_id": "text",
        "created_time": "timestamptz",
        "category_id": "text",
        "stage_semantic_id": "text",
        "stage_id": "text",
    },
    "raw_plan.plan": {
        "month": "text",
        "manager_id": "bigint",
        "pipeline_id": "bigint",
        "amount_rub": "numeric(38, 9)",
        "deal_count": "bigint",
        "bonus_threshold_pct": "numeric(38, 9)",
        "bonus_rub": "numeric(38, 9)",
    },
    "raw_cbr.rates": {"date": "date", "char_code": "text", "nominal": "bigint", "value": "numeric(38, 9)"},
}

MSK = "+03:00"


def _deal(
    id_: int,
    manager: int,
    pipeline: int,
    semantic: str,
    amount: str,
    currency: str,
    created: str,
    closed: str | None,
    company: int | None = None,
    lost_reason: str | None = None,
    expected_close: str | None = None,
) -> dict[str, Any]:
    prefix = "" if pipeline == 0 else f"C{pipeline}:"
    stage = {"S": "WON", "F": "LOSE", "P": "NEW"}[semantic]
    return {
        "id": str(id_),
        "title": f"Сделка {id_}",
        "category_id": str(pipeline),
        "stage_id": prefix + stage,
        "stage_semantic_id": semantic,
        "opportunity": amount,
        "currency_id": currency,
        "assigned_by_id": str(manager),
        "lead_id": "1" if id_ == 1 else None,
        "source_id": "CALL",
        "closed": "Y" if semantic in "SF" else "N",
        "date_create": created,
        "date_modify": closed or created,
        # open deals carry the *expected* close date in CLOSEDATE; it must not count as a close
        "closedate": closed or expected_close or f"2025-03-31T00:00:00{MSK}",
        "company_id": str(company) if company else None,
        "uf_crm_lost_reason": lost_reason,
    }


RAW_ROWS: dict[str, list[dict[str, Any]]] = {
    "raw_bitrix24.departments": [
        {"id": "1", "name": "Компания", "parent": None},
        {"id": "10", "name": "Отдел продаж 1", "parent": "1"},
        {"id": "20", "name": "Отдел продаж 2", "parent": "1"},
    ],
    "raw_bitrix24.users": [
        {"id": "1", "name": "Анна", "last_name": "Иванова", "active": True, "_dlt_id": "u1"},
        {"id": "2", "name": "Борис", "last_name": "Петров", "active": True, "_dlt_id": "u2"},
        {"id": "3", "name": "Вера", "last_name": "Сидорова", "active": False, "_dlt_id": "u3"},
    ],
    "raw_bitrix24.users__uf_department": [
        {"value": 10, "_dlt_list_idx": 0, "_dlt_parent_id": "u1"},
        {"value": 20, "_dlt_list_idx": 0, "_dlt_parent_id": "u2"},
        {"value": 10, "_dlt_list_idx": 1, "_dlt_parent_id": "u2"},
        {"value": 10, "_dlt_list_idx": 0, "_dlt_parent_id": "u3"},
    ],
    "raw_bitrix24.pipelines": [{"id": 1, "name": "Тендеры", "sort": 200}],
    "raw_bitrix24.stages": [
        {
            "entity_id": "DEAL_STAGE",
            "status_id": "NEW",
            "name": "Новая",
            "sort": "10",
            "semantics": None,
            "category_id": "0",
        },
        {
            "entity_id": "DEAL_STAGE",
            "status_id": "WON",
            "name": "Успех",
            "sort": "60",
            "semantics": "S",
            "category_id": "0",
        },
        {
            "entity_id": "DEAL_STAGE",
            "status_id": "LOSE",
            "name": "Провал",
            "sort": "70",
            "semantics": "F",
            "category_id": "0",
        },
        {
            "entity_id": "DEAL_STAGE_1",
            "status_id": "C1:NEW",
            "name": "Заявка",
            "sort": "10",
            "semantics": None,
            "category_id": "1",
        },
        {
            "entity_id": "DEAL_STAGE_1",
            "status_id": "C1:PREPARE",
            "name": "Подготовка",
            "sort": "20",
            "semantics": None,
            "category_id": "1",
        },
        {
            "entity_id": "DEAL_STAGE_1",
            "status_id": "C1:WON",
            "name": "Выигран",
            "sort": "60",
            "semantics": "S",
            "category_id": "1",
        },
        {
            "entity_id": "DEAL_STAGE_1",
            "status_id": "C1:LOSE",
            "name": "Проигран",
            "sort": "70",
            "semantics": "F",
            "category_id": "1",
        },
        {
            "entity_id": "STATUS",
            "status_id": "NEW",
            "name": "Не обработан",
            "sort": "10",
            "semantics": None,
            "category_id": None,
        },
        {
            "entity_id": "SOURCE",
            "status_id": "CALL",
            "name": "Звонок",
            "sort": "10",
            "semantics": None,
            "category_id": None,
        },
    ],
    "raw_bitrix24.deals": [
        # Anna, January, pipeline 0: 100 000 RUB + 1 000 USD closed on Sunday Jan 12 (last rate Jan 10: 100)
        # company 100 buys three times: deals 1 and 2 are new (no won deal before their creation),
        # deal 3 (created Jan 20, after deal 2 was won on Jan 12) is a repeat sale
        _deal(1, 1, 0, "S", "100000.00", "RUB", f"2025-01-10T10:00:00{MSK}", f"2025-01-15T10:00:00{MSK}", 100),
        _deal(2, 1, 0, "S", "1000", "USD", f"2025-01-05T10:00:00{MSK}", f"2025-01-12T12:00:00{MSK}", 100),
        # closed 2025-01-31 22:30 UTC = 2025-02-01 01:30 in Moscow: a February sale
        _deal(3, 1, 0, "S", "50000", "RUB", f"2025-01-20T10:00:00{MSK}", "2025-01-31T22:30:00+00:00", 100),
        # Boris, pipeline 1: 500.50 USD won Feb 14 at 97.00 = 48 548.50; a lost January deal ("Дорого")
        _deal(4, 2, 1, "S", "500.50", "USD", f"2025-02-01T10:00:00{MSK}", f"2025-02-14T12:00:00{MSK}", 200),
        _deal(5, 2, 1, "F", "70000", "RUB", f"2025-01-08T10:00:00{MSK}", f"2025-01-20T12:00:00{MSK}", 200, "Дорого"),
        # open CNY deal created Feb 3: 1 000 yuan at 135.50 / 10 = 13 550.00 RUB
        _deal(6, 2, 0, "P", "1000", "CNY", f"2025-02-03T12:00:00{MSK}", None, 200),
        # Vera (inactive), no plan: 20 000 RUB won Jan 20
        _deal(7, 3, 0, "S", "20000", "RUB", f"2025-01-18T10:00:00{MSK}", f"2025-01-20T15:00:00{MSK}", 300),
        # Boris, open 30 000 RUB since Jan 6, expected to close Feb 10: never touched (only an open task)
        _deal(
            8,
            2,
            0,
            "P",
            "30000",
            "RUB",
            f"2025-01-06T10:00:00{MSK}",
            None,
            200,
            expected_close=f"2025-02-10T00:00:00{MSK}",
        ),
    ],
    "raw_bitrix24.leads": [
        {
            "id": "1",
            "title": "Лид 1",
            "status_id": "CONVERTED",
            "status_semantic_id": "S",
            "source_id": "WEB",
            "utm_source": "yandex",
            "utm_medium": "cpc",
            "utm_campaign": "brand",
            "assigned_by_id": "1",
            "date_create": f"2025-01-14T09:00:00{MSK}",
            "date_modify": f"2025-01-14T09:00:00{MSK}",
        },
        {
            "id": "2",
            "title": "Лид 2",
            "status_id": "NEW",
            "status_semantic_id": "P",
            "source_id": "WEB",
            "assigned_by_id": "1",
            # 21:30 UTC on Jan 14 is 00:30 on Jan 15 in Moscow
            "date_create": "2025-01-14T21:30:00+00:00",
            "date_modify": "2025-01-14T21:30:00+00:00",
        },
        # Boris, Thursday Jan 16: a junk lead at 12:00 and an open one at 15:00
        {
            "id": "3",
            "title": "Лид 3",
            "status_id": "JUNK",
            "status_semantic_id": "F",
            "source_id": "WEB",
            "assigned_by_id": "2",
            "date_create": f"2025-01-16T12:00:00{MSK}",
            "date_modify": f"2025-01-16T12:00:00{MSK}",
        },
        {
            "id": "4",
            "title": "Лид 4",
            "status_id": "NEW",
            "status_semantic_id": "P",
            "source_id": "WEB",
            "assigned_by_id": "2",
            "date_create": f"2025-01-16T15:00:00{MSK}",
            "date_modify": f"2025-01-16T15:00:00{MSK}",
        },
    ],
    "raw_bitrix24.activities": [
        # Anna's Jan 15 (Moscow): outgoing call 5.5 min, incoming call 2 min, e-mail, meeting,
        # a task done and a task still open; then an outgoing call at 00:30 Moscow on Jan 16.
        {
            "id": "1",
            "type_id": "2",
            "direction": "2",
            "completed": "Y",
            "responsible_id": "1",
            "owner_type_id": "2",
            "owner_id": "1",
            "created": f"2025-01-15T10:00:00{MSK}",
            "start_time": f"2025-01-15T10:00:00{MSK}",
            "end_time": f"2025-01-15T10:05:30{MSK}",
            "deadline": None,
        },
        {
            "id": "2",
            "type_id": "2",
            "direction": "1",
            "completed": "Y",
            "responsible_id": "1",
            "owner_type_id": "1",
            "owner_id": "2",
            "created": f"2025-01-15T11:00:00{MSK}",
            "start_time": f"2025-01-15T11:00:00{MSK}",
            "end_time": f"2025-01-15T11:02:00{MSK}",
            "deadline": None,
        },
        {
            "id": "3",
            "type_id": "4",
            "direction": "2",
            "completed": "Y",
            "responsible_id": "1",
            "owner_type_id": "2",
            "owner_id": "1",
            "created": f"2025-01-15T12:00:00{MSK}",
            "start_time": f"2025-01-15T12:00:00{MSK}",
            "end_time": f"2025-01-15T12:00:00{MSK}",
            "deadline": None,
        },
        {
            "id": "4",
            "type_id": "1",
            "direction": "2",
            "completed": "Y",
            "responsible_id": "1",
            "owner_type_id": "2",
            "owner_id": "1",
            "created": f"2025-01-14T12:00:00{MSK}",
            "start_time": f"2025-01-15T14:00:00{MSK}",
            "end_time": f"2025-01-15T15:00:00{MSK}",
            "deadline": f"2025-01-15T15:00:00{MSK}",
        },
        {
            "id": "5",
            "type_id": "3",
            "direction": "0",
            "completed": "Y",
            "responsible_id": "1",
            "owner_type_id": "2",
            "owner_id": "1",
            "created": f"2025-01-15T16:00:00{MSK}",
            "start_time": f"2025-01-15T16:00:00{MSK}",
            "end_time": f"2025-01-15T17:00:00{MSK}",
            "deadline": f"2025-01-15T18:00:00{MSK}",
        },
        {
            "id": "6",
            "type_id": "3",
            "direction": "0",
            "completed": "N",
            "responsible_id": "1",
            "owner_type_id": "2",
            "owner_id": "1",
            "created": f"2025-01-15T16:30:00{MSK}",
            "start_time": f"2025-01-15T16:30:00{MSK}",
            "end_time": f"2025-01-16T17:00:00{MSK}",
            "deadline": f"2025-01-16T18:00:00{MSK}",
        },
        {
            "id": "7",
            "type_id": "2",
            "direction": "2",
            "completed": "Y",
            "responsible_id": "1",
            "owner_type_id": "2",
            "owner_id": "1",
            "created": "2025-01-15T21:30:00+00:00",
            "start_time": "2025-01-15T21:30:00+00:00",
            "end_time": "2025-01-15T21:33:00+00:00",
            "deadline": None,
        },
        # Boris: a meeting on Jan 15 (12:00), an open-line chat message on deal 6 on Feb 5, an open task
        # on deal 8 due Jan 20, a missed inbound call about lead 4 on Jan 22
        {
            "id": "11",
            "type_id": "1",
            "direction": "2",
            "completed": "Y",
            "responsible_id": "2",
            "owner_type_id": "2",
            "owner_id": "5",
            "created": f"2025-01-15T12:00:00{MSK}",
            "start_time": f"2025-01-15T12:00:00{MSK}",
            "end_time": f"2025-01-15T13:00:00{MSK}",
            "deadline": None,
        },
        {
            "id": "8",
            "type_id": "6",
            "direction": "2",
            "completed": "Y",
            "responsible_id": "2",
            "owner_type_id": "2",
            "owner_id": "6",
            "provider_id": "IMOPENLINES_SESSION",
            "created": f"2025-02-05T10:00:00{MSK}",
            "start_time": f"2025-02-05T10:00:00{MSK}",
            "end_time": f"2025-02-05T10:00:00{MSK}",
            "deadline": None,
        },
        {
            "id": "10",
            "type_id": "3",
            "direction": "0",
            "completed": "N",
            "responsible_id": "2",
            "owner_type_id": "2",
            "owner_id": "8",
            "created": f"2025-01-06T11:00:00{MSK}",
            "start_time": f"2025-01-06T11:00:00{MSK}",
            "end_time": f"2025-01-20T18:00:00{MSK}",
            "deadline": f"2025-01-20T18:00:00{MSK}",
        },
        {
            "id": "12",
            "type_id": "2",
            "direction": "1",
            "completed": "Y",
            "responsible_id": "2",
            "owner_type_id": "1",
            "owner_id": "4",
            "created": f"2025-01-22T10:00:00{MSK}",
            "start_time": f"2025-01-22T10:00:00{MSK}",
            "end_time": f"2025-01-22T10:00:00{MSK}",
            "deadline": None,
        },
        # Anna answers lead 1 by e-mail 30 minutes after it came (Jan 14 09:30)
        {
            "id": "9",
            "type_id": "4",
            "direction": "2",
            "completed": "Y",
            "responsible_id": "1",
            "owner_type_id": "1",
            "owner_id": "1",
            "created": f"2025-01-14T09:30:00{MSK}",
            "start_time": f"2025-01-14T09:30:00{MSK}",
            "end_time": f"2025-01-14T09:30:00{MSK}",
            "deadline": None,
        },
    ],
    # pipeline 1's stage history: deal 4 Заявка (Sat Feb 1) -> Подготовка (Tue Feb 4) -> won (Feb 14);
    # deal 5 Заявка (Wed Jan 8) -> lost (Jan 20)
    "raw_bitrix24.stage_history_deals": [
        {
            "id": "1",
            "type_id": "1",
            "owner_id": "4",
            "created_time": f"2025-02-01T10:00:00{MSK}",
            "category_id": "1",
            "stage_semantic_id": "P",
            "stage_id": "C1:NEW",
        },
        {
            "id": "2",
            "type_id": "2",
            "owner_id": "4",
            "created_time": f"2025-02-04T10:00:00{MSK}",
            "category_id": "1",
            "stage_semantic_id": "P",
            "stage_id": "C1:PREPARE",
        },
        {
            "id": "3",
            "type_id": "2",
            "owner_id": "4",
            "created_time": f"2025-02-14T12:00:00{MSK}",
            "category_id": "1",
            "stage_semantic_id": "S",
            "stage_id": "C1:WON",
        },
        {
            "id": "4",
            "type_id": "1",
            "owner_id": "5",
            "created_time": f"2025-01-08T10:00:00{MSK}",
            "category_id": "1",
            "stage_semantic_id": "P",
            "stage_id": "C1:NEW",
        },
        {
            "id": "5",
            "type_id": "2",
            "owner_id": "5",
            "created_time": f"2025-01-20T12:00:00{MSK}",
            "category_id": "1",
            "stage_semantic_id": "F",
            "stage_id": "C1:LOSE",
        },
    ],
    "raw_plan.plan": [
        {"month": "2025-01", "manager_id": 1, "pipeline_id": 0, "amount_rub": 250000.0},
        {"month": "2025-02", "manager_id": 1, "pipeline_id": 0, "amount_rub": 40000.0},
        {"month": "2025-01", "manager_id": 2, "pipeline_id": 1, "amount_rub": 100000.0},
        {"month": "2025-02", "manager_id": 2, "pipeline_id": 1, "amount_rub": 50000.0},
        {"month": "2025-02", "manager_id": 2, "pipeline_id": 0, "amount_rub": 0.0},
    ],
    "raw_cbr.rates": [
        {"date": date(2025, 1, 10), "char_code": "USD", "nominal": 1, "value": 100.0},
        {"date": date(2025, 1, 13), "char_code": "USD", "nominal": 1, "value": 101.5},
        {"date": date(2025, 1, 31), "char_code": "USD", "nominal": 1, "value": 99.0},
        {"date": date(2025, 2, 1), "char_code": "USD", "nominal": 1, "value": 98.0},
        {"date": date(2025, 2, 14), "char_code": "USD", "nominal": 1, "value": 97.0},
        {"date": date(2025, 2, 3), "char_code": "CNY", "nominal": 10, "value": 135.5},
    ],
}
for row in RAW_ROWS["raw_plan.plan"]:
    row.update(deal_count=2, bonus_threshold_pct=100.0, bonus_rub=10000.0)

# (month, manager, pipeline) -> (plan, actual, won_count, fulfilment %, colour, remaining), by hand:
EXPECTED_PLAN_FACT = {
    # 100 000 + 1 000 USD x 100.00 = 200 000 of 250 000 = 80 % exactly -> yellow, 50 000 to go
    (date(2025, 1, 1), 1, 0): (250000.0, 200000.0, 2, 80.0, "yellow", 50000.0),
    # the deal closed at 01:30 Moscow on Feb 1: 50 000 of 40 000 = 125 % -> green, nothing to go
    (date(2025, 2, 1), 1, 0): (40000.0, 50000.0, 1, 125.0, "green", 0.0),
    # only a lost deal: 0 % -> red
    (date(2025, 1, 1), 2, 1): (100000.0, 0.0, 0, 0.0, "red", 100000.0),
    # 500.50 USD x 97.00 = 48 548.50 of 50 000 = 97.097 % -> yellow, 1 451.50 to go
    (date(2025, 2, 1), 2, 1): (50000.0, 48548.5, 1, 97.1, "yellow", 1451.5),
    # a zero plan has no fulfilment and no colour
    (date(2025, 2, 1), 2, 0): (0.0, 0.0, 0, None, None, 0.0),
    # a sale without a plan line still counts
    (date(2025, 1, 1), 3, 0): (0.0, 20000.0, 1, None, None, 0.0),
}


def create_raw_world(execute: Callable[[str, list[Any] | None], Any], placeholder: str) -> None:
    """Create and fill the raw_* tables with dlt-like names and types through `execute(sql, params)`."""
    for qualified, columns in RAW_TABLES.items():
        schema = qualified.split(".")[0]
        execute(f"create schema if not exists {schema}", None)
        cols = {**columns, "_dlt_load_id": "text", "_dlt_id": "text"}
        if qualified.endswith("__uf_department"):
            cols["_dlt_parent_id"] = "text"
        execute(f"create table {qualified} ({', '.join(f'{c} {t}' for c, t in cols.items())})", None)
        for i, row in enumerate(RAW_ROWS[qualified]):
            values = {c: row.get(c) for c in cols}
            values["_dlt_load_id"] = "1700000000.0"
            values["_dlt_id"] = row.get("_dlt_id") or f"{qualified}-{i}"
            marks = ", ".join([placeholder] * len(values))
            execute(f"insert into {qualified} ({', '.join(values)}) values ({marks})", list(values.values()))


def load_raw_world(warehouse: Warehouse) -> None:
    """Write the raw world into an empty warehouse (DuckDB file or PostgreSQL database)."""
    with warehouse.connect() as con:
        if warehouse.kind == "duckdb":
            create_raw_world(lambda sql, params: con.execute(sql, params or []), "?")
        else:
            cur = con.cursor()
            create_raw_world(lambda sql, params: cur.execute(sql, params), "%s")


def run_dbt_build(
    warehouse: Warehouse, tmp_path: Path, timezone: str = "Europe/Moscow", dbt_vars: dict[str, Any] | None = None
) -> subprocess.CompletedProcess:
    """`dbt build` the whole project against the warehouse, as a person or CI would (vars as a company sets them)."""
    return dbt(warehouse, tmp_path, "build", dbt_vars=dbt_vars, timezone=timezone, timeout=300)


def plan_fact(warehouse: Warehouse) -> dict[tuple[date, int, int], tuple]:
    rows = warehouse.query(
        "select month, manager_id, pipeline_id, plan_rub, actual_rub, won_count, fulfilment_pct, colour,"
        " remaining_rub, manager_name, department_name, pipeline_name from marts.mart_plan_fact"
    ).rows(named=True)
    return {(r["month"], r["manager_id"], r["pipeline_id"]): r for r in rows}


def assert_marts_match_the_hand_made_world(warehouse: Warehouse) -> None:
    """Every figure a head of sales sees, against the hand calculation above."""
    got = plan_fact(warehouse)
    assert set(got) == set(EXPECTED_PLAN_FACT)
    for key, (plan, actual, won, pct, colour, remaining) in EXPECTED_PLAN_FACT.items():
        row = got[key]
        assert row["plan_rub"] == pytest.approx(plan), key
        assert row["actual_rub"] == pytest.approx(actual), key
        assert row["won_count"] == won, key
        if pct is None:
            assert row["fulfilment_pct"] is None, key
        else:
            assert row["fulfilment_pct"] == pytest.approx(pct, abs=0.005), key
        assert row["colour"] == colour, key
        assert row["remaining_rub"] == pytest.approx(remaining), key
    anna_jan = got[(date(2025, 1, 1), 1, 0)]
    assert (anna_jan["manager_name"], anna_jan["department_name"], anna_jan["pipeline_name"]) == (
        "Анна Иванова",
        "Отдел продаж 1",
        "Общая",
    )
    boris_feb = got[(date(2025, 2, 1), 2, 1)]
    assert (boris_feb["department_name"], boris_feb["pipeline_name"]) == ("Отдел продаж 2", "Тендеры")

    # deals in rubles: last published rate on or before the close day, creation day while open
    deals = {
        r["deal_id"]: r
        for r in warehouse.query(
            "select deal_id, amount_rub, closed_day, is_won, is_closed from intermediate.deal"
        ).rows(named=True)
    }
    assert float(deals[2]["amount_rub"]) == pytest.approx(100000.00)  # Sunday close -> Friday's rate
    assert float(deals[4]["amount_rub"]) == pytest.approx(48548.50)
    assert float(deals[6]["amount_rub"]) == pytest.approx(13550.00)  # open CNY deal, nominal 10
    assert deals[3]["closed_day"] == date(2025, 2, 1)
    assert deals[6]["closed_day"] is None and not deals[6]["is_closed"]  # expected close date is no close

    # daily revenue: dense days x staffed departments, Moscow days, sums to all won deals
    daily = warehouse.query(
        "select day, department_id, won_rub, won_count from marts.mart_revenue_daily order by day, department_id"
    )
    assert daily["day"].min() == date(2025, 1, 5) and daily["day"].max() == date(2025, 2, 14)
    assert daily.height == 41 * 2  # Jan 5 .. Feb 14, departments 10 and 20
    by_key = {(r["day"], r["department_id"]): (r["won_rub"], r["won_count"]) for r in daily.rows(named=True)}
    assert by_key[(date(2025, 1, 31), 10)] == (0.0, 0)
    assert by_key[(date(2025, 2, 1), 10)] == (50000.0, 1)
    assert by_key[(date(2025, 1, 20), 10)] == (20000.0, 1)  # Vera's deal stays in her department
    assert by_key[(date(2025, 2, 14), 20)] == pytest.approx((48548.5, 1))
    assert daily["won_rub"].sum() == pytest.approx(100000 + 100000 + 50000 + 48548.5 + 20000)

    # a manager's day
    md = {
        (r["day"], r["manager_id"]): r
        for r in warehouse.query("select * from marts.mart_manager_daily").rows(named=True)
    }
    jan15 = md[(date(2025, 1, 15), 1)]
    assert {
        k: jan15[k]
        for k in (
            "leads_assigned",
            "deals_created",
            "won_count",
            "calls_out",
            "calls_in",
            "emails",
            "meetings",
            "tasks_done",
            "activities_total",
        )
    } == {
        "leads_assigned": 1,
        "deals_created": 0,
        "won_count": 1,
        "calls_out": 1,
        "calls_in": 1,
        "emails": 1,
        "meetings": 1,
        "tasks_done": 1,
        "activities_total": 5,
    }
    assert jan15["call_minutes"] == pytest.approx(7.5)
    assert jan15["won_rub"] == pytest.approx(100000.0)
    assert md[(date(2025, 1, 14), 1)]["leads_assigned"] == 1
    assert md[(date(2025, 1, 16), 1)]["calls_out"] == 1 and md[(date(2025, 1, 16), 1)]["call_minutes"] == pytest.approx(
        3
    )
    assert md[(date(2025, 2, 10), 1)]["activities_total"] == 0  # a quiet day is a row of zeros
    vera_days = sorted(d for d, m in md if m == 3)  # inactive: only her own span
    assert vera_days == [date(2025, 1, 18), date(2025, 1, 19), date(2025, 1, 20)]
    assert md[(date(2025, 1, 5), 1)]["deals_created"] == 1

    assert_kpi_marts_match_the_hand_made_world(warehouse)


def _rows(warehouse: Warehouse, sql: str) -> list[dict[str, Any]]:
    return warehouse.query(sql).rows(named=True)


def _approx_or_none(value: float | None) -> Any:
    return None if value is None else pytest.approx(value, abs=0.001)


def _z(values: dict[int, float | None], sign: int = 1) -> dict[int, float]:
    """Population z-scores of the known values (unknown -> 0), as the ranking documents them."""
    known = [v for v in values.values() if v is not None]
    mean = sum(known) / len(known)
    sd = (sum((v - mean) ** 2 for v in known) / len(known)) ** 0.5
    return {k: 0.0 if v is None or sd == 0 else sign * (v - mean) / sd for k, v in values.items()}


def assert_kpi_marts_match_the_hand_made_world(warehouse: Warehouse) -> None:
    """docs/KPI.md's KPIs, each against figures worked out by hand from the world above.

    "Today" (var as_of_day unset) is the last day with a CRM event: Friday 2025-02-14.
    """
    # --- manager's day: activity points, index, minutes, response, overdue tasks, call norm
    md = {(r["day"], r["manager_id"]): r for r in _rows(warehouse, "select * from marts.mart_manager_daily")}
    anna15, boris15 = md[(date(2025, 1, 15), 1)], md[(date(2025, 1, 15), 2)]
    # Anna: call out 2 + call in 2 + e-mail 1 + meeting 5 + task done 1 (open task 0) = 11; Boris: meeting 5
    assert (anna15["activity_points"], boris15["activity_points"]) == (11, 5)
    assert anna15["activity_index"] == pytest.approx(100 * 11 / 16)  # 68.75
    assert boris15["activity_index"] == pytest.approx(100 * 5 / 16)  # 31.25
    assert anna15["activity_minutes"] == pytest.approx(5.5 + 2 + 0.5 * 1)  # calls + 0.5 per e-mail
    assert anna15["calls_out_norm"] == 40 and anna15["calls_out_norm_met"] is False
    assert md[(date(2025, 2, 1), 1)]["calls_out_norm_met"] is None  # a Saturday
    assert md[(date(2025, 1, 16), 1)]["tasks_overdue"] == 1  # task 6, due Jan 16, still open
    boris20 = md[(date(2025, 1, 20), 2)]
    assert (boris20["tasks_overdue"], boris20["lost_count"]) == (1, 1)  # deal 8's task; deal 5 lost
    boris22 = md[(date(2025, 1, 22), 2)]
    assert (boris22["calls_in"], boris22["calls_missed"], boris22["activity_points"]) == (1, 1, 0)
    boris_feb5 = md[(date(2025, 2, 5), 2)]
    assert (boris_feb5["messages"], boris_feb5["activity_points"], boris_feb5["activity_index"]) == (1, 1, 100)
    assert boris_feb5["activity_minutes"] == pytest.approx(0.5)
    # response: deal 1 created Jan 10 10:00, first outgoing contact Jan 15 10:00 = 7 200 min;
    # lead 1 at 09:00 answered by e-mail at 09:30; deal 6 (Feb 3 12:00) by chat on Feb 5 10:00 = 2 760
    assert md[(date(2025, 1, 10), 1)]["median_response_minutes"] == pytest.approx(7200)
    assert md[(date(2025, 1, 14), 1)]["median_response_minutes"] == pytest.approx(30)
    assert md[(date(2025, 2, 3), 2)]["median_response_minutes"] == pytest.approx(2760)
    assert md[(date(2025, 1, 15), 1)]["median_response_minutes"] is None  # lead 2 never answered
    assert md[(date(2025, 1, 16), 2)]["leads_assigned"] == 2

    # --- missed-call registry: Boris's missed call about lead 4 (Jan 22) was never returned
    missed = _rows(warehouse, "select * from marts.mart_missed_calls")
    assert [(r["call_id"], r["manager_id"], r["day"], r["client_key"]) for r in missed] == [
        ("bitrix24:12", 2, date(2025, 1, 22), "lead:4")
    ]

    # --- every deal
    deals = {r["deal_id"]: r for r in _rows(warehouse, "select * from marts.mart_deals")}
    assert len(deals) == 8
    assert [d for d in sorted(deals) if deals[d]["is_repeat"]] == [3]  # company 100 won on Jan 12
    assert deals[3]["sale_type"] == "repeat" and deals[1]["sale_type"] == "new"
    assert (deals[1]["cycle_days"], deals[3]["cycle_days"], deals[6]["cycle_days"]) == (5, 12, None)
    # deal 1's last done activity is the 00:30 call of Jan 16 (the open task does not count)
    assert (deals[1]["days_since_last_activity"], deals[1]["days_since_last_call"]) == (29, 29)
    assert (deals[6]["days_since_last_activity"], deals[6]["days_since_last_call"]) == (9, None)
    assert deals[8]["days_since_last_activity"] is None and deals[8]["days_idle"] == 39
    assert deals[5]["lost_reason"] == "Дорого" and deals[1]["lost_reason"] is None
    # revenue follows the lead's channel: deal 1 came from lead 1 (WEB, yandex / cpc / brand)
    assert (deals[1]["channel"], deals[1]["utm_source"], deals[1]["utm_campaign"]) == ("WEB", "yandex", "brand")
    assert deals[5]["channel"] == "CALL"
    assert deals[1]["crm_url"] == "https://demo.bitrix24.ru/crm/deal/details/1/"
    assert (deals[4]["pipeline_name"], deals[4]["stage_name"], deals[4]["manager_name"]) == (
        "Тендеры",
        "Выигран",
        "Борис Петров",
    )
    assert deals[8]["expected_close_day"] == date(2025, 2, 10)

    # --- forgotten / without a task, as of Feb 14
    forgotten = {(r["entity_type"], r["entity_id"]): r for r in _rows(warehouse, "select * from marts.mart_forgotten")}
    assert set(forgotten) == {("lead", 2), ("lead", 4), ("deal", 6), ("deal", 8)}
    want = {  # days idle, forgotten, without a task, overdue tasks
        ("lead", 2): (30, True, True, 0),  # last touched by the inbound call of Jan 15
        ("lead", 4): (23, True, True, 0),  # the missed call of Jan 22
        ("deal", 6): (9, False, True, 0),  # chat on Feb 5: not forgotten, but no task
        ("deal", 8): (39, True, False, 1),  # never touched since Jan 6; its task is overdue
    }
    for key, (idle, is_forgotten, no_task, overdue) in want.items():
        row = forgotten[key]
        assert (row["days_idle"], row["is_forgotten"], row["is_without_task"], row["overdue_tasks"]) == (
            idle,
            is_forgotten,
            no_task,
            overdue,
        ), key
    assert forgotten[("deal", 8)]["amount_rub"] == pytest.approx(30000)
    assert forgotten[("lead", 2)]["threshold_days"] == 3 and forgotten[("deal", 8)]["threshold_days"] == 14
    assert forgotten[("lead", 4)]["crm_url"] == "https://demo.bitrix24.ru/crm/lead/details/4/"

    # --- lost reasons
    lost = _rows(warehouse, "select * from marts.mart_lost_reasons")
    assert [
        (r["month"], r["pipeline_id"], r["lost_reason"], r["lost_count"], r["lost_rub"], r["share_of_lost_pct"])
        for r in lost
    ] == [(date(2025, 1, 1), 1, "Дорого", 1, 70000.0, 100.0)]

    # --- plan-fact additions: average deal size, bonus, roll-ups
    pf = plan_fact_full(warehouse)
    assert pf[(date(2025, 1, 1), 1, 0)]["avg_deal_rub"] == pytest.approx(100000)
    # deal cycle of won deals: Anna's January 5 days (deal 1) and 7 days (deal 2)
    assert (pf[(date(2025, 1, 1), 1, 0)]["median_cycle_days"], pf[(date(2025, 1, 1), 1, 0)]["mean_cycle_days"]) == (
        6.0,
        6.0,
    )
    assert pf[(date(2025, 2, 1), 2, 1)]["median_cycle_days"] == 13.0  # deal 4: Feb 1 -> Feb 14
    assert pf[(date(2025, 1, 1), 2, 1)]["median_cycle_days"] is None  # only a lost deal
    assert {k: r["bonus_earned_rub"] for k, r in pf.items()} == {
        k: (10000.0 if k == (date(2025, 2, 1), 1, 0) else 0.0) for k in pf
    }  # only Anna's 125 % February
    jan = pf[(date(2025, 1, 1), 1, 0)]
    assert (jan["company_plan_rub"], jan["company_actual_rub"]) == (350000.0, 220000.0)
    assert jan["company_fulfilment_pct"] == pytest.approx(62.86)
    assert (jan["department_plan_rub"], jan["department_actual_rub"], jan["department_fulfilment_pct"]) == (
        250000.0,
        220000.0,
        88.0,
    )  # Anna's plan, Anna's + Vera's sales
    assert pf[(date(2025, 2, 1), 2, 1)]["department_fulfilment_pct"] == pytest.approx(97.1)
    assert_manager_roll_ups(pf, MANAGER_MONTHS)
    assert (jan["company_colour"], jan["company_remaining_rub"]) == ("red", 130000.0)  # 62.86 %
    # the pace expected by today (Friday 14 February, a 28-day month: half of it; January is over)
    assert {(k[0], r["expected_pace_pct"]) for k, r in pf.items()} == {
        (date(2025, 1, 1), 100.0),
        (date(2025, 2, 1), 50.0),
    }
    feb_anna, feb_boris = pf[(date(2025, 2, 1), 1, 0)], pf[(date(2025, 2, 1), 2, 1)]
    assert (feb_anna["manager_pace_pct"], feb_anna["manager_pace_colour"]) == (250.0, "green")  # 50 000 / 20 000
    assert feb_boris["manager_pace_pct"] == pytest.approx(194.19)  # 48 548.50 / (50 000 x 1/2)
    assert (jan["manager_pace_pct"], jan["manager_pace_colour"]) == (80.0, "yellow")  # a past month: the whole plan
    assert {(r["plan_red_below_pct"], r["plan_green_from_pct"], r["alert_kpi_deviation_pct"]) for r in pf.values()} == {
        (80.0, 100.0, 10.0)
    }  # dbt_project.yml's vars
    assert all(r["cash_actual_rub"] is None for r in pf.values())  # no 1C yet

    # --- revenue daily: open pipeline of department 20 (deals 5, 8, 4, 6)
    rd = {(r["day"], r["department_id"]): r for r in _rows(warehouse, "select * from marts.mart_revenue_daily")}
    assert (rd[(date(2025, 1, 6), 20)]["open_pipeline_rub"], rd[(date(2025, 1, 6), 20)]["open_deals"]) == (30000.0, 1)
    assert rd[(date(2025, 1, 10), 20)]["open_pipeline_rub"] == pytest.approx(30000 + 70000)
    assert rd[(date(2025, 2, 5), 20)]["open_pipeline_rub"] == pytest.approx(30000 + 48548.5 + 13550)
    assert (rd[(date(2025, 2, 14), 20)]["open_pipeline_rub"], rd[(date(2025, 2, 14), 20)]["open_deals"]) == (
        pytest.approx(30000 + 13550),
        2,
    )
    assert sum(r["payments_rub"] for r in rd.values()) == 0

    # --- same date: Feb 1-14 against Jan 1-14 (deal 1 closed on the 15th does not count)
    sd = {
        (r["scope_type"], r["scope_id"]): r
        for r in _rows(warehouse, "select * from marts.mart_same_date where day = '2025-02-14'")
    }
    company = sd[("company", 0)]
    assert (company["mtd_won_rub"], company["prev_month_won_rub"]) == (pytest.approx(50000 + 48548.5), 100000.0)
    assert company["mom_change_pct"] == pytest.approx(-1.45)
    assert (company["mtd_won_count"], company["prev_month_won_count"]) == (2, 1)
    assert (company["mtd_leads"], company["prev_month_leads"]) == (0, 1)  # lead 2 came on Jan 15 (Moscow)
    assert company["qtd_won_rub"] == pytest.approx(220000 + 98548.5) and company["qoq_change_pct"] is None
    assert company["ytd_won_rub"] == pytest.approx(318548.5) and company["yoy_change_pct"] is None
    anna = sd[("manager", 1)]
    assert (anna["mtd_won_rub"], anna["prev_month_won_rub"], anna["mom_change_pct"]) == (50000.0, 100000.0, -50.0)
    assert sd[("pipeline", 1)]["mtd_leads"] is None

    # --- ranking: parts by hand, z-scores and the weighted sum recomputed here from them
    ranking = {(r["month"], r["manager_id"]): r for r in _rows(warehouse, "select * from marts.mart_manager_ranking")}
    jan1 = date(2025, 1, 1)
    assert {m for (mo, m) in ranking if mo == jan1} == {1, 2, 3}
    parts = {  # fulfilment %, win rate %, average deal, activity index, median response minutes
        1: (80.0, 100.0, 100000.0, 100 * 14 / 19, (7200 + 30) / 2),
        2: (0.0, 0.0, None, 100 * 5 / 19, None),
        3: (None, 100.0, 20000.0, 0.0, None),
    }
    z = [_z({m: p[i] for m, p in parts.items()}, -1 if i == 4 else 1) for i in range(5)]
    weights = (0.30, 0.20, 0.15, 0.20, 0.15)
    for m, p in parts.items():
        row = ranking[(jan1, m)]
        got = (
            row["fulfilment_pct"],
            row["win_rate_pct"],
            row["avg_deal_rub"],
            row["activity_index"],
            row["median_response_minutes"],
        )
        assert list(got) == [_approx_or_none(v) for v in p], m
        assert row["score"] == pytest.approx(sum(w * z[i][m] for i, w in enumerate(weights)), abs=1e-5), m
    assert [ranking[(jan1, m)]["score_rank"] for m in (1, 3, 2)] == [1, 2, 3]
    feb1 = date(2025, 2, 1)
    assert ranking[(feb1, 1)]["repeat_share_pct"] == pytest.approx(100) and ranking[(feb1, 1)]["is_upsell_guru"]
    assert ranking[(feb1, 1)]["badges"] == "Апселл-Гуру"
    assert ranking[(feb1, 1)]["growth_pct"] == pytest.approx(-75)  # 200 000 -> 50 000
    assert not any(r["is_sniper"] or r["is_rocket_growth"] for r in ranking.values())  # < 10 closed; no growth

    # --- funnel from the stage history
    funnel = {(r["month"], r["stage_id"]): r for r in _rows(warehouse, "select * from marts.mart_funnel")}
    assert set(funnel) == {(jan1, "C1:NEW"), (feb1, "C1:NEW"), (feb1, "C1:PREPARE")}
    assert [funnel[(feb1, "C1:NEW")][k] for k in ("entered", "advanced", "conversion_pct", "entered_weekday")] == [
        1,
        1,
        100.0,
        6,
    ]
    assert funnel[(feb1, "C1:NEW")]["median_days_in_stage"] == pytest.approx(3.0)
    assert funnel[(feb1, "C1:PREPARE")]["median_days_in_stage"] == pytest.approx(10 + 2 / 24)
    assert [funnel[(jan1, "C1:NEW")][k] for k in ("entered", "advanced", "conversion_pct", "entered_weekday")] == [
        1,
        0,
        0.0,
        3,
    ]  # lost: no stage after Заявка
    assert funnel[(jan1, "C1:NEW")]["median_days_in_stage"] == pytest.approx(12 + 2 / 24)
    # each exit from a stage on the day it happened: moved on (a later, not-lost stage) or not
    exits = {(r["deal_id"], r["stage_id"]): r for r in _rows(warehouse, "select * from marts.mart_stage_exits")}
    assert {k: (v["exited_day"], v["advanced"], v["stage_name"], v["next_stage_name"]) for k, v in exits.items()} == {
        (4, "C1:NEW"): (date(2025, 2, 4), True, "Заявка", "Подготовка"),
        (4, "C1:PREPARE"): (date(2025, 2, 14), True, "Подготовка", "Выигран"),  # the last open stage: won next
        (5, "C1:NEW"): (date(2025, 1, 20), False, "Заявка", "Подготовка"),  # lost straight from Заявка
    }
    assert exits[(4, "C1:NEW")]["manager_id"] == 2 and exits[(4, "C1:NEW")]["pipeline_id"] == 1

    # --- channels: revenue goes to the lead's channel and UTM
    ch = {
        (r["day"], r["channel"], r["utm_source"], r["utm_campaign"]): r
        for r in _rows(warehouse, "select * from marts.mart_channel")
    }
    assert len(ch) == 8
    brand14 = ch[(date(2025, 1, 14), "WEB", "yandex", "brand")]
    assert (brand14["leads"], brand14["leads_won"], brand14["lead_to_won_pct"]) == (1, 1, 100.0)
    brand15 = ch[(date(2025, 1, 15), "WEB", "yandex", "brand")]
    assert (brand15["won_count"], brand15["revenue_rub"]) == (1, 100000.0)
    assert (brand15["spend_rub"], brand15["cpl_rub"], brand15["cpa_rub"], brand15["romi_pct"]) == (None,) * 4
    web16 = ch[(date(2025, 1, 16), "WEB", "(none)", "(none)")]
    assert (web16["leads"], web16["lead_to_won_pct"]) == (2, 0.0)
    assert ch[(date(2025, 1, 12), "CALL", "(none)", "(none)")]["revenue_rub"] == pytest.approx(100000)

    # --- reconciliation: ad platforms and 1C are null until their sources land
    rec = {r["month"]: r for r in _rows(warehouse, "select * from marts.mart_reconciliation")}
    assert [(rec[jan1][k]) for k in ("crm_leads", "crm_won_count", "crm_won_rub", "lead_to_won_pct")] == [
        4,
        3,
        220000.0,
        75.0,
    ]
    assert [(rec[feb1][k]) for k in ("crm_leads", "crm_won_count", "crm_won_rub", "lead_to_won_pct")] == [
        0,
        2,
        pytest.approx(98548.5),
        None,
    ]
    assert rec[jan1]["ad_platform_leads"] is None and rec[jan1]["payments_rub"] is None
    # lead conversion (cohort): of January's 4 leads, lead 1 became deal 1
    assert (rec[jan1]["crm_leads_converted"], rec[jan1]["lead_conversion_pct"]) == (1, 25.0)

    # --- alert inputs
    alerts = {
        (r["day"], r["rule"], r["subject_type"], r["subject_id"]): r
        for r in _rows(warehouse, "select * from marts.mart_alert_facts")
    }

    def alert(day: date, rule: str, subject_type: str, subject_id: int) -> tuple:
        r = alerts[(day, rule, subject_type, subject_id)]
        return r["value"], r["usual_value"], r["is_firing"]

    feb14 = date(2025, 2, 14)
    # February plan 90 000 -> pace on the 14th of 28 days: 45 000; actual 98 548.50 (+119 %)
    assert alert(feb14, "kpi_deviation", "company", 0) == (pytest.approx(98548.5), pytest.approx(45000), True)
    assert alerts[(feb14, "kpi_deviation", "company", 0)]["deviation_pct"] == pytest.approx(118.997, abs=0.001)
    # Anna on Jan 15: 200 000 against 250 000 x 15 / 31
    assert alert(date(2025, 1, 15), "kpi_deviation", "manager", 1) == (200000.0, pytest.approx(250000 * 15 / 31), True)
    # department 10 on Jan 20: Anna's 200 000 + Vera's 20 000 against 250 000 x 20 / 31 (+36.4 %)
    assert alerts[(date(2025, 1, 20), "kpi_deviation", "department", 10)]["deviation_pct"] == pytest.approx(36.4)
    # zero activity before 13:00: Anna had 3 on Jan 15 (10:00, 11:00, 12:00), none on Friday Jan 17
    assert alert(date(2025, 1, 15), "zero_activity", "manager", 1) == (3.0, None, False)
    assert alert(date(2025, 1, 17), "zero_activity", "manager", 1) == (0.0, None, True)
    assert (date(2025, 1, 18), "zero_activity", "manager", 1) not in alerts  # Saturday
    # no new leads: Jan 16 leads at 12:00 and 15:00 -> longest gap 3 h; Jan 17 none -> 9 h
    assert alert(date(2025, 1, 16), "no_new_leads", "company", 0) == (3.0, None, False)
    assert alert(date(2025, 1, 17), "no_new_leads", "company", 0) == (9.0, None, True)
    # conversion: Boris won 1 of 1 in the last 7 days against 0 of 1 (deal 5) in the 4 weeks before
    assert alert(feb14, "conversion_drop", "manager", 2) == (100.0, 0.0, False)
    # overdue: Boris's deal 8 (forgotten, expected Feb 10); deal 6 is neither
    assert alert(feb14, "overdue_deals", "manager", 2) == (1.0, None, True)
    assert (feb14, "overdue_deals", "manager", 1) not in alerts
    # how the sensor sends them: the vars alert_cooldown_days, alert_*_min_day_of_month as columns;
    # a day's zero activity is final at 13:00, its lead gap at the end of the working day (18:00)
    sending = {(r["rule"], r["cooldown_days"], r["min_day_of_month"], r["final_from_hour"]) for r in alerts.values()}
    assert sending >= {
        ("kpi_deviation", 14, 10, None),
        ("zero_activity", 1, None, 13),
        ("no_new_leads", 1, None, 18),
        ("overdue_deals", 7, None, None),
        ("conversion_drop", 7, None, None),
        ("budget_overrun", 7, 3, None),
    }
    assert {rule for rule, *_ in sending} == {
        "budget_overrun",
        "kpi_deviation",
        "zero_activity",
        "no_new_leads",
        "overdue_deals",
        "conversion_drop",
    }


# (month, manager) -> (plan, actual, won, fulfilment %, colour, remaining) of the whole month, by hand
# from EXPECTED_PLAN_FACT's lines: what the report shows per manager.
MANAGER_MONTHS = {
    (date(2025, 1, 1), 1): (250000.0, 200000.0, 2, 80.0, "yellow", 50000.0),
    (date(2025, 1, 1), 2): (100000.0, 0.0, 0, 0.0, "red", 100000.0),
    (date(2025, 1, 1), 3): (0.0, 20000.0, 1, None, None, 0.0),  # sold without a plan: no colour
    (date(2025, 2, 1), 1): (40000.0, 50000.0, 1, 125.0, "green", 0.0),
    # Boris's two February lines: 48 548.50 of 50 000 + 0 of 0
    (date(2025, 2, 1), 2): (50000.0, 48548.5, 1, 97.1, "yellow", 1451.5),
}


def assert_manager_roll_ups(
    pf: dict[tuple[date, int, int], dict[str, Any]], expected: dict[tuple[date, int], tuple]
) -> None:
    """Each line carries its manager's month: figures, fulfilment and colour."""
    for (month, manager, _pipeline), row in pf.items():
        plan, actual, won, pct, colour, remaining = expected[(month, manager)]
        got = (
            row["manager_plan_rub"],
            row["manager_actual_rub"],
            row["manager_won_count"],
            row["manager_fulfilment_pct"],
            row["manager_colour"],
            row["manager_remaining_rub"],
        )
        assert got == (
            pytest.approx(plan),
            pytest.approx(actual),
            won,
            _approx_or_none(pct),
            colour,
            pytest.approx(remaining),
        ), (month, manager)


def plan_fact_full(warehouse: Warehouse) -> dict[tuple[date, int, int], dict[str, Any]]:
    return {
        (r["month"], r["manager_id"], r["pipeline_id"]): r
        for r in _rows(warehouse, "select * from marts.mart_plan_fact")
    }


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        yield Warehouse(url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    else:
        with temporary_database(prefix="rop_dbt") as url:
            yield Warehouse(url=url)


def test_dbt_build_gives_the_hand_computed_marts(warehouse: Warehouse, tmp_path: Path) -> None:
    load_raw_world(warehouse)
    result = run_dbt_build(warehouse, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "ERROR=0" in result.stdout and "WARN=0" in result.stdout
    assert_marts_match_the_hand_made_world(warehouse)
    for schema in ("staging", "intermediate", "marts"):
        assert warehouse.table_exists(
            schema, {"staging": "stg_bitrix24__deals", "intermediate": "deal", "marts": "mart_plan_fact"}[schema]
        )


def test_the_plan_colours_follow_the_company_vars(tmp_path: Path) -> None:
    """A company that sets its own thresholds sees its own colours: the rule lives in the vars alone."""
    warehouse = Warehouse(url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    load_raw_world(warehouse)
    result = run_dbt_build(
        warehouse,
        tmp_path,
        dbt_vars={"plan_red_below_pct": 98, "plan_green_from_pct": 130, "alert_kpi_deviation_pct": 25},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    pf = plan_fact_full(warehouse)
    # red below 98 %, yellow 98 % to below 130 %, green from 130 %
    want = {
        (date(2025, 1, 1), 1, 0): "red",  # 80 %: yellow by default
        (date(2025, 2, 1), 1, 0): "yellow",  # 125 %: green by default
        (date(2025, 2, 1), 2, 1): "red",  # 97.1 %: yellow by default
        (date(2025, 1, 1), 2, 1): "red",
    }
    assert {k: pf[k]["colour"] for k in want} == want
    assert_manager_roll_ups(
        pf,
        {
            **MANAGER_MONTHS,
            (date(2025, 1, 1), 1): (250000.0, 200000.0, 2, 80.0, "red", 50000.0),
            (date(2025, 2, 1), 1): (40000.0, 50000.0, 1, 125.0, "yellow", 0.0),
            (date(2025, 2, 1), 2): (50000.0, 48548.5, 1, 97.1, "red", 1451.5),
        },
    )
    assert {(r["plan_red_below_pct"], r["plan_green_from_pct"], r["alert_kpi_deviation_pct"]) for r in pf.values()} == {
        (98.0, 130.0, 25.0)
    }
    thresholds = warehouse.query("select distinct threshold from marts.mart_alert_facts where rule = 'kpi_deviation'")[
        "threshold"
    ]
    assert thresholds.to_list() == [25.0]
