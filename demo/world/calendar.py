"""The world's days: which are working (Russian production calendar), demand factors, office hours.

Days are indexed from the origin (the world start minus the warm-up); a moment is seconds since the
origin's midnight. The arrays run 40 days past `today` so a deal planned beyond the end still finds
its next working day.
"""

from __future__ import annotations

import bisect
import math
import random
from datetime import date, datetime, timedelta
from itertools import accumulate

from demo.world.base import DAY, MSK, WARMUP_DAYS, end_of_day, format_ts, parse_ts

# Yearly shape of demand (sales) by calendar month; day-level effects are added in Calendar.
MONTH_SEASON = {1: 0.75, 2: 0.95, 3: 1.05, 4: 1.0, 5: 0.85, 6: 0.95, 7: 0.9, 8: 0.9, 9: 1.05, 10: 1.1, 11: 1.1, 12: 1.2}
HOUR_WEIGHTS = (
    (9, 0.6),
    (10, 1.0),
    (11, 1.2),
    (12, 1.0),
    (13, 0.6),
    (14, 1.0),
    (15, 1.1),
    (16, 1.0),
    (17, 0.8),
    (18, 0.4),
)
_HOURS = [h for h, _ in HOUR_WEIGHTS]
_HOUR_CUM = list(accumulate(w for _, w in HOUR_WEIGHTS))
_DAYS_PAST_TODAY = 40


def russian_holidays(year: int) -> set[date]:
    """Non-working public holidays (simplified production calendar: fixed dates, weekend ones move to Monday)."""
    days = {date(year, 1, d) for d in range(1, 9)} | {date(year, 12, 31)}
    for m, d in ((2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)):
        h = date(year, m, d)
        days.add(h)
        if h.weekday() >= 5:
            days.add(h + timedelta(days=7 - h.weekday()))
    return days


class Calendar:
    """Day arrays from the origin (start - warm-up) to 40 days past `today`, and their demand factors."""

    def __init__(self, start: date, today: date, warmup_days: int = WARMUP_DAYS) -> None:
        self.start, self.today = start, today
        self.origin = start - timedelta(days=warmup_days)
        self.start_i = warmup_days
        self.today_i = (today - self.origin).days
        self.n_days = self.today_i + 1
        self.end_sec = self.n_days * DAY - 1
        self.start_sec = self.start_i * DAY
        holidays: set[date] = set()
        for y in range(self.origin.year - 1, self.today.year + 2):
            holidays |= russian_holidays(y)
        self.days = [self.origin + timedelta(days=i) for i in range(self.n_days + _DAYS_PAST_TODAY)]
        self.day_str = [d.isoformat() for d in self.days]
        self.working = [d.weekday() < 5 and d not in holidays for d in self.days]
        months: list[tuple[int, int]] = []
        self.month_of: list[int] = []
        for d in self.days:
            key = (d.year, d.month)
            if not months or months[-1] != key:
                months.append(key)
            self.month_of.append(len(months) - 1)
        self.months = months
        self.sales_f: list[float] = []
        self.act_f: list[float] = []
        self.lead_f: list[float] = []
        for i, d in enumerate(self.days):
            years = (d - self.start).days / 365.0
            trend = 1.0 + 0.10 * years
            season = MONTH_SEASON[d.month]
            if d.month == 5 and d.day <= 11:
                season *= 0.55  # May holidays: people are at their dachas
            elif d.month == 12 and d.day >= 22:
                season *= 1.15  # year-end budget rush
            elif d.month == 1 and d.day <= 15:
                season *= 0.7  # slow restart after the New Year
            if self.working[i]:
                self.sales_f.append(season * trend)
                self.act_f.append(math.sqrt(season))
                self.lead_f.append(season * trend)
            else:
                self.sales_f.append(0.05 * season * trend)
                self.act_f.append(0.0)
                self.lead_f.append(0.3 * season * trend)
        self.work_days = [i for i in range(self.n_days + _DAYS_PAST_TODAY) if self.working[i]]
        self.month_index = {key: k for k, key in enumerate(months)}
        self.month_start_i: dict[int, int] = {}
        for i in range(len(self.days)):
            self.month_start_i.setdefault(self.month_of[i], i)

    def next_working(self, i: int) -> int:
        """The first working day index >= i."""
        k = bisect.bisect_left(self.work_days, i)
        return self.work_days[k]

    def moment(self, rng: random.Random, i: int, shift_h: int = 0) -> int:
        """A moment within working hours of day i (hour drawn from a two-humped office-day profile)."""
        hour = rng.choices(_HOURS, cum_weights=_HOUR_CUM)[0] - shift_h
        return i * DAY + hour * 3600 + rng.randrange(3600)

    def sales_trend(self, i: int) -> float:
        """Growth of deal sizes: +10% a year from the world start."""
        return 1.0 + 0.10 * (i - self.start_i) / 365.0

    def ts(self, sec: int) -> str:
        """Internal moment -> Bitrix24 timestamp string."""
        return format_ts(self.origin, sec)

    def sec(self, ts: str) -> int:
        """A Bitrix24 timestamp written by this world back to its internal moment."""
        return int((parse_ts(ts) - datetime.combine(self.origin, datetime.min.time(), MSK)).total_seconds())

    @property
    def end(self) -> datetime:
        """The last moment of the world: `today` 23:59:59 Moscow."""
        return end_of_day(self.today)
