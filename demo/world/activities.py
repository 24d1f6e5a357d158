"""Activities (calls, emails, meetings, tasks) of every manager, day by day, on the work they hold.

A manager's work items are the leads and deals open in his name (a reassigned one moves to the heir
at the hand-over moment); each activity is attached to one of them open at that moment, else to a
company. Generated as tuples first: their ids are assigned in creation order once all exist.
"""

from __future__ import annotations

import random

from demo.world.base import DAY, poisson, rng_for
from demo.world.deals import Book
from demo.world.org import Manager
from demo.world.sizes import SizeSpec

FIRST_CALL_SLOW_H = (5.0, 9.0)  # hours a blow-out day's new leads wait for their first call
# (created, kind, direction, duration, completed, deadline, updated, subject, manager uid, owner item)
Activity = tuple


def generate_activities(seed: int, spec: SizeSpec, book: Book) -> list[Activity]:
    """Every manager's activities over the world's history (not the warm-up), his stream in day order."""
    cal, org, absences = book.cal, book.org, book.absences
    acts: list[Activity] = []
    # per manager: work items (start, end, CRM owner type 2 deal / 1 lead, record)
    items: dict[int, list[tuple[int, int, int, dict]]] = {m.uid: [] for m in org.mgrs}
    for owner_type, recs in ((2, book.deals), (1, book.leads)):
        for r in recs:
            end = r["close"] if r["close"] is not None else cal.end_sec
            if r["reassign"]:
                heir, t = r["reassign"]
                items[r["mgr"]].append((r["create"], t, owner_type, r))
                items[heir].append((t, end, owner_type, r))
            else:
                items[r["mgr"]].append((r["create"], end, owner_type, r))
    slow = book.events.slow_reply
    for m in org.mgrs:
        rng = rng_for(seed, f"acts-{m.uid}")
        its = sorted(items[m.uid], key=lambda x: (x[0], x[2], x[3]["create"]))
        pos = 0
        active: list[tuple[int, int, int, dict]] = []
        for i in range(cal.start_i, cal.today_i + 1):
            day_start, day_end = i * DAY, (i + 1) * DAY
            while pos < len(its) and its[pos][0] < day_end:
                active.append(its[pos])
                pos += 1
            active = [x for x in active if x[1] >= day_start]
            if not m.employed(i) or absences.off(m, i):
                continue
            a, _, _ = org.form(m, i)
            if cal.working[i]:
                f = cal.act_f[i] * a * spec.activity_scale
            elif rng.random() < 0.08:
                f = 0.15
            else:
                continue
            deals_open = [x for x in active if x[2] == 2]
            leads_open = [x for x in active if x[2] == 1]
            counts = (
                ("call_out", poisson(rng, 5.6 * m.act * f)),
                ("call_in", poisson(rng, 1.6 * f)),
                ("email", poisson(rng, 1.6 * m.act * f)),
                ("meeting", poisson(rng, (0.5 if m.kind == "corp" else 0.25) * f)),
                ("task", poisson(rng, 0.9 * f)),
            )
            for kind, n in counts:
                for _ in range(n):
                    t = cal.moment(rng, i, m.shift_h)
                    if t > cal.end_sec:
                        continue
                    # the owner: an open lead or deal of the manager at that moment, else a company
                    pool = leads_open if (leads_open and (not deals_open or rng.random() < 0.3)) else deals_open
                    cands = [x for x in pool[-40:] if x[0] <= t <= x[1] and not _waiting(x, t, m, slow)] if pool else []
                    owner = rng.choice(cands) if cands else None
                    acts.append(_activity(book, rng, m, kind, t, owner))
        acts.extend(
            _first_calls(seed, book, m, [x for x in its if x[3]["mgr"] == m.uid and x[0] == x[3]["create"]], slow)
        )
    return acts


def _waiting(item: tuple, t: int, m: Manager, slow: set[tuple[int, int]]) -> bool:
    """A lead or deal of a blow-out day that nobody touches before its late first call."""
    return (m.uid, item[0] // DAY) in slow and t - item[0] < FIRST_CALL_SLOW_H[0] * 3600


def _first_calls(seed: int, book: Book, m: Manager, items: list[tuple], slow: set[tuple[int, int]]) -> list[Activity]:
    """The call a new lead or deal gets first: about twenty minutes after it appears on a working day
    (the next working day otherwise); hours late on the manager's response blow-out days."""
    rng = rng_for(seed, f"first-call-{m.uid}")
    cal = book.cal
    out = []
    for item in items:
        create = item[0]
        if (m.uid, create // DAY) in slow:
            delay = int(rng.uniform(*FIRST_CALL_SLOW_H) * 3600)
        else:
            delay = int(60 * rng.lognormvariate(3.0, 0.6))
        t = book.absences.work_moment(rng, m, create + delay)
        if t < cal.start_sec or t > cal.end_sec or t > item[1] or not m.employed(t // DAY):
            continue
        out.append(_activity(book, rng, m, "call_out", t, item))
    return out


def _activity(book: Book, rng: random.Random, m: Manager, kind: str, t: int, owner: tuple | None) -> Activity:
    """One activity; touching its owner's last-activity time as a CRM does."""
    end_sec = book.cal.end_sec
    duration = 0
    completed = True
    deadline = None
    updated = t
    direction = 0
    subject = ""
    if kind == "call_out":
        direction = 2
        if rng.random() < 0.72:
            duration = int(min(3600, 20 + rng.lognormvariate(4.9, 0.8)))
            subject = "Исходящий звонок"
        else:
            subject = "Исходящий звонок (не дозвонился)"
    elif kind == "call_in":
        direction = 1
        if rng.random() < 0.86:
            duration = int(min(3600, 20 + rng.lognormvariate(4.7, 0.8)))
            subject = "Входящий звонок"
        else:
            subject, completed = "Пропущенный звонок", False
    elif kind == "email":
        direction = 2 if rng.random() < 0.75 else 1
        subject = "Коммерческое предложение" if direction == 2 else "Re: Коммерческое предложение"
    elif kind == "meeting":
        direction = 0
        duration = rng.choice((1800, 3600, 3600, 5400))
        subject = rng.choice(("Встреча с клиентом", "Презентация продукта", "Демонстрация"))
    else:  # task
        subject = rng.choice(("Перезвонить клиенту", "Подготовить КП", "Отправить договор", "Уточнить бюджет"))
        deadline = (t // DAY + rng.choice((0, 1, 1, 2, 3, 5))) * DAY + 18 * 3600
        if rng.random() < 0.88:
            done = t + int(rng.expovariate(1 / (20 * 3600)))
            done = book.absences.work_moment(rng, m, done)
            if done <= end_sec:
                updated = done
            else:
                completed = False
        else:
            completed = False
    if updated == t and duration and kind != "meeting":
        updated = t + duration
    if updated > end_sec:
        updated = end_sec
    if owner is not None:
        owner[3]["last_act"] = max(owner[3]["last_act"] or 0, t)
    return (t, kind, direction, duration, completed, deadline, updated, subject, m.uid, owner)
