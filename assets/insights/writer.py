"""Russian text from the day's facts: the deterministic template, the GPT prompt and its answer's cleaning.

No Dagster and no network here. The template is what the head of sales gets when no OpenAI key is
set or the API fails, so it has to be useful on its own: 3-5 short recommendations, each quoting
the figures it rests on.
"""

from __future__ import annotations

import re
from datetime import date

from assets.insights.facts import AnomalyFact, DayFacts

MIN_RECOMMENDATIONS = 3
MAX_RECOMMENDATIONS = 5

# Labels for the anomaly model's metric names (columns of marts.mart_manager_daily).
METRIC_LABELS: dict[str, str] = {
    "leads_assigned": "назначено лидов",
    "deals_created": "создано сделок",
    "won_count": "выиграно сделок",
    "won_rub": "выручка",
    "calls_out": "исходящие звонки",
    "calls_in": "входящие звонки",
    "call_minutes": "минуты разговоров",
    "emails": "письма",
    "meetings": "встречи",
    "tasks_done": "выполнено задач",
    "activities_total": "всего активностей",
}

# One next step per metric (docs/KPI.md: an alert names one next step).
NEXT_STEPS: dict[str, str] = {
    "leads_assigned": "проверьте распределение лидов между менеджерами",
    "deals_created": "проверьте, что лиды менеджера конвертируются в сделки",
    "won_count": "разберите с менеджером сделки на финальных этапах",
    "won_rub": "разберите с менеджером сделки на финальных этапах",
    "calls_out": "узнайте у менеджера причину и проверьте план звонков на сегодня",
    "calls_in": "проверьте, доходят ли входящие звонки до менеджера",
    "call_minutes": "прослушайте пару звонков и проверьте качество разговоров",
    "emails": "проверьте переписку по открытым сделкам менеджера",
    "meetings": "проверьте календарь встреч менеджера на неделю",
    "tasks_done": "проверьте просроченные задачи менеджера",
    "activities_total": "узнайте у менеджера, что мешает работе, и проверьте его загрузку",
}
DEFAULT_NEXT_STEP = "обсудите с менеджером причину отклонения сегодня"

SYSTEM_PROMPT = (
    "Ты — аналитик отдела продаж. Руководитель отдела продаж (РОП) читает твой текст утром в Telegram. "
    "По фактам дня напиши от 3 до 5 коротких рекомендаций на русском языке: каждая — одно-два "
    "предложения, конкретное действие на сегодня и цифры, на которых оно основано. Используй только "
    "цифры из фактов, ничего не выдумывай. Суммы пиши как «1 234 567 ₽». Каждая рекомендация — "
    "отдельный элемент списка recommendations, без маркеров, без заголовков и без вступления."
)


def format_rub(amount: float) -> str:
    """1234567.4 -> '1 234 567 ₽' (whole rubles, spaces between thousands)."""
    return f"{round(amount):,}".replace(",", " ") + " ₽"


def format_pct(value: float) -> str:
    """37.46 -> '37 %' (Russian typography: a space before the sign)."""
    return f"{round(value)} %"


def format_day(day: date) -> str:
    """2025-03-12 -> '12.03.2025'."""
    return day.strftime("%d.%m.%Y")


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric or "показатель")


def format_value(metric: str, value: float | None) -> str:
    """A metric's value the way a person reads it: rubles for money, whole counts, one decimal else."""
    if value is None:
        return "—"
    if metric.endswith("_rub"):
        return format_rub(value)
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", " ")
    return f"{value:.1f}"


def anomaly_sentence(a: AnomalyFact) -> str:
    """'Иванов И.: исходящие звонки 3 (обычно 35)'."""
    return (
        f"{a.manager_name}: {metric_label(a.metric)} {format_value(a.metric, a.value)} "
        f"(обычно {format_value(a.metric, a.usual)})"
    )


