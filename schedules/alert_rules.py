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
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from assets.insights.writer import format_day, format_rub
from resources.telegram import escape_html as e

# The rules whose subject is an ad channel: also sent to the marketer's chat when one is set.
CHANNEL_RULES = frozenset({"budget_overrun"})
# Rows of these days before today are still news (a day's window that closed overnight).
MAX_AGE_DAYS = 1
# Rules about people's work speak only of working days (Monday to Friday, not a Russian public
# holiday): nobody works on 4 November, and a pace reminder on Saturday says what Monday's will.
# Ad spend runs every day, so budget_overrun is not among them.
WORKING_DAY_RULES = frozenset({"kpi_deviation", "conversion_drop", "zero_activity", "no_new_leads", "overdue_deals"})

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


@lru_cache(maxsize=8)
def _ru_holidays(year: int) -> frozenset[date]:
    """Russian public holidays and transferred days off of a year (python-holidays, offline)."""
    import holidays

    return frozenset(holidays.country_holidays("RU", years=[year]).keys())


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a Russian public holiday (as the anomaly model counts them)."""
    return day.weekday() < 5 and day not in _ru_holidays(day.year)


def is_news(fact: AlertFact, now: datetime) -> bool:
    """Whether a firing row may alert at `now` (local time of the company): recent, final, in season."""
    today = now.date()
    if not fact.is_firing or not (today - timedelta(days=MAX_AGE_DAYS) <= fact.day <= today):
        return False
    if fact.rule in WORKING_DAY_RULES and not is_working_day(fact.day):
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
def _pct(value: float, threshold: float | None = None) -> str:
    """-34.2 -> '−34 %'; near the threshold one decimal, so a firing −20,4 % never reads as the −20 % allowed."""
    near = threshold is not None and abs(round(abs(value)) - threshold) <= 1
    text = f"{value:+.1f}".replace(".", ",") if near else f"{round(value):+d}"
    return f"{text} %".replace("-", "−")


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
    deviation = f" ({_pct(fact.deviation_pct, fact.threshold)})" if fact.deviation_pct is not None else ""
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


# From this many due subjects of one rule in one tick, they come as one message listing them (on the
# day the pace rule starts speaking, every lagging manager crosses it at once).
GROUP_FROM = 3


class AlertMessage(BaseModel):
    """One Telegram message: one fact, or several of one rule and subject type listed together."""

    facts: list[AlertFact]
    html: str

    @property
    def rule(self) -> str:
        return self.facts[0].rule


def plural(n: int, forms: tuple[str, str, str]) -> str:
    """The Russian form for n: 1 менеджер, 3 менеджера, 5 менеджеров, 21 менеджер, 11 менеджеров."""
    if n % 10 == 1 and n % 100 != 11:
        return forms[0]
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return forms[1]
    return forms[2]


def _line(fact: AlertFact) -> str:
    """A fact as one line of a grouped message: whose, the value against the pace or the usual value."""
    name = e(fact.subject_name or fact.subject_key or "—")
    value, usual = fact.value or 0.0, fact.usual_value or 0.0
    deviation = f" ({_pct(fact.deviation_pct, fact.threshold)})" if fact.deviation_pct is not None else ""
    if fact.rule in ("kpi_deviation", "budget_overrun"):
        return f"• {name}: <b>{format_rub(value)}</b> при темпе {format_rub(usual)}{deviation}"
    if fact.rule == "conversion_drop":
        return f"• {name}: <b>{round(value)} %</b> против {round(usual)} %{deviation}"
    if fact.rule == "zero_activity":
        return f"• {name}: <b>{round(value)}</b> активностей"
    if fact.rule == "overdue_deals":
        return f"• {name}: <b>{round(value)}</b>"
    return f"• {name}: <b>{value:g}</b>"


def _group_header(fact: AlertFact, count: int) -> str:
    """What the listed lines measure, and the rule's threshold."""
    threshold = round(fact.threshold or 0)
    return {
        "kpi_deviation": f"Выручка с начала месяца против темпа плана; допустимо отставание до {threshold} %:",
        "conversion_drop": f"Конверсия за 7 дней против 4 недель до этого; порог падения {threshold} %:",
        "zero_activity": f"Выполненных активностей до {fact.final_from_hour or 13}:00 (норма — хотя бы одна):",
        "overdue_deals": "Открытых сделок с прошедшим сроком или без движения (норма — 0):",
        "budget_overrun": "Расход с начала месяца против темпа месячного бюджета:",
    }.get(fact.rule, f"{count}:")


def compose(due: list[AlertFact]) -> list[AlertMessage]:
    """The tick's messages: a fact alone, or GROUP_FROM and more of one rule and subject type in one."""
    groups: dict[tuple[str, str], list[AlertFact]] = {}
    for fact in due:
        groups.setdefault((fact.rule, fact.subject_type), []).append(fact)
    messages: list[AlertMessage] = []
    for (rule, subject_type), facts in groups.items():
        if len(facts) < GROUP_FROM:
            messages.extend(AlertMessage(facts=[fact], html=alert_html(fact)) for fact in facts)
            continue
        first = facts[0]
        who = {
            "manager": ("менеджер", "менеджера", "менеджеров"),
            "department": ("отдел", "отдела", "отделов"),
            "channel": ("канал", "канала", "каналов"),
            "stage": ("этап", "этапа", "этапов"),
        }
        count = f"{len(facts)} {plural(len(facts), who[subject_type])}" if subject_type in who else str(len(facts))
        lines = [
            f"⚠️ <b>{e(RULE_TITLES.get(rule, rule))}</b> ({format_day(max(f.day for f in facts))}): {count}",
            _group_header(first, len(facts)),
            *(
                _line(fact)
                for fact in sorted(
                    facts, key=lambda f: (-abs(f.deviation_pct or 0), -(f.value or 0), f.subject_name or "")
                )
            ),
            f"Что сделать: {e(_next_step(first))}.",
        ]
        messages.append(AlertMessage(facts=facts, html="\n".join(lines)))
    return messages


def chats_for(fact: AlertFact, head_chat: str | None, marketer_chat: str | None) -> list[str]:
    """The head of sales always; the marketer too for channel rules when their chat is set."""
    chats = [c for c in [head_chat] if c]
    if fact.rule in CHANNEL_RULES and marketer_chat and marketer_chat not in chats:
        chats.append(marketer_chat)
    return chats
