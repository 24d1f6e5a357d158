"""Which rows of marts.mart_alert_facts become Telegram alerts, when, and in what words (no Dagster here).

The rules themselves are SQL (the mart's `is_firing`); what this module adds is sending them so a
head of sales reads each one: only the latest news (today's or yesterday's rows, never a backfill's
history), a behind-plan pace only from the month's `min_day_of_month`, a day still under way only
once its window has closed (`final_from_hour`), and a rule's subject not again within its
`cooldown_days` (all three carried by the mart as columns, from dbt vars). The memory of what was sent
(`Sent`) is plain data the sensor keeps in its cursor, so the same functions drive the sensor and the
benchmark's day-by-day replay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from assets.insights.writer import format_day, format_rub
from resources.telegram import escape_html as e

# The rules whose subject is an ad channel: also sent to the marketer's chat when one is set.
CHANNEL_RULES = frozenset({"budget_overrun"})
# Rows of these days before today are still news (a day's window that closed overnight).
MAX_AGE_DAYS = 1

RULE_TITLES: dict[str, str] = {
    "kpi_deviation": "Отставание от темпа плана",
    "conversion_drop": "Падение конверсии",
    "zero_activity": "Нет активности с утра",
    "no_new_leads": "Нет новых лидов",
    "overdue_deals": "Просроченные и забытые сделки",
    "budget_overrun": "Перерасход рекламного бюджета",
}


class AlertFact(BaseModel):
    """One row of marts.mart_alert_facts (the columns the alerts read)."""

    day: date
    rule: str
    subject_type: str
    subject_id: int | None = None
    subject_key: str | None = None
    subject_name: str | None = None
    metric: str
    value: float | None = None
    usual_value: float | None = None
    deviation_pct: float | None = None
    threshold: float | None = None
    is_firing: bool | None = False
    cooldown_days: int | None = 1
    min_day_of_month: int | None = None
    final_from_hour: int | None = None

    @property
    def key(self) -> str:
        """The cool-down's unit: one rule about one subject."""
        return f"{self.rule}|{self.subject_type}|{self.subject_key or self.subject_id or ''}"


# key -> the fact day last alerted (ISO date): what the sensor's cursor stores.
Sent = dict[str, str]


def facts_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[AlertFact]:
    """The mart's rows (dicts, as polars' `iter_rows(named=True)` gives them) as AlertFacts."""
    return [AlertFact.model_validate(dict(row)) for row in rows]


def is_news(fact: AlertFact, now: datetime) -> bool:
    """Whether a firing row may alert at `now` (local time of the company): recent, final, in season."""
    today = now.date()
    if not fact.is_firing or not (today - timedelta(days=MAX_AGE_DAYS) <= fact.day <= today):
        return False
    if fact.rule == "kpi_deviation" and (fact.value or 0) >= (fact.usual_value or 0):
        return False  # ahead of the plan's pace is good news for the digest, not a push
    if fact.min_day_of_month is not None and fact.day.day < fact.min_day_of_month:
        return False
    if fact.final_from_hour is not None and fact.day == today and now.hour < fact.final_from_hour:
        return False  # e.g. no activity "by 13:00" cannot be known at 10:00
    return True


def due_alerts(facts: Iterable[AlertFact], now: datetime, sent: Mapping[str, str]) -> list[AlertFact]:
    """The facts to alert now: news, out of their subject's cool-down, the latest day per subject.

    `sent` maps a fact's key to the day it last alerted; a key is quiet until that day plus the
    rule's cooldown_days. Ordered by rule and subject name so a tick's messages read as a list.
    """
    latest: dict[str, AlertFact] = {}
    for fact in facts:
        if is_news(fact, now) and (fact.key not in latest or fact.day > latest[fact.key].day):
            latest[fact.key] = fact
    due = []
    for key, fact in latest.items():
        last = sent.get(key)
        if last is not None and fact.day < date.fromisoformat(last) + timedelta(days=max(fact.cooldown_days or 1, 1)):
            continue
        due.append(fact)
    return sorted(due, key=lambda f: (list(RULE_TITLES).index(f.rule) if f.rule in RULE_TITLES else 99, f.key))


def remember(sent: Sent, fact: AlertFact) -> None:
    """Record that `fact` was alerted (its day starts its subject's cool-down)."""
    sent[fact.key] = fact.day.isoformat()


def forget_old(sent: Sent, today: date, keep_days: int = 60) -> Sent:
    """What is older than any cool-down is dropped, so the cursor stays small."""
    horizon = today - timedelta(days=keep_days)
    return {k: v for k, v in sent.items() if date.fromisoformat(v) >= horizon}


# --- wording ------------------------------------------------------------------------------------
def _pct(value: float) -> str:
    """-14.2 -> '−14 %', 5 -> '+5 %' (a typographic minus)."""
    return f"{round(value):+d} %".replace("-", "−")


