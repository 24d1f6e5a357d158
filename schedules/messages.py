"""The Telegram texts of the digest and the alerts (pure functions, Telegram HTML).

Kept apart from the sensors so the wording is tested without Dagster and so every alert follows
docs/KPI.md: the metric, its value, the usual value, who owns it, one next step.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from assets.insights.facts import AnomalyFact, DayFacts
from assets.insights.writer import (
    anomaly_label,
    format_day,
    format_pct,
    format_rub,
    format_value,
    next_step,
)
from resources.telegram import escape_html as e
from schedules.alert_rules import plural
from schedules.drivers import Driver, compact_rub

MAX_DETAIL_CHARS = 1500


DIGEST_INSIGHTS = 3
DIGEST_INSIGHT_CHARS = 180  # one recommendation in the digest; the site shows it whole
ACTION_SHARE = 2 / 3  # the closing sentence kept whole while it takes at most this share of the line


def signed_rub(amount: float) -> str:
    """-6400000 -> '−6 400 000 ₽', 12000 -> '+12 000 ₽' (a change, with its sign)."""
    if round(amount) == 0:
        return "±0 ₽"
    return ("+" if amount > 0 else "−") + format_rub(abs(amount))


def _cut(text: str, limit: int) -> str:
    """`text`, cut at a word before `limit` characters with '…' when longer."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:—–-") + "…"


def shorten(text: str, limit: int = DIGEST_INSIGHT_CHARS) -> str:
    """`text` within `limit` characters, its closing sentence kept whole.

    Why: a recommendation ends with what to do ("…попросите менеджера связаться с клиентом сегодня."),
    and a plain cut at the limit dropped exactly that; the start is cut instead ("…" where it was).
    """
    text = text.strip()
    if len(text) <= limit:
        return text
    head, _, action = text.rpartition(". ")
    if head and len(action) + 1 <= limit * ACTION_SHARE:
        return f"{_cut(head + '.', limit - len(action) - 1)} {action}"
    return _cut(text, limit)


def digest_html(
    facts: DayFacts,
    recommendations: Sequence[str],
    source: str,
    site_url: str | None = None,
    drivers: Sequence[Driver] = (),
) -> str:
    """The 09:00 digest, one phone screen: plan vs actual, the forecast and its change since yesterday,
    the probability of plan, who moved the forecast most (`drivers`, one line each), the deals and
    calls to chase, the day's top recommendations, the site."""
    lines = [f"📊 <b>Продажи на {format_day(facts.as_of_day)}</b>"]
    if facts.plan_rub > 0:
        lines.append(
            f"План {format_rub(facts.plan_rub)} · факт <b>{format_rub(facts.actual_mtd_rub)}</b> "
            f"({format_pct(facts.fulfilment_pct or 0)})"
        )
    else:
        lines.append(f"Факт <b>{format_rub(facts.actual_mtd_rub)}</b> (план не загружен)")
    if facts.forecast_rub is not None:
        forecast = f"Прогноз на конец месяца <b>{format_rub(facts.forecast_rub)}</b>"
        change = facts.forecast_change_rub
        if change is not None and facts.forecast_yesterday_rub:
            pct = f"{change / facts.forecast_yesterday_rub * 100:+.1f}".replace("-", "−").replace(".", ",")
            forecast += f" ({signed_rub(change)}, {pct} % за сутки)"
        lines.append(forecast)
        if facts.prob_reach_plan is not None:
            lines.append(f"Вероятность выполнить план: {format_pct(facts.prob_reach_plan * 100)}")
        if drivers:
            lines.append("Что сдвинуло прогноз за сутки:")
            lines.extend(f"• {e(d.name)} {compact_rub(d.change_rub)}" for d in drivers)
    chase = []
    if facts.forgotten_deals is not None:
        chase.append(
            f"забытых сделок {facts.forgotten_deals} на {format_rub(facts.forgotten_deals_rub)}"
            if facts.forgotten_deals
            else "забытых сделок нет"
        )
    if facts.missed_calls_yesterday is not None:
        chase.append(f"пропущенных звонков вчера {facts.missed_calls_yesterday}")
    if chase:
        lines.append(("; ".join(chase)).capitalize())
    if recommendations:
        lines.append("")
        lines.append("<b>Главное</b>" if source == "openai" else "<b>Главное</b> (по шаблону)")
        lines.extend(f"{i}. {e(shorten(text))}" for i, text in enumerate(recommendations[:DIGEST_INSIGHTS], 1))
    if site_url:
        lines.append("")
        lines.append(f'<a href="{html.escape(site_url, quote=True)}">Открыть отчёт</a>')
    return "\n".join(lines)


def anomaly_alert_html(anomaly: AnomalyFact, day: date) -> str:
    """One anomaly alert for the head of sales (a pipeline's too: the CRM names no head of a pipeline)."""
    owner = {
        "channel": f"Канал: {e(anomaly.manager_name)}",
        "pipeline": f"Воронка: {e(anomaly.manager_name)} (всех менеджеров, не одного)",
    }.get(anomaly.subject_type, f"Ответственный: {e(anomaly.manager_name)}")
    step = next_step(anomaly)
    return "\n".join(
        [
            f"⚠️ <b>Аномалия: {e(anomaly_label(anomaly))}</b> ({format_day(day)})",
            f"Значение: <b>{e(format_value(anomaly.metric, anomaly.value))}</b>, "
            f"обычно {e(format_value(anomaly.metric, anomaly.usual))}",
            owner,
            f"Что сделать: {e(step)}.",
        ]
    )


