"""1C invoices and payments derived from the demo world's won deals ("mostly but not always match the CRM").

Every won deal gets an invoice a few days before its close (same amount and currency); most are paid
in one payment after it, some in two parts, a few stay unpaid, and a few payments carry only the
company reference (the accountant did not fill the deal). The export files have the shape a 1C
data processor writes: `;`-separated, windows-1251, dates DD.MM.YYYY, decimal comma.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from demo.world import World

INVOICE_COLUMNS = (
    "invoice_number",
    "invoice_date",
    "deal_id",
    "company_id",
    "counterparty",
    "amount",
    "currency",
    "status",
)
PAYMENT_COLUMNS = (
    "payment_number",
    "payment_date",
    "invoice_number",
    "deal_id",
    "company_id",
    "amount",
    "currency",
    "purpose",
)


def _company(deal: dict[str, Any]) -> str:
    title = deal["TITLE"]
    return title.split(" — ", 1)[1] if " — " in title else title


def invoices_and_payments(world: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(invoices, payments) with typed values (dates, Decimal amounts)."""
    invoices: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    won = sorted(
        (d for d in world.deals if d["STAGE_SEMANTIC_ID"] == "S"), key=lambda d: (d["CLOSEDATE"], int(d["ID"]))
    )
    pay_no = 0
    for n, deal in enumerate(won, start=1):
        rng = random.Random(f"{world.seed}:1c:{deal['ID']}")
        closed = date.fromisoformat(deal["CLOSEDATE"][:10])
        inv_date = max(world.start, closed - timedelta(days=rng.randint(0, 5)))
        amount = Decimal(deal["OPPORTUNITY"]).quantize(Decimal("0.01"))
        number = f"СЧ-{inv_date.year % 100:02d}-{n:06d}"
        fate = rng.random()
        parts: list[tuple[date, Decimal]] = []
        if fate < 0.06:
            status = "Не оплачен"
        elif fate < 0.18:
            first = (amount * Decimal(rng.choice(("0.3", "0.5", "0.7")))).quantize(Decimal("0.01"))
            parts = [
                (closed + timedelta(days=rng.randint(1, 10)), first),
                (closed + timedelta(days=rng.randint(12, 40)), amount - first),
            ]
            status = "Оплачен"
        else:
            parts = [(closed + timedelta(days=rng.randint(0, 14)), amount)]
            status = "Оплачен"
        parts = [(d, a) for d, a in parts if d <= world.today]
        if status == "Оплачен" and sum((a for _, a in parts), Decimal(0)) < amount:
            status = "Частично оплачен" if parts else "Не оплачен"
        invoices.append(
            {
                "invoice_number": number,
                "invoice_date": inv_date,
                "deal_id": int(deal["ID"]),
                "company_id": int(deal["COMPANY_ID"]) if deal.get("COMPANY_ID") else None,
                "counterparty": _company(deal),
                "amount": amount,
                "currency": deal["CURRENCY_ID"],
                "status": status,
            }
        )
        for day, part in parts:
            pay_no += 1
            no_deal = rng.random() < 0.05
            payments.append(
                {
                    "payment_number": f"ПП-{pay_no:06d}",
                    "payment_date": day,
                    "invoice_number": number,
                    "deal_id": None if no_deal else int(deal["ID"]),
                    "company_id": invoices[-1]["company_id"],
                    "amount": part,
                    "currency": deal["CURRENCY_ID"],
                    "purpose": f"Оплата по счёту {number}",
                }
            )
    return invoices, payments


def to_export_cell(value: Any) -> str:
    """1C export text: DD.MM.YYYY dates, decimal comma, empty for None."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, Decimal):
        return str(value).replace(".", ",")
    return str(value)
