"""Russian names of the metrics the anomaly model writes (ml.manager_anomalies.top_metric) and of its subjects.

Why a module of its own: the insights' text and the report's pages both name these metrics, and
the asset stages may not import each other (pyproject's import contracts), so the one list lives
here. A metric the list does not know yet reads as a neutral phrase, never as a column name.
"""

from __future__ import annotations

# lower case: the insights put them mid-sentence; the report capitalises them (metric_title)
METRIC_LABELS: dict[str, str] = {
    "leads_assigned": "назначено лидов",
    "deals_created": "создано сделок",
    "won_count": "выиграно сделок",
    "won_rub": "выручка",
    "calls_out": "исходящие звонки",
    "calls_in": "входящие звонки",
    "calls_missed": "пропущенные звонки",
    "call_minutes": "минуты разговоров",
    "emails": "письма",
    "meetings": "встречи",
    "messages": "сообщения",
    "tasks_done": "выполнено задач",
    "tasks_overdue": "просрочено задач",
    "activities_total": "всего активностей",
    "lost_count": "проиграно сделок",
    "median_response_minutes": "время реакции на новые лиды и сделки, мин",
    "avg_deal_rub": "средний чек",
    "stage_conversion": "конверсия этапа, % сделок",
    "spend_rub": "расход на рекламу",
    "leads": "лидов из канала",
    "cpl_rub": "стоимость лида",
    "cpa_rub": "стоимость сделки",
}
UNKNOWN_METRIC = "другой показатель"


def metric_title(metric: str | None) -> str:
    """The metric's label as a table cell reads it: `Исходящие звонки`, or `Другой показатель`."""
    label = METRIC_LABELS.get(metric or "", UNKNOWN_METRIC)
    return label[:1].upper() + label[1:]


# Who or what an anomaly is about, around the subject's name: a manager's name stands alone.
SUBJECT_WRAPS: dict[str, tuple[str, str]] = {"channel": ("канал ", ""), "pipeline": ("воронка «", "»")}


def subject_title(subject_type: str | None, name: str) -> str:
    """Who or what an anomaly is about, mid-sentence: the manager's name, `канал Яндекс.Директ`,
    `воронка «Новые продажи»` (a pipeline's stage conversion is not any one manager's)."""
    before, after = SUBJECT_WRAPS.get(subject_type or "", ("", ""))
    return f"{before}{name}{after}"
