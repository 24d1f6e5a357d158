"""Leads, deals and the companies they name: inbound leads by channel, then hand-made deals.

A deal decides its whole life when created (amount, currency, cycle, outcome), so later stages
(activities, stage history, plan) only read it. Companies are numbered in order of first mention.
"""

from __future__ import annotations

import math
import random
from typing import Any

from demo.world.absences import Absences
from demo.world.base import DAY, poisson, rng_for
from demo.world.calendar import Calendar
from demo.world.channel_events import ChannelEvents
from demo.world.fx import RateSeries
from demo.world.org import Manager, Org
from demo.world.reference import (
    CAMPAIGNS,
    COMPANY_ROOTS,
    COMPANY_TAILS,
    FEMALE,
    JUNK_REASONS,
    LOST_REASONS,
    MALE,
    PRODUCTS,
    SOURCES,
    TERMS,
)
from demo.world.sizes import SizeSpec


class Book:
    """The internal leads and deals (dicts keyed by generator fields, not yet Bitrix24 records)."""

    def __init__(self, cal: Calendar, fx: RateSeries, org: Org, absences: Absences, events: ChannelEvents) -> None:
        self.cal, self.fx, self.org, self.absences, self.events = cal, fx, org, absences, events
        self.leads: list[dict[str, Any]] = []
        self.deals: list[dict[str, Any]] = []
        self.next_company = 1
        self.company_names: dict[int, str] = {}

    def new_company(self, rng: random.Random) -> int:
        cid = self.next_company
        self.next_company += 1
        form = rng.choice(("ООО", "ООО", "АО", "ИП"))
        self.company_names[cid] = f"{form} «{rng.choice(COMPANY_ROOTS)}{rng.choice(COMPANY_TAILS)}»"
        return cid

    def new_deal(
        self,
        rng: random.Random,
        m: Manager,
        pipe: int,
        create: int,
        source: str,
        lead: dict | None,
        company: int,
        repeat: bool,
    ) -> dict[str, Any]:
        """A deal with its whole life decided now: amount, currency, cycle, outcome (None = open at the end)."""
        cal = self.cal
        i = create // DAY
        median = {0: 150_000, 1: 95_000, 2: 700_000}[pipe] * m.size * cal.sales_trend(i)
        amount_rub = median * math.exp(rng.gauss(0, 0.3))
        foreign = rng.random() < (0.12 if m.kind == "corp" else 0.03)
        cycle = {0: 12.0, 1: 6.0, 2: 35.0}[pipe] * math.exp(rng.gauss(0, 0.7))
        close = create + int(cycle * DAY)
        close = self.absences.work_moment(rng, m, close, allow_weekend=0.05)
        if close <= create:
            close = create + rng.randrange(1800, 5 * 3600)
        _, _, w = self.org.form(m, min(close // DAY, cal.today_i))
        p_win = {0: 0.42, 1: 0.62, 2: 0.30}[pipe] * m.win * w
        deal = {
            "mgr": m.uid,
            "pipe": pipe,
            "create": create,
            "planned": close,
            "source": source,
            "lead": lead,
            "company": company,
            "repeat": repeat,
            "product": rng.choice(PRODUCTS),
            "won": rng.random() < min(0.9, max(0.05, p_win)),
            "close": close,
            "reassign": None,
            "lost_reason": None,
            "edit": None,
            "last_act": None,
            "id": 0,
        }
        if foreign:
            code = rng.choices(("USD", "EUR", "CNY"), weights=(5, 3, 2))[0]
            deal["currency"] = code
            deal["opp"] = f"{max(10, round(amount_rub / self.fx.rate(i, code) / 10) * 10):.2f}"
        else:
            rub = max(1000.0, round(amount_rub, -2))
            if rng.random() < 0.2:
                rub -= 0.01
            deal["currency"], deal["opp"] = "RUB", f"{rub:.2f}"
        if not deal["won"]:
            deal["lost_reason"] = rng.choice(LOST_REASONS)
        if rng.random() < 0.15:
            # a later touch of some field (bumps DATE_MODIFY), in office hours some days after the last event
            deal["edit"] = rng.randint(1, 10) * DAY + rng.randrange(-3 * 3600, 3 * 3600)
        if close > cal.end_sec:
            deal["close"] = None
        return deal

    def add_inbound(self, seed: int, spec: SizeSpec) -> None:
        """Leads from the ad and organic channels, day by day; converted ones become pipeline-0 deals."""
        cal, org = self.cal, self.org
        rng = rng_for(seed, "leads")
        lead_mgrs = [m for m in org.mgrs if m.kind == "new"]
        src_w = [s[2] for s in SOURCES]
        for i in range(cal.today_i + 1):
            active = [m for m in lead_mgrs if m.employed(i)]
            if not active:
                continue
            weights = [m.skill * org.form(m, i)[1] for m in active]
            n = poisson(rng, 2.8 * spec.lead_scale * len(lead_mgrs) * cal.lead_f[i])
            for _ in range(n):
                src = rng.choices(SOURCES, weights=src_w)[0]
                if cal.working[i]:
                    create = i * DAY + rng.randrange(8 * 3600, 21 * 3600)
                else:
                    create = i * DAY + rng.randrange(9 * 3600, 23 * 3600)
                m = rng.choices(active, weights=weights)[0]
                utm = None
                if src[4]:
                    utm = (
                        src[4],
                        src[5],
                        rng.choice(CAMPAIGNS[src[4]]),
                        rng.choice(TERMS) if src[4] == "yandex" else None,
                    )
                company = self.new_company(rng)
                _, _, w = org.form(m, i)
                converted = rng.random() < src[3] * m.win**0.5 * w
                outcome = self.absences.work_moment(rng, m, create + int(rng.expovariate(1 / 20) * 3600))
                lead = {
                    "mgr": m.uid,
                    "create": create,
                    "source": src[0],
                    "utm": utm,
                    "company": company,
                    "converted": converted,
                    "close": outcome if outcome <= cal.end_sec else None,
                    "junk": None if converted else rng.choice(JUNK_REASONS),
                    "id": 0,
                    "deal": None,
                    "reassign": None,
                    "name": (rng.choice(MALE + FEMALE)),
                    "last_act": None,
                }
                # a channel's silent day: the lead is drawn (the stream stays as it was) but never arrives
                arrives = (src[0], i) not in self.events.no_leads
                if arrives:
                    self.leads.append(lead)
                if converted and lead["close"] is not None:
                    deal = self.new_deal(rng, m, 0, outcome, src[0], lead, company, False)
                    lead["deal"] = deal
                    if arrives:
                        self.deals.append(deal)

    def add_outbound(self, seed: int, spec: SizeSpec) -> None:
        """Hand-made deals (cold calls, tenders) and repeat sales, per manager in time order."""
        cal = self.cal
        for m in self.org.mgrs:
            mr = rng_for(seed, f"deals-{m.uid}")
            wins: list[tuple[int, int]] = sorted(
                (d["close"], d["company"]) for d in self.deals if d["mgr"] == m.uid and d["won"] and d["close"]
            )
            heap_pos = 0
            customers: list[int] = []
            pending: list[tuple[int, int]] = []
            for i in range(cal.today_i + 1):
                day_start = i * DAY
                while heap_pos < len(wins) and wins[heap_pos][0] < day_start:
                    if wins[heap_pos][0] >= cal.start_sec:
                        customers.append(wins[heap_pos][1])
                    heap_pos += 1
                pending.sort()
                while pending and pending[0][0] < day_start:
                    t, comp = pending.pop(0)
                    if t >= cal.start_sec:
                        customers.append(comp)
                if not m.employed(i) or self.absences.off(m, i):
                    continue
                _, s, _ = self.org.form(m, i)
                f = cal.sales_f[i] * s * spec.deal_scale * m.skill**0.5
                plan_rates = [(0, "COLD_CALL", 0.25 if m.kind == "new" else 0.45)]
                if m.kind == "corp":
                    plan_rates.append((2, "UC_TENDER", 0.55))
                if customers:
                    plan_rates.append((1, "REPEAT_SALE", min(0.5, 0.02 * len(customers))))
                for pipe, source, lam in plan_rates:
                    for _ in range(poisson(mr, lam * f)):
                        create = cal.moment(mr, i, m.shift_h)
                        if pipe == 1:
                            company, repeat = mr.choice(customers), True
                        else:
                            company, repeat = self.new_company(mr), False
                        deal = self.new_deal(mr, m, pipe, create, source, None, company, repeat)
                        self.deals.append(deal)
                        if deal["won"] and deal["close"]:
                            pending.append((deal["close"], company))

    def drop_warmup(self) -> None:
        """Drop leads before the start and deals closed before it (open ones stay, without their lead)."""
        start_sec = self.cal.start_sec
        self.leads = [ld for ld in self.leads if ld["create"] >= start_sec]
        self.deals = [d for d in self.deals if d["close"] is None or d["close"] >= start_sec]
        for d in self.deals:
            if d["lead"] is not None and d["lead"]["create"] < start_sec:
                d["lead"] = None

    def hand_over_leavers(self, seed: int) -> None:
        """A leaver's open deals and leads pass to a colleague of the same department on the dismissal day."""
        rng = rng_for(seed, "fire")
        mgrs = self.org.mgrs
        for m in mgrs:
            if m.fire is None:
                continue
            heirs = [x for x in mgrs if x.dept_id == m.dept_id and x is not m and x.fire is None and not x.hire]
            t = self.cal.moment(rng, self.cal.next_working(m.fire), 0)
            for rec in (*self.deals, *self.leads):
                if rec["mgr"] != m.uid or (rec["close"] is not None and rec["close"] <= t):
                    continue
                if rec["create"] < t:
                    rec["reassign"] = (rng.choice(heirs).uid, t)
                else:  # converted from the leaver's lead after he left: the heir creates it
                    rec["mgr"] = rng.choice(heirs).uid
