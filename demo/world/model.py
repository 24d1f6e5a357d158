"""The generated company in memory, as the portals serve it and the tests read it."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from demo.world.base import GENERATOR_VERSION, end_of_day
from demo.world.files import write_world


@dataclass
class World:
    """The generated company in memory; lists of dicts exactly as written to the files.

    `users` ... `activities` are Bitrix24 records (UPPER_CASE keys, string values; `categories`
    camelCase as crm.category.list); so are `companies`, `stage_history_deals` / `_leads`
    (crm.stagehistory.list: typed numbers), `calls` (voximplant.statistic.get) and `tasks`
    (tasks.task.list: lowerCamel keys). `plan`, `rates`, `anomalies` are the CSV rows with typed values.
    """

    size: str
    seed: int
    today: date
    start: date
    timezone: str
    users: list[dict[str, Any]]
    departments: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    leads: list[dict[str, Any]]
    deals: list[dict[str, Any]]
    activities: list[dict[str, Any]]
    plan: list[dict[str, Any]]
    rates: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]
    # crm.company.list, crm.stagehistory.list (entityTypeId 2 / 1), voximplant.statistic.get, tasks.task.list
    companies: list[dict[str, Any]] = field(default_factory=list)
    stage_history_deals: list[dict[str, Any]] = field(default_factory=list)
    stage_history_leads: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    _rate_index: dict[str, tuple[list[str], list[float]]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def end(self) -> datetime:
        """The last moment of the world: `today` 23:59:59 Moscow."""
        return end_of_day(self.today)

    @property
    def meta(self) -> dict[str, Any]:
        """What `world_meta.json` holds: the world's identity, which decides whether a folder is current."""
        return {
            "size": self.size,
            "seed": self.seed,
            "today": self.today.isoformat(),
            "start": self.start.isoformat(),
            "timezone": self.timezone,
            "generator_version": GENERATOR_VERSION,
        }

    def managers(self) -> list[dict[str, Any]]:
        """Users who sell (those with a plan); the head of sales (user 1) is not one."""
        ids = {row["manager_id"] for row in self.plan}
        return [u for u in self.users if int(u["ID"]) in ids]

    def rate(self, day: date | str, char_code: str) -> float:
        """Rubles per ONE unit of `char_code` on `day`: the last CBR rate published on or before it."""
        if char_code == "RUB":
            return 1.0
        if not self._rate_index:
            for row in self.rates:
                days, values = self._rate_index.setdefault(row["char_code"], ([], []))
                days.append(row["date"])
                values.append(row["value"] / row["nominal"])
        key = day if isinstance(day, str) else day.isoformat()
        days, values = self._rate_index[char_code]
        i = bisect.bisect_right(days, key) - 1
        if i < 0:
            raise KeyError(f"no {char_code} rate on or before {key}")
        return values[i]

    def amount_rub(self, deal: dict[str, Any]) -> float:
        """A deal's amount in rubles at the CBR rate of its close day (Moscow business day of CLOSEDATE)."""
        return float(deal["OPPORTUNITY"]) * self.rate(deal["CLOSEDATE"][:10], deal["CURRENCY_ID"])

    def write(self, out_dir: Path) -> Path:
        """Write every file into `out_dir` (created); byte-identical for identical worlds."""
        return write_world(self, out_dir)
