"""Which rows of mart_alert_facts become alerts, and what they say: a hand-made list of mart rows.

The mart's own SQL (is_firing and its inputs) is checked by the dbt tests on the hand-made warehouse
(tests/test_dbt_models.py); here the rows are written by hand and the expected alerts worked out by hand.
Today is Tuesday 11 March 2025 (March has 31 days), 14:30 company time unless a test says otherwise.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from schedules.alert_rules import (
    AlertFact,
    alert_html,
    chats_for,
    compose,
    due_alerts,
    facts_from_rows,
    forget_old,
    plural,
    remember,
)
from tests.fakes.fake_telegram import check_html

TODAY = date(2025, 3, 11)
YESTERDAY = date(2025, 3, 10)
NOW = datetime(2025, 3, 11, 14, 30)
COOLDOWN = {
    "kpi_deviation": 7,
    "conversion_drop": 7,
    "zero_activity": 1,
    "no_new_leads": 1,
    "overdue_deals": 7,
    "budget_overrun": 7,
}


def row(rule: str, subject_type: str, key: str, name: str, value: float, usual: float | None, **kw: Any) -> dict:
    """One mart row as the warehouse returns it; is_firing, day and the sending columns may be given."""
    return {
        "day": kw.get("day", TODAY),
        "rule": rule,
        "subject_type": subject_type,
        "subject_id": int(key) if key.isdigit() else None,
        "subject_key": key,
        "subject_name": name,
        "metric": kw.get("metric", "m"),
        "value": value,
        "usual_value": usual,
        "deviation_pct": round(100 * (value - usual) / usual, 4) if usual else None,
        "threshold": kw.get("threshold", 0.0),
        "is_firing": kw.get("is_firing", True),
        "cooldown_days": COOLDOWN[rule],
        "min_day_of_month": 5 if rule == "kpi_deviation" else None,
        "final_from_hour": {"zero_activity": 13, "no_new_leads": 18}.get(rule),
    }


# Петров's March plan 1 200 000 ₽: the pace on the 11th is 1 200 000 x 11 / 31 = 425 806.45 ₽;
# he has 100 000 ₽ (−76.5 %). The Яндекс.Директ budget 600 000 ₽: pace 212 903.23 ₽, spent 250 000 (+17.4 %).
PETROV_PACE = 1_200_000 * 11 / 31
DIRECT_PACE = 600_000 * 11 / 31
FIRING_WORLD = [
    row("kpi_deviation", "manager", "2", "Петров Пётр", 100_000.0, PETROV_PACE, threshold=10.0),
    row("conversion_drop", "manager", "3", "Сидорова Анна", 10.0, 40.0, threshold=20.0),
    row("conversion_drop", "stage", "0:NEGOTIATION", "Продажи: Переговоры", 20.0, 60.0, threshold=20.0),
    row("zero_activity", "manager", "4", "Козлов Олег", 0.0, None),
    # yesterday's day without leads (closed at 18:00): longest gap 5.5 working hours
    row("no_new_leads", "company", "0", "Компания", 5.5, None, threshold=4.0, day=YESTERDAY),
    row("overdue_deals", "manager", "1", "Иванов Иван", 3.0, None),
    row("budget_overrun", "channel", "UC_YDIRECT", "Яндекс.Директ", 250_000.0, DIRECT_PACE),
]


def texts(facts: list[AlertFact]) -> dict[str, str]:
    return {fact.rule + ":" + fact.subject_type: check_html(alert_html(fact))[1] for fact in facts}


def test_every_rule_fires_on_its_hand_made_row():
    due = due_alerts(facts_from_rows(FIRING_WORLD), NOW, {})
    got = texts(due)
    assert set(got) == {
        "kpi_deviation:manager",
        "conversion_drop:manager",
        "conversion_drop:stage",
        "zero_activity:manager",
        "no_new_leads:company",
        "overdue_deals:manager",
        "budget_overrun:channel",
    }
    # every alert: the metric, the value, the usual value or threshold, the owner, one next step
    kpi = got["kpi_deviation:manager"]
    assert "Отставание от темпа плана" in kpi and "(11.03.2025)" in kpi
    assert "Выручка с начала месяца: 100 000 ₽, по темпу плана к этому дню 425 806 ₽ (−77 %)" in kpi
    assert "допустимо отставание до 10 %" in kpi and "Ответственный: Петров Пётр" in kpi
    assert "Что сделать: разберите с менеджером сделки на финальных этапах" in kpi
    conv = got["conversion_drop:manager"]
    assert "за 7 дней: 10 %, обычно 40 %" in conv and "(−75 %)" in conv and "Сидорова Анна" in conv
    stage = got["conversion_drop:stage"]
    assert "ушедших с этапа дальше, за 7 дней: 20 %, обычно 60 %" in stage and "этап «Продажи: Переговоры»" in stage
    zero = got["zero_activity:manager"]
    assert "Выполненных активностей до 13:00: 0" in zero and "Ответственный: Козлов Олег" in zero
    leads = got["no_new_leads:company"]
    assert "(10.03.2025)" in leads and "5,5 ч, допустимо до 4 ч" in leads and "вся компания" in leads
    assert "сделок с прошедшим сроком или без движения: 3, норма — 0" in got["overdue_deals:manager"]
    budget = got["budget_overrun:channel"]
    assert "Расход с начала месяца: 250 000 ₽, по темпу месячного бюджета 212 903 ₽ (+17 %)" in budget
    assert "маркетолог, канал «Яндекс.Директ»" in budget
    for fact in due:  # valid Telegram HTML, and a next step on each
        errors, visible = check_html(alert_html(fact))
        assert errors == [] and "Что сделать: " in visible


def test_a_normal_world_stays_quiet():
    normal = [{**r, "is_firing": False} for r in FIRING_WORLD]
    assert due_alerts(facts_from_rows(normal), NOW, {}) == []


def test_ahead_of_the_plan_and_early_in_the_month_are_not_pushed():
    ahead = row("kpi_deviation", "manager", "1", "Иванов Иван", 600_000.0, PETROV_PACE, threshold=10.0)
    # Monday 3 March: a 50 % miss of a three-day pace (1 200 000 x 3 / 31 = 116 129 ₽) is noise
    early = row("kpi_deviation", "manager", "2", "Петров Пётр", 58_000.0, 116_129.03, day=date(2025, 3, 3))
    assert due_alerts(facts_from_rows([ahead]), NOW, {}) == []
    assert due_alerts(facts_from_rows([early]), datetime(2025, 3, 3, 12), {}) == []
    # the 5th is the first day the pace rule speaks
    fifth = {**early, "day": date(2025, 3, 5)}
    assert len(due_alerts(facts_from_rows([fifth]), datetime(2025, 3, 5, 12), {})) == 1


def test_a_day_under_way_waits_for_its_window_to_close():
    zero = facts_from_rows([row("zero_activity", "manager", "4", "Козлов Олег", 0.0, None)])
    gap = facts_from_rows([row("no_new_leads", "company", "0", "Компания", 8.0, None, threshold=4.0)])
    assert due_alerts(zero, NOW.replace(hour=10), {}) == []  # 10:00: the morning is not over
    assert len(due_alerts(zero, NOW.replace(hour=13, minute=0), {})) == 1
    assert due_alerts(gap, NOW, {}) == []  # 14:30: the working day has hours left
    assert len(due_alerts(gap, NOW.replace(hour=18, minute=5), {})) == 1


def test_history_never_alerts():
    old = [{**r, "day": TODAY - timedelta(days=2)} for r in FIRING_WORLD]
    assert due_alerts(facts_from_rows(old), NOW, {}) == []


def test_cool_down_per_rule_and_subject():
    sent: dict[str, str] = {}
    first = due_alerts(facts_from_rows(FIRING_WORLD), NOW, sent)
    for fact in first:
        remember(sent, fact)
    assert due_alerts(facts_from_rows(FIRING_WORLD), NOW, sent) == []  # the same tick again: nothing

    def on(day: date) -> set[str]:
        world = [{**r, "day": day} for r in FIRING_WORLD]
        return {
            f.rule + ":" + f.subject_type
            for f in due_alerts(facts_from_rows(world), datetime(2025, 3, day.day, 19), sent)
        }

    # the next day: the daily rules again (cool-down 1 day), the weekly ones not
    assert on(date(2025, 3, 12)) == {"zero_activity:manager", "no_new_leads:company"}
    # a week after 11 March: every rule again, no_new_leads too (sent on 10 March, a day old)
    assert len(on(date(2025, 3, 18))) == 7
    # another manager's zero activity is another subject: not held back by Козлов's
    other = row("zero_activity", "manager", "5", "Орлова Ева", 0.0, None)
    assert [f.subject_name for f in due_alerts(facts_from_rows([other]), NOW, sent)] == ["Орлова Ева"]


def test_yesterday_and_today_of_one_subject_make_one_alert():
    both = [
        row("overdue_deals", "manager", "1", "Иванов Иван", n, None, day=d) for n, d in [(2.0, YESTERDAY), (3.0, TODAY)]
    ]
    (fact,) = due_alerts(facts_from_rows(both), NOW, {})
    assert (fact.day, fact.value) == (TODAY, 3.0)


def test_memory_is_pruned_but_keeps_what_a_cool_down_needs():
    sent = {"a": "2025-01-01", "b": "2025-03-01"}
    assert forget_old(sent, TODAY) == {"b": "2025-03-01"}


@pytest.mark.parametrize(
    ("rule", "marketer", "expected"),
    [("budget_overrun", "300", ["100", "300"]), ("budget_overrun", None, ["100"]), ("zero_activity", "300", ["100"])],
)
def test_channel_rules_also_reach_the_marketer(rule, marketer, expected):
    fact = AlertFact(day=TODAY, rule=rule, subject_type="channel", metric="m")
    assert chats_for(fact, "100", marketer) == expected


def test_work_rules_keep_to_working_days_and_ad_spend_does_not():
    # Tuesday 4 November 2025 is National Unity Day: nobody is expected to call anyone
    holiday = datetime(2025, 11, 4, 19)
    zero = row("zero_activity", "manager", "4", "Козлов Олег", 0.0, None, day=holiday.date())
    assert due_alerts(facts_from_rows([zero]), holiday, {}) == []
    assert len(due_alerts(facts_from_rows([{**zero, "day": date(2025, 11, 5)}]), holiday + timedelta(days=1), {})) == 1
    # Saturday 15 March 2025: the pace waits for Monday, the ad budget does not
    saturday = datetime(2025, 3, 15, 12)
    weekend = [{**r, "day": saturday.date()} for r in FIRING_WORLD if r["rule"] in ("kpi_deviation", "budget_overrun")]
    assert [f.rule for f in due_alerts(facts_from_rows(weekend), saturday, {})] == ["budget_overrun"]


def test_many_subjects_of_one_rule_come_as_one_message():
    # the 10th: four managers behind the pace at once (plans 1 200 000, 900 000, 600 000, 300 000 ₽,
    # pace x 10/31) and one overdue manager
    plans = {"2": ("Петров Пётр", 1_200_000, 200_000), "3": ("Сидорова Анна", 900_000, 250_000)}
    plans |= {"5": ("Орлова Ева", 600_000, 173_500), "6": ("Зайцев Иван", 300_000, 60_000)}
    day = date(2025, 3, 10)
    rows = [
        row("kpi_deviation", "manager", k, name, fact, plan * 10 / 31, threshold=10.0, day=day)
        for k, (name, plan, fact) in plans.items()
    ] + [row("overdue_deals", "manager", "1", "Иванов Иван", 2.0, None, day=day)]
    messages = compose(due_alerts(facts_from_rows(rows), datetime(2025, 3, 10, 12), {}))
    assert [(m.rule, len(m.facts)) for m in messages] == [("kpi_deviation", 4), ("overdue_deals", 1)]
    errors, text = check_html(messages[0].html)
    assert errors == []
    lines = text.splitlines()
    assert lines[0] == "⚠️ Отставание от темпа плана (10.03.2025): 4 менеджера"
    assert "допустимо отставание до 10 %" in lines[1]
    # by the size of the miss: Зайцев 60 000 of 96 774 (−38 %), Петров 200 000 of 387 097 (−48 %),
    # Сидорова 250 000 of 290 323 (−13,9 %: "−14 %"), Орлова 173 500 of 193 548 (−10,36 %: next to the
    # 10 % allowed, so with a decimal)
    assert lines[2:6] == [
        "• Петров Пётр: 200 000 ₽ при темпе 387 097 ₽ (−48 %)",
        "• Зайцев Иван: 60 000 ₽ при темпе 96 774 ₽ (−38 %)",
        "• Сидорова Анна: 250 000 ₽ при темпе 290 323 ₽ (−14 %)",
        "• Орлова Ева: 173 500 ₽ при темпе 193 548 ₽ (−10,4 %)",
    ]
    assert lines[6].startswith("Что сделать: разберите с менеджером сделки на финальных этапах")
    assert "Иванов Иван" in messages[1].html and "Просроченные" in messages[1].html


@pytest.mark.parametrize(
    ("n", "word"),
    [(1, "менеджер"), (3, "менеджера"), (5, "менеджеров"), (11, "менеджеров"), (21, "менеджер"), (24, "менеджера")],
)
def test_counts_read_as_russian(n, word):
    assert plural(n, ("менеджер", "менеджера", "менеджеров")) == word
