"""Days a manager does not work: zero-activity anomalies, chosen before any deal or activity.

They are decided first so that deals and activities avoid them (`work_moment`), which makes them
true zero days in the data; each is written to the ground truth (`anomalies_truth.csv`).
"""

from __future__ import annotations

import random
from typing import Any

from demo.world.base import DAY, rng_for
from demo.world.calendar import Calendar
from demo.world.channel_events import truth_row
from demo.world.org import Manager, Org
from demo.world.sizes import SizeSpec


class Absences:
    """(manager uid, day index) pairs off work, the anomalies' ground truth and the days they took."""

    def __init__(self, seed: int, spec: SizeSpec, cal: Calendar, org: Org) -> None:
        self.cal = cal
        rng = rng_for(seed, "absent")
        self.absent: set[tuple[int, int]] = set()
        self.truth: list[dict[str, Any]] = []
        candidates = [i for i in cal.work_days if cal.start_i + 10 <= i <= cal.today_i - 3]
        burn = next(m for m in org.mgrs if m.burnout)
        taken_days: set[int] = set()
        while len(self.absent) < spec.zero_activity_anomalies:
            i = rng.choice(candidates)
            m = rng.choice(org.mgrs)
            if i in taken_days or not m.employed(i - 7) or not m.employed(i + 3):
                continue
            if m is burn and abs(cal.month_of[i] - org.burnout_month) <= 1:
                continue
            self.absent.add((m.uid, i))
            taken_days.add(i)
            self.truth.append(
                truth_row(
                    cal.day_str[i],
                    "zero_activity",
                    "activities_total",
                    "manager",
                    str(m.uid),
                    f"zero_activity:{m.uid}:{cal.day_str[i]}",
                    "Ноль активностей за рабочий день (звонки, письма, встречи, задачи)",
                )
            )
        # The morning alert needs something real to report: one manager is silent on the world's
        # last working day, so the demo's "today" always carries a known anomaly.
        last = max(i for i in cal.work_days if i <= cal.today_i)
        pool = [m for m in org.mgrs if not m.burnout and m.employed(last - 7) and m.employed(last)]
        silent = rng.choice(pool)
        self.absent.add((silent.uid, last))
        taken_days.add(last)
        self.truth.append(
            truth_row(
                cal.day_str[last],
                "zero_activity",
                "activities_total",
                "manager",
                str(silent.uid),
                f"zero_activity:{silent.uid}:{cal.day_str[last]}",
                "Ноль активностей в последний рабочий день (утренний алерт)",
            )
        )
        # days already carrying an anomaly: the deal anomalies pick other days, so each stays readable
        self.anomaly_days = taken_days
        burn_days = [
            i for i in range(cal.start_i, cal.today_i + 1) if cal.working[i] and cal.month_of[i] == org.burnout_month
        ]
        for i in burn_days:
            self.truth.append(
                truth_row(
                    cal.day_str[i],
                    "burnout",
                    "activities_total",
                    "manager",
                    str(burn.uid),
                    f"burnout:{burn.uid}:{cal.day_str[burn_days[0]]}",
                    "Выгорание: активность упала примерно на 70% после трёх сильных месяцев",
                )
            )

    def off(self, m: Manager, i: int) -> bool:
        """Whether manager m is absent on day index i."""
        return (m.uid, i) in self.absent

    def work_moment(self, rng: random.Random, m: Manager, sec: int, allow_weekend: float = 0.0) -> int:
        """Move `sec` onto a working moment of m (working day, not absent), keeping it if already fine."""
        working = self.cal.working
        i = sec // DAY
        if i >= len(working) - 1:
            return sec
        ok = (working[i] or rng.random() < allow_weekend) and (m.uid, i) not in self.absent
        if ok:
            return sec
        j = i + 1
        while j < len(working) - 1 and (not working[j] or (m.uid, j) in self.absent):
            j += 1
        return self.cal.moment(rng, j, m.shift_h)
