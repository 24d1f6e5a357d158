"""One generation run: each part decides its share of the company in a fixed order.

The order is part of the output: later parts read what earlier ones decided (absences before deals
so deals avoid them; anomalies and hand-overs before activities so activities follow the final
owners; the plan after the deals it is set from). Each part draws from its own seeded stream.
"""

from __future__ import annotations

from datetime import date

from demo.world.absences import Absences
from demo.world.activities import generate_activities
from demo.world.anomalies import inject_conversion_drops, inject_deal_anomalies
from demo.world.base import add_months
from demo.world.calendar import Calendar
from demo.world.channel_events import ChannelEvents
from demo.world.deals import Book
from demo.world.fx import RateSeries
from demo.world.model import World
from demo.world.org import Org
from demo.world.plan import build_plan
from demo.world.records import build_world
from demo.world.sizes import Size, size_spec


def generate(size: Size = "M", today: date | None = None, seed: int = 42) -> World:
    """Build the demo company of `size` whose history ends on `today` (23:59:59 Moscow), from `seed`."""
    today = today or date.today()
    spec = size_spec(size)
    cal = Calendar(start=add_months(today.replace(day=1), -spec.months_back), today=today)
    fx = RateSeries(seed, cal)
    org = Org(seed, spec, cal)
    absences = Absences(seed, spec, cal, org)
    events = ChannelEvents(seed, spec, cal, org, absences.anomaly_days)
    absences.truth.extend(events.truth)
    book = Book(cal, fx, org, absences, events)
    book.add_inbound(seed, spec)
    book.add_outbound(seed, spec)
    inject_deal_anomalies(seed, spec, book)
    inject_conversion_drops(seed, spec, book)
    book.drop_warmup()
    book.hand_over_leavers(seed)
    acts = generate_activities(seed, spec, book)
    plan = build_plan(seed, book)
    return build_world(size, seed, book, acts, plan, fx.rows)
