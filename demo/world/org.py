"""The sales organisation: departments, managers with their skill, and their stories over time.

Stories the reports must be able to show: the burnout manager (three strong months, then a month
with activity down ~70%), and in M/L a newcomer ramping up and a leaver whose work passes to a
colleague (`Book.hand_over_leavers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from demo.world.base import TIMEZONE, rng_for
from demo.world.calendar import Calendar
from demo.world.reference import FEMALE, MALE, SURNAMES
from demo.world.sizes import SizeSpec


@dataclass
class Manager:
    uid: int
    dept_id: int
    kind: str
    first: str
    last: str
    gender: str
    skill: float
    act: float
    win: float
    size: float
    pipelines: tuple[int, ...]
    tz: str
    shift_h: int
    hire: int  # first day index employed
    fire: int | None  # day index of dismissal (no work from this day on), None if employed
    burnout: bool = False

    def employed(self, i: int) -> bool:
        return i >= self.hire and (self.fire is None or i < self.fire)


class Org:
    """Departments (Bitrix24 records) and managers; `form` gives a manager's shape on a given day."""

    def __init__(self, seed: int, spec: SizeSpec, cal: Calendar) -> None:
        self.cal = cal
        rng = rng_for(seed, "org")
        self.departments: list[dict[str, Any]] = [
            {"ID": "1", "NAME": "ООО «Демо Продажи»", "SORT": "100", "UF_HEAD": "1"}
        ]
        self.mgrs: list[Manager] = []
        names = [(f, s, "M") for f in MALE for s in SURNAMES] + [(f, s + "а", "F") for f in FEMALE for s in SURNAMES]
        rng.shuffle(names)
        name_iter = iter(names)
        uid = 2
        for d_no, (kind, dname, count) in enumerate(spec.departments):
            dept_id = d_no + 2
            first_uid = uid
            for k in range(count):
                first, last, gender = next(name_iter)
                skill = rng.uniform(0.7, 1.3) if k else rng.uniform(1.1, 1.3)  # the head sells well
                pipelines = (0, 1) if kind == "new" else (0, 1, 2)
                regional = "Регионы" in dname and k % 4 == 3
                self.mgrs.append(
                    Manager(
                        uid=uid,
                        dept_id=dept_id,
                        kind=kind,
                        first=first,
                        last=last,
                        gender=gender,
                        skill=skill,
                        act=max(0.5, skill * rng.uniform(0.8, 1.2)),
                        win=skill**0.6 * rng.uniform(0.9, 1.1),
                        size=rng.uniform(0.8, 1.25) * (1.2 if kind == "corp" else 1.0),
                        pipelines=pipelines,
                        tz="Asia/Yekaterinburg" if regional else TIMEZONE,
                        shift_h=2 if regional else 0,
                        hire=0,
                        fire=None,
                    )
                )
                uid += 1
            self.departments.append(
                {
                    "ID": str(dept_id),
                    "NAME": dname,
                    "SORT": str(100 * (d_no + 2)),
                    "PARENT": "1",
                    "UF_HEAD": str(first_uid),
                }
            )
        n_months_world = cal.month_of[cal.today_i] - cal.month_of[cal.start_i] + 1
        m0 = cal.month_of[cal.start_i]
        # The burnout manager: a good seller in the first department; 3 good months, then a burnout month.
        self.burnout_month = m0 + (3 if n_months_world <= 6 else n_months_world - 5)
        self.mgrs[1].burnout = True
        self.mgrs[1].skill = max(self.mgrs[1].skill, 1.0)
        if spec.hire_fire:
            # One newcomer hired 8 months ago (ramps up), one leaver dismissed mid-month 5 months ago.
            new_dept = [m for m in self.mgrs if m.kind == "new" and not m.burnout]
            newcomer, leaver = new_dept[-1], new_dept[-2]
            newcomer.hire = cal.next_working(cal.month_start_i[cal.month_of[cal.today_i] - 8] + 3)
            newcomer.skill = newcomer.act = 0.8
            leaver.fire = cal.month_start_i[cal.month_of[cal.today_i] - 5] + 14
        self.by_uid = {m.uid: m for m in self.mgrs}

    def form(self, m: Manager, i: int) -> tuple[float, float, float]:
        """(activity, sales, win) multipliers of manager m on day i: burnout story and newcomer ramp-up."""
        a = s = w = 1.0
        if m.burnout:
            mo = self.cal.month_of[i]
            if self.burnout_month - 3 <= mo < self.burnout_month:
                a, s, w = 1.25, 1.2, 1.1
            elif mo == self.burnout_month:
                a, s, w = 0.3, 0.5, 0.7
            elif mo > self.burnout_month:
                a, s, w = 0.85, 0.85, 0.9
        if m.hire and i >= m.hire:
            ramp = min(1.0, 0.4 + 0.6 * (i - m.hire) / 90)
            s, w = s * ramp, w * (0.7 + 0.3 * ramp)
        return a, s, w
