"""The units every part of the generator shares: Moscow time, internal moments, seeded streams.

Time: all timestamps are Europe/Moscow wall time written `YYYY-MM-DDThh:mm:ss+03:00` (Moscow has
no DST since 2014, so the offset is constant). Internally a moment is an int of seconds since
00:00 of the generator's origin day (the world start minus a warm-up period).
Determinism: every draw comes from a `random.Random` seeded from (seed, purpose); no global state,
no clock, so the same (size, today, seed) gives byte-identical files.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta, timezone

TIMEZONE = "Europe/Moscow"
MSK = timezone(timedelta(hours=3))
TZ_SUFFIX = "+03:00"
GENERATOR_VERSION = 5
DAY = 86400
WARMUP_DAYS = 60  # deals created before the start and still open at it are kept (a real funnel is never empty)


def rng_for(seed: int, purpose: str) -> random.Random:
    """An independent, reproducible stream per purpose (str seeds hash via SHA-512: stable)."""
    return random.Random(f"{seed}:{purpose}")


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method for small means; normal approximation above 30."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def add_months(d: date, months: int) -> date:
    """The first day of the month `months` after (or before) d's month."""
    total = d.year * 12 + d.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def format_ts(origin: date, sec: int) -> str:
    """Internal moment -> Bitrix24 timestamp string in Moscow time."""
    d = origin + timedelta(days=sec // DAY)
    s = sec % DAY
    return f"{d.isoformat()}T{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}{TZ_SUFFIX}"


def parse_ts(value: str) -> datetime:
    """Bitrix24 timestamp string -> aware datetime (naive strings are read as Moscow time)."""
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=MSK)


def end_of_day(day: date) -> datetime:
    """`day` 23:59:59 Moscow: the last moment of a world that ends on that day."""
    return datetime.combine(day, datetime.max.time().replace(microsecond=0), MSK)
