"""Action buttons: what a press on a Telegram inline button does in the CRM (no Dagster here).

The digest names the largest forgotten deal; with TELEGRAM_ACTION_USERS set and a Bitrix24 webhook
configured it carries a button "Забрать сделку № N себе". A press reaches us as a callback_query
update (Bot API getUpdates, polled by the `telegram_button_presses` sensor); `handle_press` checks the
presser against TELEGRAM_ACTION_USERS (Telegram user id -> CRM user id), calls the CRM through the
same Bitrix24 resource the ingest uses (crm.deal.update ASSIGNED_BY_ID = the presser's CRM user),
and says what to answer the button and what to log: who did what, or who was refused and why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

TAKE_DEAL = "take"


def take_deal_markup(deal_id: str) -> dict[str, Any]:
    """The inline keyboard of one button that reassigns deal `deal_id` to whoever presses it."""
    return {
        "inline_keyboard": [[{"text": f"Забрать сделку № {deal_id} себе", "callback_data": f"{TAKE_DEAL}:{deal_id}"}]]
    }


class PressOutcome(BaseModel):
    """What became of one press: the answer the presser sees and the log line (who did what)."""

    callback_query_id: str
    answer: str
    log: str
    done: bool


def handle_press(
    update: dict[str, Any],
    users: dict[int, str],
    update_deal: Callable[[str, dict[str, Any]], None],
) -> PressOutcome | None:
    """Act on one getUpdates update; None when it is not a button press."""
    query = update.get("callback_query")
    if not isinstance(query, dict) or "id" not in query:
        return None
    who = query.get("from") or {}
    user_id = who.get("id")
    name = f"{who.get('first_name') or ''} (@{who.get('username') or '-'}, telegram id {user_id})".strip()
    data = str(query.get("data") or "")
    action, _, deal_id = data.partition(":")

    def outcome(answer: str, log: str, done: bool = False) -> PressOutcome:
        return PressOutcome(callback_query_id=str(query["id"]), answer=answer, log=log, done=done)

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
        update_deal(deal_id, {"ASSIGNED_BY_ID": crm_user})
    except Exception as exc:  # noqa: BLE001 - any CRM failure is answered and logged, the poll goes on
        return outcome(
            f"Не получилось передать сделку № {deal_id}: CRM ответила ошибкой.",
            f"{name} pressed {data!r}: crm.deal.update failed: {str(exc)[:300]}",
        )
    return outcome(
        f"Сделка № {deal_id} передана вам.",
        f"{name} took deal {deal_id}: crm.deal.update ASSIGNED_BY_ID={crm_user}",
        done=True,
    )
