"""How many alerts a day the head of sales would get: the alert rules replayed on a demo world's last 90 days.

    .venv/bin/python -m benchmarks.alerts_per_day [--size M] [--today 2026-11-23] [--workdir /tmp/alerts_bench]
        [--rebuild-mart]   # after a change of the alert vars: run the mart again on the kept world

The world's warehouse is built once (benchmarks/_alerts_world.py: the real ingest assets against the
demo servers, then dbt up to marts.mart_alert_facts) and reused by the next runs. The replay walks the
last 90 days one by one: on day D the sensor sees the mart's rows of D and D-1 at the day's end (every
window closed) and sends what `schedules.alert_rules.due_alerts` lets through, remembering it as the
sensor's cursor does. Printed per policy: alerts a day (mean, max, share of days over 5) and per rule.

- `firing rows`: every firing row of the day, no cool-down, no season (what the mart alone would send);
- `dbt vars`: the cool-downs and the minimum day of month the mart carries (dbt_project.yml);
- `once a day`: the same sending rules with a one-day cool-down for every rule, for comparison.

The mart's rows of past days are computed from today's data: a day's inputs (deals won by that day,
activities of that day) do not change later, except `overdue_deals`, a snapshot of the as-of day only,
so it counts on the last day alone.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path

from benchmarks._alerts_world import ensure_warehouse
from schedules.alert_rules import AlertFact, AlertMessage, compose, due_alerts, facts_from_rows, remember

DAYS = 90
BUSY_DAY = 5  # "at most a handful a day"


def replay(
    facts: list[AlertFact], last_day: date, policy: Callable[[AlertFact], AlertFact]
) -> list[list[AlertMessage]]:
    """The messages of each of the last DAYS days, in order, under `policy` (a change of the sending columns)."""
    by_day: dict[date, list[AlertFact]] = {}
    for fact in facts:
        by_day.setdefault(fact.day, []).append(policy(fact))
    sent: dict[str, str] = {}
    days = []
    for offset in range(DAYS - 1, -1, -1):
        day = last_day - timedelta(days=offset)
        visible = by_day.get(day - timedelta(days=1), []) + by_day.get(day, [])
        due = due_alerts(visible, datetime.combine(day, time(23, 59)), sent)
        for fact in due:
            remember(sent, fact)
        days.append(compose(due))
    return days


def every_firing_row(facts: list[AlertFact], last_day: date) -> list[list[AlertMessage]]:
    """Each firing row of each day as its own message: what the mart alone would send."""
    first = last_day - timedelta(days=DAYS - 1)
    return [
        [AlertMessage(facts=[f], html="") for f in facts if f.day == first + timedelta(days=i) and f.is_firing]
        for i in range(DAYS)
    ]


def report(name: str, days: list[list[AlertMessage]]) -> None:
    counts = [len(d) for d in days]
    subjects = [sum(len(m.facts) for m in d) for d in days]
    per_rule = Counter(f"{m.rule}/{m.facts[0].subject_type}" for d in days for m in d)
    busy = sum(c > BUSY_DAY for c in counts)
    print(
        f"{name:<12} messages: mean {sum(counts) / len(counts):5.2f}/day, max {max(counts):3d}, "
        f"days over {BUSY_DAY}: {busy:2d} of {len(counts)}, total {sum(counts)}; "
        f"subjects named: mean {sum(subjects) / len(subjects):5.2f}/day, max {max(subjects)}"
    )
    for rule, n in sorted(per_rule.items(), key=lambda item: -item[1]):
        print(f"{'':14}{rule:<28} {n / len(counts):5.2f}/day ({n})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M", choices=["S", "M", "L"])
    parser.add_argument("--today", default="2026-11-23")
    parser.add_argument("--workdir", default="/tmp/alerts_bench")
    parser.add_argument("--rebuild-mart", action="store_true", help="run mart_alert_facts again (changed vars)")
    args = parser.parse_args()
    workdir = Path(args.workdir) / f"{args.size}-{args.today}"
    duckdb_path = ensure_warehouse(args.size, args.today, workdir, rebuild_mart=args.rebuild_mart)

    import duckdb

    last_day = date.fromisoformat(args.today)
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        frame = con.sql(
            "select * from marts.mart_alert_facts where day >= ?", params=[last_day - timedelta(days=DAYS)]
        ).pl()
    facts = facts_from_rows(frame.iter_rows(named=True))
    print(f"world {args.size}, last {DAYS} days to {last_day}: {len(facts):,} mart rows")
    report("firing rows", every_firing_row(facts, last_day))
    report("once a day", replay(facts, last_day, lambda f: f.model_copy(update={"cooldown_days": 1})))
    tuned = replay(facts, last_day, lambda f: f)
    report("dbt vars", tuned)
    busiest = max(range(len(tuned)), key=lambda i: len(tuned[i]))
    print(
        f"\nthe messages of {last_day - timedelta(days=DAYS - 1 - busiest)}, the busiest day, as sent (Telegram HTML):"
    )
    for message in tuned[busiest]:
        print(message.html, end="\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
