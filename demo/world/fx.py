"""CBR exchange rates of the world: a mean-reverting random walk per currency, published on working days.

USD/RUB walks around its starting level; EUR and CNY follow through the EUR/USD and USD/CNY crosses,
so the three stay coherent. The walk moves every calendar day but the CBR publishes only on working
days (plus the first day, so every day of the world has a rate on or before it).
"""

from __future__ import annotations

import bisect
import math
from typing import Any

from demo.world.base import rng_for
from demo.world.calendar import Calendar

CURRENCIES = ("USD", "EUR", "CNY")
_LEAD_DAYS = 20  # rates start before the world so its first days already have one


class RateSeries:
    """The published rates (CSV rows) and a lookup by day index."""

    def __init__(self, seed: int, cal: Calendar) -> None:
        rng = rng_for(seed, "rates")
        usd, eurusd, usdcny = 88.0 + rng.uniform(-6, 6), 1.08 + rng.uniform(-0.03, 0.03), 7.2 + rng.uniform(-0.1, 0.1)
        anchor = usd
        self.rows: list[dict[str, Any]] = []
        self.days: list[int] = []
        self.values: dict[str, list[float]] = {code: [] for code in CURRENCIES}
        first = cal.start_i - _LEAD_DAYS
        for i in range(first, cal.n_days):
            usd *= math.exp(rng.gauss(0, 0.006) + 0.02 * math.log(anchor / usd))
            eurusd *= math.exp(rng.gauss(0, 0.003) + 0.02 * math.log(1.08 / eurusd))
            usdcny *= math.exp(rng.gauss(0, 0.002) + 0.02 * math.log(7.2 / usdcny))
            if not cal.working[i] and i != first:
                continue
            vals = {"USD": round(usd, 4), "EUR": round(usd * eurusd, 4), "CNY": round(usd / usdcny, 4)}
            self.days.append(i)
            for code in CURRENCIES:
                self.values[code].append(vals[code])
                self.rows.append({"date": cal.day_str[i], "char_code": code, "nominal": 1, "value": vals[code]})

    def rate(self, i: int, code: str) -> float:
        """Rubles per unit of `code` on day index i: the last published rate (the first one before it)."""
        if code == "RUB":
            return 1.0
        k = bisect.bisect_right(self.days, i) - 1
        return self.values[code][max(k, 0)]