def template_recommendations(facts: DayFacts) -> list[str]:
    """3-5 recommendations from the facts alone (the offline path, source='template')."""
    recs: list[str] = []
    day = format_day(facts.as_of_day)
    if facts.plan_rub > 0:
        text = (
            f"На {day} выполнено {format_pct(facts.fulfilment_pct or 0)} плана месяца: "
            f"{format_rub(facts.actual_mtd_rub)} из {format_rub(facts.plan_rub)}."
        )
        if facts.remaining_rub > 0 and facts.days_left > 0:
            text += (
                f" До плана осталось {format_rub(facts.remaining_rub)} — это "
                f"{format_rub(facts.remaining_rub / facts.days_left)} в день на оставшиеся "
                f"{facts.days_left} дн.; распределите эту сумму между менеджерами."
            )
        elif facts.remaining_rub > 0:
            text += f" До плана не хватает {format_rub(facts.remaining_rub)}."
        else:
            text += " План выполнен — закрепите результат и переносите сделки на следующий месяц без пауз."
        recs.append(text)
    else:
        recs.append(
            f"План на месяц не загружен, факт на {day}: {format_rub(facts.actual_mtd_rub)}. "
            "Загрузите план, чтобы видеть выполнение и прогноз."
        )

    if facts.forecast_rub is not None:
        text = f"Прогноз на конец месяца — {format_rub(facts.forecast_rub)}"
        if facts.forecast_low_rub is not None and facts.forecast_high_rub is not None:
            text += f" (80 %: {format_rub(facts.forecast_low_rub)} – {format_rub(facts.forecast_high_rub)})"
        if facts.prob_reach_plan is not None:
            text += f", вероятность выполнить план {format_pct(facts.prob_reach_plan * 100)}"
        text += "."
        if facts.plan_rub > 0 and facts.forecast_rub < facts.plan_rub:
            text += (
                f" Разрыв с планом {format_rub(facts.plan_rub - facts.forecast_rub)}: "
                "соберите сделки на финальных этапах и назначьте даты их закрытия."
            )
        else:
            text += " Держите темп и следите за сделками на финальных этапах."
        recs.append(text)

    if facts.leads_needed is not None and facts.leads_needed > 0:
        recs.append(
            f"Чтобы закрыть разрыв, нужно ещё около {round(facts.leads_needed)} лидов — "
            "согласуйте с маркетингом дополнительный трафик на ближайшие дни."
        )

    if facts.lagging_managers:
        names = "; ".join(
            f"{m.manager_name} — {format_pct(m.fulfilment_pct)} плана при ожидаемых {format_pct(m.expected_pct)}"
            for m in facts.lagging_managers
        )
        recs.append(f"Отстают от темпа: {names}. Сегодня разберите воронку каждого один на один.")

    if facts.anomalies:
        parts = "; ".join(anomaly_sentence(a) for a in facts.anomalies)
        first = facts.anomalies[0]
        recs.append(
            f"Необычные показатели: {parts}. Первым делом — {first.manager_name}: "
            f"{NEXT_STEPS.get(first.metric, DEFAULT_NEXT_STEP)}."
        )

    fillers = [
        "Проверьте забытые сделки (без активности 14 дней) и поставьте по каждой задачу с датой.",
        "Проверьте лиды без активности 3 дня: каждому нужен звонок или письмо сегодня.",
    ]
    for filler in fillers:
        if len(recs) >= MIN_RECOMMENDATIONS:
            break
        recs.append(filler)
    return recs[:MAX_RECOMMENDATIONS]


def facts_prompt(facts: DayFacts) -> str:
    """The user message for GPT: the facts as plain Russian lines with formatted figures."""
    lines = [
        f"Дата: {format_day(facts.as_of_day)} (день {facts.days_elapsed} из {facts.days_in_month}).",
        f"План месяца: {format_rub(facts.plan_rub)}.",
        f"Факт с начала месяца: {format_rub(facts.actual_mtd_rub)}"
        + (f" ({format_pct(facts.fulfilment_pct)} плана)." if facts.fulfilment_pct is not None else "."),
        f"Остаток плана: {format_rub(facts.remaining_rub)}.",
    ]
    if facts.forecast_rub is not None:
        lines.append(f"Прогноз на конец месяца: {format_rub(facts.forecast_rub)}.")
    if facts.forecast_low_rub is not None and facts.forecast_high_rub is not None:
        lines.append(
            f"80-процентный интервал прогноза: {format_rub(facts.forecast_low_rub)} – "
            f"{format_rub(facts.forecast_high_rub)}."
        )
    if facts.prob_reach_plan is not None:
        lines.append(f"Вероятность выполнить план: {format_pct(facts.prob_reach_plan * 100)}.")
    if facts.leads_needed is not None:
        lines.append(f"Нужно дополнительных лидов: {round(facts.leads_needed)}.")
    for m in facts.lagging_managers:
        lines.append(
            f"Отстаёт: {m.manager_name} ({m.department_name or 'отдел не указан'}): "
            f"{format_rub(m.actual_rub)} из {format_rub(m.plan_rub)}, {format_pct(m.fulfilment_pct)} "
            f"при ожидаемых {format_pct(m.expected_pct)}."
        )
    for a in facts.anomalies:
        lines.append(f"Аномалия: {anomaly_sentence(a)}.")
    return "\n".join(lines)


_BULLET = re.compile(r"^\s*(?:[-–—•*]|\d+[.)])\s*")


def clean_recommendations(items: list[str]) -> list[str]:
    """GPT's list -> up to 5 recommendations (bullets and numbers a model may still add removed, blanks dropped)."""
    cleaned = [_BULLET.sub("", item).strip() for item in items]
    return [item for item in cleaned if item][:MAX_RECOMMENDATIONS]
