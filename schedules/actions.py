"""Action buttons: what a press on a Telegram inline button does in the CRM (no Dagster here).

The digest names the largest forgotten deal, and an alert about a manager's overdue or forgotten
deals names the largest of them; with TELEGRAM_ACTION_USERS set and a CRM that takes writes
(a Bitrix24 webhook or an amoCRM account) each carries a button "Забрать сделку № N себе". A press
reaches us as a callback_query update (Bot API getUpdates, polled by the `telegram_button_presses`
sensor); `handle_press` checks the presser against TELEGRAM_ACTION_USERS (Telegram user id -> CRM
user id), calls `reassign` (the sensor's: the same CRM resource the ingest uses, Bitrix24
crm.deal.update ASSIGNED_BY_ID or amoCRM PATCH /api/v4/leads responsible_user_id, to the presser's
CRM user), and says what to answer the button and what to log: who did what and when, or who was
refused and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from pydantic import BaseModel

from resources.amocrm import AmoCRMAccount
from resources.bitrix24 import Bitrix24Portal
from resources.settings import Settings

TAKE_DEAL = "take"


def take_deal_markup(*deal_ids: str) -> dict[str, Any]:
    """The inline keyboard of one button per deal (a row each) that reassigns it to whoever presses it."""
    return {
        "inline_keyboard": [
            [{"text": f"Забрать сделку № {deal_id} себе", "callback_data": f"{TAKE_DEAL}:{deal_id}"}]
            for deal_id in deal_ids
        ]
    }


def take_deals_markup(deal_ids: Sequence[str]) -> dict[str, Any] | None:
    """take_deal_markup of `deal_ids`, or None when there are none (a message without a keyboard)."""
    return take_deal_markup(*deal_ids) if deal_ids else None


class PressOutcome(BaseModel):
    """What became of one press: the answer the presser sees and the log line (who did what)."""

    callback_query_id: str
    answer: str
    log: str
    done: bool


def handle_press(
    update: dict[str, Any],
    users: dict[int, str],
    reassign: Callable[[str, str], str],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PressOutcome | None:
    """Act on one getUpdates update; None when it is not a button press.

    `reassign(deal_id, crm_user_id)` makes the CRM call and returns what it did, for the log."""
    query = update.get("callback_query")
    if not isinstance(query, dict) or "id" not in query:
        return None
    who = query.get("from") or {}
    user_id = who.get("id")
    name = f"{who.get('first_name') or ''} (@{who.get('username') or '-'}, telegram id {user_id})".strip()
    data = str(query.get("data") or "")
    action, _, deal_id = data.partition(":")
    at = now().isoformat(timespec="seconds")

    def outcome(answer: str, log: str, done: bool = False) -> PressOutcome:
        return PressOutcome(callback_query_id=str(query["id"]), answer=answer, log=f"{at}: {log}", done=done)

    if user_id not in users:
        return outcome(
            "У вас нет прав на это действие.",
            f"{name} pressed {data!r} but is not in TELEGRAM_ACTION_USERS: nothing done",
        )
    if action != TAKE_DEAL or not deal_id.isdigit():
        return outcome(
            "Эта кнопка больше не поддерживается.", f"{name} pressed an unknown button {data!r}: nothing done"
        )
    crm_user = users[user_id]
    try:
        did = reassign(deal_id, crm_user)
    except Exception as exc:  # noqa: BLE001 - any CRM failure is answered and logged, the poll goes on
        return outcome(
            f"Не получилось передать сделку № {deal_id}: CRM ответила ошибкой.",
            f"{name} pressed {data!r}: the CRM refused: {str(exc)[:300]}",
        )
    return outcome(f"Сделка № {deal_id} передана вам.", f"{name} took deal {deal_id}: {did}", done=True)


# An alert lists at most this many of its deals as buttons (a keyboard taller than that hides the text).
ALERT_BUTTONS = 3


def buttons_enabled(settings: Settings) -> bool:
    """Buttons go out only when someone may press them and a CRM takes the write (Bitrix24 or amoCRM)."""
    amocrm = bool(settings.amocrm_base_url and settings.amocrm_access_token)
    return bool(settings.action_users) and (settings.bitrix24_webhook_url is not None or amocrm)


def crm_reassign(bitrix24: Bitrix24Portal, amocrm: AmoCRMAccount) -> Callable[[str, str], str] | None:
    """The configured CRM's "give deal N to CRM user U", through the same resources the ingest uses:
    Bitrix24's webhook first, else the amoCRM account; None when neither is configured (the demo
    world's own portal is never written to from a button)."""
    if bitrix24.configured_url():

        def bitrix(deal_id: str, user: str) -> str:
            bitrix24.update_deal(deal_id, {"ASSIGNED_BY_ID": user})
            return f"crm.deal.update ASSIGNED_BY_ID={user}"

        return bitrix
    if amocrm.configured:

        def amo(deal_id: str, user: str) -> str:
            amocrm.reassign_lead(deal_id, user)
            return f"PATCH /api/v4/leads responsible_user_id={user}"

        return amo
    return None


class OverdueDeal(BaseModel):
    deal_id: str
    manager_id: str
    amount_rub: float


def largest_overdue_deals(
    forgotten: pl.DataFrame, deals: pl.DataFrame, manager_ids: Iterable[str], day: date, top: int = ALERT_BUTTONS
) -> list[OverdueDeal]:
    """The `top` largest of the managers' deals the overdue_deals rule counts (mart_alert_facts): open
    deals past their expected close day (mart_deals) and forgotten deals (mart_forgotten), each once."""
    wanted = {str(m) for m in manager_ids}
    found: dict[str, OverdueDeal] = {}
    if forgotten.height:
        for row in forgotten.filter(
            (pl.col("entity_type") == "deal") & pl.col("is_forgotten").fill_null(False)
        ).iter_rows(named=True):
            if str(row["manager_id"]) in wanted:
                found[str(row["entity_id"])] = OverdueDeal(
                    deal_id=str(row["entity_id"]),
                    manager_id=str(row["manager_id"]),
                    amount_rub=row["amount_rub"] or 0.0,
                )
    if deals.height:
        late = deals.filter((pl.col("semantic") == "open") & (pl.col("expected_close_day").cast(pl.Date) < pl.lit(day)))
        for row in late.iter_rows(named=True):
            if str(row["manager_id"]) in wanted:
                found[str(row["deal_id"])] = OverdueDeal(
                    deal_id=str(row["deal_id"]), manager_id=str(row["manager_id"]), amount_rub=row["amount_rub"] or 0.0
                )
    return sorted(found.values(), key=lambda d: (-d.amount_rub, d.deal_id))[:top]
