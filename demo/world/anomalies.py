"""Deal anomalies injected into the finished book: a day of mass losses, and unusually big wins.

Each lands on a day no other anomaly took, for a healthy manager at work that day, and is written to
the ground truth beside the zero-activity days (demo.world.absences).
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
