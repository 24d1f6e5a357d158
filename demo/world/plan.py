"""The monthly sales plan per manager and pipeline, as a head of sales would set it.

Derived from what each manager actually won (the plan must be reachable, sometimes missed, sometimes
beaten): his long-run level blended with his last three months, times each month's seasonal capacity
(itself blended with the company's own monthly shape), with some noise. Newcomers get half a plan in
their first month; a leaver's plan ends with his dismissal month.
"""

from __future__ import annotations

from typing import Any

from demo.world.base import DAY, rng_for
from demo.world.deals import Book


def build_plan(seed: int, book: Book) -> list[dict[str, Any]]:
    """plan.csv rows (month, manager_id, pipeline_id, amount_rub, deal_count, bonus_*), sorted."""
    cal = book.cal
    rng = rng_for(seed, "plan")
    m0, m_last = cal.month_of[cal.start_i], cal.month_of[cal.today_i]
    actual: dict[tuple[int, int, int], float] = {}
    counts: dict[tuple[int, int, int], int] = {}
    for d in book.deals:
        if d["won"] and d["close"] is not None and d["close"] >= cal.start_sec:
            mgr = d["reassign"][0] if d["reassign"] else d["mgr"]
            ci = d["close"] // DAY
            key = (mgr, d["pipe"], cal.month_of[ci])
            actual[key] = actual.get(key, 0.0) + float(d["opp"]) * book.fx.rate(ci, d["currency"])
            counts[key] = counts.get(key, 0) + 1
    # seasonal capacity of each month: sum of daily sales factors over the whole month
    # (lagged by the deal cycle: what is won on day i was created in the weeks before it)
    cap: dict[int, float] = {}
    window = 21
    run = sum(cal.sales_f[:window])
    for i in range(window, len(cal.days)):
        run += cal.sales_f[i] - cal.sales_f[i - window]
        mo = cal.month_of[i]
        cap[mo] = cap.get(mo, 0.0) + run / window
    # ...blended with the company's own monthly shape (planners know January from last January)
    company: dict[int, float] = {}
    for (_, _, mo), rub in actual.items():
        company[mo] = company.get(mo, 0.0) + rub
    full = [mo for mo in range(m0, m_last)]
    if full:
        scale = sum(cap[mo] for mo in full) / max(1.0, sum(company.get(mo, 0.0) for mo in full))
        for mo in full:
            cap[mo] = 0.5 * cap[mo] + 0.5 * company.get(mo, 0.0) * scale
    plan: list[dict[str, Any]] = []
    for m in book.org.mgrs:
        first = max(m0, cal.month_of[m.hire])
        last = m_last if m.fire is None else min(m_last, cal.month_of[m.fire])
        for pipe in m.pipelines:
            level = [actual.get((m.uid, pipe, mo), 0.0) / cap[mo] for mo in range(m0, m_last + 1)]
            complete = [lv for mo, lv in zip(range(m0, m_last + 1), level) if mo < m_last]
            longrun = sum(complete) / len(complete) if complete else level[0]
            won_n = sum(counts.get((m.uid, pipe, mo), 0) for mo in range(m0, m_last + 1))
            won_rub = sum(actual.get((m.uid, pipe, mo), 0.0) for mo in range(m0, m_last + 1))
            avg_deal = won_rub / won_n if won_n else 150_000.0
            for mo in range(first, last + 1):
                k = mo - m0
                trailing = [level[j] for j in range(max(0, k - 3), k)]
                if trailing:
                    base = 0.35 * sum(trailing) / len(trailing) + 0.65 * longrun
                else:
                    base = 0.5 * level[0] + 0.5 * longrun
                amount = base * cap[mo] * rng.uniform(0.92, 1.08)
                if m.hire and mo == cal.month_of[m.hire]:
                    amount *= 0.5
                amount = max(50_000, int(round(amount, -4)))
                y, mm = cal.months[mo]
                threshold = 90 if m.kind == "corp" else 100
                plan.append(
                    {
                        "month": f"{y:04d}-{mm:02d}",
                        "manager_id": m.uid,
                        "pipeline_id": pipe,
                        "amount_rub": amount,
                        "deal_count": max(1, round(amount / avg_deal)),
                        "bonus_threshold_pct": threshold,
                        "bonus_rub": int(round(amount * 0.03, -3)),
                    }
                )
    plan.sort(key=lambda r: (r["month"], r["manager_id"], r["pipeline_id"]))
    return plan
