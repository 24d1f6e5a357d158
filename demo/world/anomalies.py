"""Deal anomalies injected into the finished book: a day of mass losses, unusually big wins, and
one manager's proposals that stop converting for three weeks.

Each lands on a day (or weeks) no other anomaly of that manager took, for a healthy manager at work,
and is written to the ground truth beside the zero-activity days (demo.world.absences).
"""

from __future__ import annotations

from demo.world.base import DAY, rng_for
from demo.world.channel_events import truth_row
from demo.world.deals import Book
from demo.world.sizes import SizeSpec

_TRIES = 500  # a small world may have too few candidates; give up rather than loop forever


def inject_deal_anomalies(seed: int, spec: SizeSpec, book: Book) -> None:
    """Close a dozen or more stale deals of one manager as lost in one day; add a few very large wins."""
    cal, org, absences = book.cal, book.org, book.absences
    rng = rng_for(seed, "spikes")
    candidates = [
        i for i in cal.work_days if cal.start_i + 20 <= i <= cal.today_i - 2 and i not in absences.anomaly_days
    ]
    healthy = [m for m in org.mgrs if not m.burnout]
    done = 0
    tries = 0
    while done < spec.lost_spikes and tries < _TRIES:
        tries += 1
        i = rng.choice(candidates)
        m = rng.choice(healthy)
        if not m.employed(i) or absences.off(m, i):
            continue
        day_start, day_end = i * DAY, (i + 1) * DAY
        # stale deals that were heading for a loss anyway are closed in one sweep (a funnel clean-up)
        open_deals = [
            d
            for d in book.deals
            if d["mgr"] == m.uid
            and d["create"] < day_start
            and not d["won"]
            and (d["close"] is None or d["close"] >= day_end)
        ]
        if len(open_deals) < 12:
            continue
        victims = rng.sample(open_deals, min(len(open_deals), rng.randint(12, 18)))
        for d in victims:
            d["won"] = False
            d["close"] = i * DAY + rng.randrange(15 * 3600, 18 * 3600)
            d["lost_reason"] = "Неактуально"
            d["edit"] = None
        candidates.remove(i)
        absences.anomaly_days.add(i)
        done += 1
        absences.truth.append(
            truth_row(
                cal.day_str[i],
                "lost_spike",
                "lost_count",
                "manager",
                str(m.uid),
                f"lost_spike:{m.uid}:{cal.day_str[i]}",
                f"Всплеск проигранных сделок: {len(victims)} закрыты как «Неактуально» за день",
            )
        )
    done = 0
    tries = 0
    while done < spec.big_wins and tries < _TRIES:
        tries += 1
        i = rng.choice(candidates)
        m = rng.choice([x for x in healthy if x.kind == "corp"] or healthy)
        if not m.employed(i - 40) or not m.employed(i) or absences.off(m, i):
            continue
        create = cal.moment(rng, i - rng.randint(25, 40), m.shift_h)
        create = absences.work_moment(rng, m, create)
        deal = book.new_deal(rng, m, 0, create, "RECOMMENDATION", None, book.new_company(rng), False)
        rub = round(4_000_000 * m.size * rng.uniform(0.9, 1.3), -3)
        deal.update(
            won=True, close=cal.moment(rng, i, m.shift_h), currency="RUB", opp=f"{rub:.2f}", lost_reason=None, edit=None
        )
        book.deals.append(deal)
        candidates.remove(i)
        absences.anomaly_days.add(i)
        done += 1
        absences.truth.append(
            truth_row(
                cal.day_str[i],
                "big_win",
                "won_rub",
                "manager",
                str(m.uid),
                f"big_win:{m.uid}:{cal.day_str[i]}",
                f"Крупная сделка на {rub:,.0f} ₽ — в разы выше обычной выручки менеджера за день".replace(",", " "),
            )
        )


CONVERSION_DROP_WORK_DAYS = 15  # three working weeks of collapse
CONVERSION_DROP_WIN_KEPT = 0.2  # share of the deals that were going to be won that still are
STALL_STAGE = ("PREPARATION", "PREPAYMENT_INVOICE")  # pipeline 0: proposal -> prepayment invoice


def inject_conversion_drops(seed: int, spec: SizeSpec, book: Book) -> None:
    """One manager's proposals stop working for three weeks: the pipeline-0 deals that reach a
    decision in that time mostly die right after the proposal (lost at "Подготовка КП"), where
    they usually go on to the invoice. A real story: a new price list, a template with a wrong
    offer, a manager who stopped following up on proposals."""
    cal, org, absences = book.cal, book.org, book.absences
    rng = rng_for(seed, "conversion-drop")
    lead_in = min(150, (cal.today_i - cal.start_i) // 2)  # the manager's usual conversion comes first
    starts = [i for i in cal.work_days if cal.start_i + lead_in <= i <= cal.today_i - 30]
    candidates = [m for m in org.mgrs if m.kind == "new" and not m.burnout]
    taken = {(int(t["subject_id"]), t["day"]) for t in absences.truth if t["subject_type"] == "manager"}
    done = tries = 0
    while done < spec.conversion_drops and tries < _TRIES and starts and candidates:
        tries += 1
        m = rng.choice(candidates)
        k = cal.work_days.index(rng.choice(starts))
        span = cal.work_days[k : k + CONVERSION_DROP_WORK_DAYS]
        if len(span) < CONVERSION_DROP_WORK_DAYS or not m.employed(span[0] - 60) or not m.employed(span[-1] + 20):
            continue
        if any((m.uid, cal.day_str[j]) in taken for j in range(span[0] - 10, span[-1] + 20)):
            continue  # another of this manager's anomalies nearby would blur both
        first, last = span[0] * DAY, (span[-1] + 1) * DAY
        deciding = [
            d for d in book.deals if d["mgr"] == m.uid and d["pipe"] == 0 and d["close"] and first <= d["close"] < last
        ]
        # a win that later brought a repeat sale stays won (the repeat sale needs its earlier win)
        returning = {d["company"] for d in book.deals if d["repeat"]}
        for d in deciding:
            if d["won"] and d["company"] not in returning and rng.random() >= CONVERSION_DROP_WIN_KEPT:
                d.update(won=False, lost_reason=rng.choice(("Дорого", "Выбрали конкурента")), edit=None)
            if not d["won"]:
                d["stall"] = STALL_STAGE[0]  # the stage history ends there (demo.world.history)
        candidates.remove(m)
        done += 1
        event = f"stage_conversion_drop:{m.uid}:{cal.day_str[span[0]]}"
        for j in span:
            taken.add((m.uid, cal.day_str[j]))
            absences.truth.append(
                truth_row(
                    cal.day_str[j],
                    "stage_conversion_drop",
                    f"stage_conversion:{STALL_STAGE[0]}->{STALL_STAGE[1]}",
                    "manager",
                    str(m.uid),
                    event,
                    "Обвал конверсии «Подготовка КП» → «Счёт на предоплату»: сделки после КП почти все "
                    f"проиграны {CONVERSION_DROP_WORK_DAYS} рабочих дней подряд",
                )
            )