def _hours(value: float) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{text} ч"


def _owner(fact: AlertFact) -> str:
    name = e(fact.subject_name or fact.subject_key or "—")
    return {
        "company": "Ответственный: руководитель отдела продаж (вся компания)",
        "department": f"Ответственный: руководитель отдела «{name}»",
        "manager": f"Ответственный: {name}",
        "channel": f"Ответственный: маркетолог, канал «{name}»",
        "stage": f"Ответственный: руководитель отдела продаж, этап «{name}»",
    }.get(fact.subject_type, f"Ответственный: {name}")


def _figures(fact: AlertFact) -> str:
    value, usual, threshold = fact.value or 0.0, fact.usual_value, fact.threshold or 0.0
    deviation = f" ({_pct(fact.deviation_pct)})" if fact.deviation_pct is not None else ""
    if fact.rule == "kpi_deviation":
        return (
            f"Выручка с начала месяца: <b>{format_rub(value)}</b>, по темпу плана к этому дню "
            f"{format_rub(usual or 0)}{deviation}; допустимо отставание до {round(threshold)} %"
        )
    if fact.rule == "conversion_drop" and fact.subject_type == "stage":
        return (
            f"Доля сделок, ушедших с этапа дальше, за 7 дней: <b>{round(value)} %</b>, "
            f"обычно {round(usual or 0)} % за 4 недели до этого{deviation}; порог падения {round(threshold)} %"
        )
    if fact.rule == "conversion_drop":
        return (
            f"Конверсия закрытых сделок в выигрыш за 7 дней: <b>{round(value)} %</b>, "
            f"обычно {round(usual or 0)} % за 4 недели до этого{deviation}; порог падения {round(threshold)} %"
        )
    if fact.rule == "zero_activity":
        hour = fact.final_from_hour if fact.final_from_hour is not None else 13
        return f"Выполненных активностей до {hour}:00: <b>{round(value)}</b>, норма — хотя бы одна"
    if fact.rule == "no_new_leads":
        return (
            f"Самый долгий перерыв без нового лида в рабочие часы: <b>{_hours(value)}</b>, "
            f"допустимо до {_hours(threshold)}"
        )
    if fact.rule == "overdue_deals":
        return f"Открытых сделок с прошедшим сроком или без движения: <b>{round(value)}</b>, норма — 0"
    if fact.rule == "budget_overrun":
        return (
            f"Расход с начала месяца: <b>{format_rub(value)}</b>, по темпу месячного бюджета "
            f"{format_rub(usual or 0)}{deviation}"
        )
    return f"Значение: <b>{value:g}</b>" + (f", обычно {usual:g}" if usual is not None else "")


def _next_step(fact: AlertFact) -> str:
    steps = {
        ("kpi_deviation", "manager"): "разберите с менеджером сделки на финальных этапах и договоритесь, "
        "какие закрыть до конца недели",
        ("kpi_deviation", "department"): "соберите отдел на 15 минут: какие сделки закрываются в этом месяце "
        "и кому нужна помощь",
        ("kpi_deviation", "company"): "проверьте, какие менеджеры и каналы отстают сильнее всего, и "
        "перераспределите горячие лиды",
        ("conversion_drop", "manager"): "разберите с менеджером проигранные за неделю сделки и их причины",
        ("conversion_drop", "stage"): "откройте сделки, застрявшие на этапе, и выясните, что мешает им двигаться",
        ("zero_activity", "manager"): "свяжитесь с менеджером: он на месте? Если в отпуске или болеет — "
        "передайте его сделки на сегодня",
        ("no_new_leads", "company"): "проверьте рекламные кабинеты, формы на сайте и телефонию: доходят ли заявки",
        ("overdue_deals", "manager"): "попросите менеджера сегодня обновить сроки или закрыть эти сделки",
        ("budget_overrun", "channel"): "проверьте ставки и дневные лимиты кампаний канала и стоимость лида в нём",
    }
    return steps.get((fact.rule, fact.subject_type), "разберитесь с причиной сегодня")


def alert_html(fact: AlertFact) -> str:
    """The alert as the head of sales reads it: what, how much against what, whose, what to do."""
    title = RULE_TITLES.get(fact.rule, fact.rule)
    return "\n".join(
        [
            f"⚠️ <b>{e(title)}</b> ({format_day(fact.day)})",
            _figures(fact),
            _owner(fact),
            f"Что сделать: {e(_next_step(fact))}.",
        ]
    )


def chats_for(fact: AlertFact, head_chat: str | None, marketer_chat: str | None) -> list[str]:
    """The head of sales always; the marketer too for channel rules when their chat is set."""
    chats = [c for c in [head_chat] if c]
    if fact.rule in CHANNEL_RULES and marketer_chat and marketer_chat not in chats:
        chats.append(marketer_chat)
    return chats