def ui_link(ui_url: str | None, path: str, label: str) -> str | None:
    """A link into the Dagster UI (DAGSTER_UI_URL) for a Telegram message; None without the setting."""
    if not ui_url:
        return None
    return f'<a href="{html.escape(ui_url.rstrip("/") + path, quote=True)}">{e(label)}</a>'


def run_path(run_id: str) -> str:
    return f"/runs/{quote(run_id)}"


def asset_path(asset: str) -> str:
    """The UI's page of an asset key written as 'a/b' (AssetKey.to_user_string)."""
    return "/assets/" + "/".join(quote(part) for part in asset.split("/"))


def run_failure_html(
    job_name: str,
    run_id: str,
    partition: str | None,
    message: str,
    failed_steps: Mapping[str, str],
    ui_url: str | None = None,
) -> str:
    """A failed run, for the on-call chat (with a link to the run when DAGSTER_UI_URL is set)."""
    lines = [f"❌ <b>Запуск упал</b>: {e(job_name)}", f"run_id: <code>{e(run_id)}</code>"]
    link = ui_link(ui_url, run_path(run_id), "Открыть запуск в Dagster")
    if link:
        lines.append(link)
    if partition:
        lines.append(f"Партиция: {e(partition)}")
    if message:
        lines.append(e(message[:MAX_DETAIL_CHARS]))
    for step, error in list(failed_steps.items())[:5]:
        lines.append(f"• {e(step)}: {e(error[:400])}")
    lines.append("Что сделать: откройте запуск в Dagster UI, исправьте причину и перезапустите упавшие шаги.")
    return "\n".join(lines)


def check_failure_html(
    asset: str,
    check_name: str,
    severity: str,
    run_id: str,
    partition: str | None,
    description: str | None,
    metadata: Mapping[str, Any],
    blocking: bool = False,
    ui_url: str | None = None,
) -> str:
    """A failed asset check (data quality), for the on-call chat (links to the run and the asset)."""
    lines = [
        f"🔴 <b>Проверка данных не прошла</b>: {e(asset)} / {e(check_name)}",
        f"Серьёзность: {e(severity)}",
        f"run_id: <code>{e(run_id)}</code>",
    ]
    links = [
        link
        for link in (
            ui_link(ui_url, run_path(run_id), "запуск") if run_id else None,
            ui_link(ui_url, asset_path(asset) + "?view=checks", "проверки актива"),
        )
        if link
    ]
    if links:
        lines.append("Открыть в Dagster: " + ", ".join(links))
    if partition:
        lines.append(f"Партиция: {e(partition)}")
    if description:
        lines.append(e(description[:MAX_DETAIL_CHARS]))
    for key, value in list(metadata.items())[:5]:
        lines.append(f"• {e(str(key))}: {e(str(value)[:200])}")
    if blocking:
        lines.append(
            "Что сделать: проверьте источник и модель — это блокирующая проверка, "
            "зависимые данные и отчёт не обновятся, пока она не пройдёт."
        )
    else:
        lines.append("Что сделать: проверьте источник и модель, затем перезапустите материализацию.")
    return "\n".join(lines)


def check_recovered_html(asset: str, check_name: str, failures: int, ui_url: str | None = None) -> str:
    """A check that failed run after run passes again: the end of the one alert its streak sent."""
    lines = [
        f"✅ <b>Проверка снова проходит</b>: {e(asset)} / {e(check_name)}",
        f"До этого не проходила {failures} {plural(failures, ('раз', 'раза', 'раз'))} подряд.",
    ]
    link = ui_link(ui_url, asset_path(asset) + "?view=checks", "Открыть проверки актива в Dagster")
    if link:
        lines.append(link)
    return "\n".join(lines)


def stale_source_html(
    asset: str,
    last_update: datetime | None,
    now: datetime,
    stale_hours: float,
    run_id: str | None = None,
    ui_url: str | None = None,
) -> str:
    """A source with no good load for too long (Dagster's freshness check failed), for the on-call chat.

    `last_update` and `now` are in the company's time zone."""
    lines = [f"⏳ <b>Источник не обновляется</b>: {e(asset)}"]
    if last_update is None:
        lines.append("Удачных загрузок ещё не было.")
    else:
        minutes = max(0, round((now - last_update).total_seconds() / 60))
        lines.append(
            f"Последняя удачная загрузка: {last_update:%d.%m.%Y %H:%M} — {minutes // 60} ч {minutes % 60} мин назад"
        )
    lines.append(f"Ожидается хотя бы раз в {stale_hours:g} ч (SOURCE_STALE_HOURS).")
    links = [
        link
        for link in (
            ui_link(ui_url, run_path(run_id), "проверка") if run_id else None,
            ui_link(ui_url, asset_path(asset), "актив"),
        )
        if link
    ]
    if links:
        lines.append("Открыть в Dagster: " + ", ".join(links))
    lines.append(
        "Что сделать: проверьте, что расписание incremental_refresh_every_15_minutes включено и его запуски "
        "проходят, затем доступ к источнику (адрес, токен, права)."
    )
    return "\n".join(lines)
