"""Channel and response anomalies, decided before any lead exists and written to the ground truth.

What a head of sales wants caught beyond a manager's silent day: an ad channel that costs three
times its usual for the same leads (a CPA spike), a channel that overspends its pace for more than
a week (a budget overrun), a channel that brings no lead at all one working day (a broken form), and
a manager who leaves a whole day's new leads waiting for hours (a response-time blow-out).

The world decides them here; the lead stream skips the silent channel-days, the activity stream
delays that manager's first calls, and the ad cabinets (demo.marketing) multiply the cost of the
overspending days by `SPEND_FACTOR`. Each event is a truth row per day it covers, with one `event` id.
"""

from __future__ import annotations

from typing import Any

from demo.world.base import rng_for
from demo.world.calendar import Calendar
from demo.world.org import Org
from demo.world.sizes import SizeSpec

# cost multiplier of the ad cabinets on the event's days, by kind (read by demo.marketing)
SPEND_FACTOR = {"cpa_spike": 3.0, "budget_overrun": 1.8}
PAID_CHANNELS = ("UC_YDIRECT", "UC_VKADS")  # the channels an ad cabinet bills
LEAD_CHANNELS = ("UC_YDIRECT", "UC_VKADS", "WEB")  # channels busy enough that a zero day is news
OVERRUN_WORK_DAYS = 8
RESPONSE_DELAY_H = (5, 9)  # on a blow-out day the first call comes this many working hours late
_KEEP_CLEAR_DAYS = 3  # the last days belong to the morning alert's known anomaly alone
_TRIES = 500


def truth_row(day: str, kind: str, metric: str, subject_type: str, subject_id: str, event: str, text: str) -> dict:
    """One ground-truth row (anomalies_truth.csv); manager_id is the subject for managers, else None."""
    return {
        "day": day,
        "manager_id": int(subject_id) if subject_type == "manager" else None,
        "metric": metric,
        "description": text,
        "kind": kind,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "event": event,
    }


class ChannelEvents:
    """The world's channel-level anomalies and response blow-outs, with their truth rows."""

    def __init__(self, seed: int, spec: SizeSpec, cal: Calendar, org: Org, taken_days: set[int]) -> None:
        rng = rng_for(seed, "channel-events")
        self.truth: list[dict[str, Any]] = []
        self.no_leads: set[tuple[str, int]] = set()  # (source id, day index): the channel's leads vanish
        self.slow_reply: set[tuple[int, int]] = set()  # (manager uid, day index): first calls late
        days = [i for i in cal.work_days if cal.start_i + 45 <= i <= cal.today_i - _KEEP_CLEAR_DAYS]
        busy: set[tuple[str, int]] = set()

        def free(channel: str, span: list[int]) -> bool:
            return all((channel, j) not in busy and (channel, j - 1) not in busy for j in span)

        for kind, count in (
            ("cpa_spike", spec.cpa_spikes),
            ("budget_overrun", spec.budget_overruns),
            ("no_leads", spec.no_lead_days),
        ):
            done = tries = 0
            while done < count and tries < _TRIES:
                tries += 1
                channel = rng.choice(LEAD_CHANNELS if kind == "no_leads" else PAID_CHANNELS)
                k = rng.randrange(len(days) - (OVERRUN_WORK_DAYS if kind == "budget_overrun" else 1))
                span = days[k : k + OVERRUN_WORK_DAYS] if kind == "budget_overrun" else [days[k]]
                if kind == "budget_overrun":  # the calendar days it covers, weekends between included
                    span = list(range(span[0], span[-1] + 1))
                if not free(channel, span):
                    continue
                busy.update((channel, j) for j in span)
                event = f"{kind}:{channel}:{cal.day_str[span[0]]}"
                for j in span:
                    if kind == "no_leads":
                        self.no_leads.add((channel, j))
                    if cal.working[j]:  # the weekend between overspends too, but nobody scores weekends
                        self.truth.append(truth_row(cal.day_str[j], kind, *_channel_text(kind, channel, event)))
                done += 1
        lead_takers = [m for m in org.mgrs if m.kind == "new" and not m.burnout]
        done = tries = 0
        blown: set[int] = set()
        while done < spec.response_blowouts and tries < _TRIES and lead_takers:
            tries += 1
            i = rng.choice(days)
            m = rng.choice(lead_takers)
            # a day of its own, but not reserved: the deal anomalies drawn later keep the days they had
            if i in taken_days or i in blown or not m.employed(i - 30) or not m.employed(i + 3):
                continue
            blown.add(i)
            self.slow_reply.add((m.uid, i))
            event = f"response_blowout:{m.uid}:{cal.day_str[i]}"
            self.truth.append(
                truth_row(
                    cal.day_str[i],
                    "response_blowout",
                    "median_response_minutes",
                    "manager",
                    str(m.uid),
                    event,
                    "Время реакции: новые лиды и сделки дня ждали первого звонка 5–9 часов вместо получаса",
                )
            )
            done += 1


def _channel_text(kind: str, channel: str, event: str) -> tuple[str, str, str, str, str]:
    """(metric, subject type, subject id, event, description) of a channel event's truth row."""
    if kind == "cpa_spike":
        return "cpl_rub", "channel", channel, event, "Всплеск стоимости: расход ×3 за день при том же числе лидов"
    if kind == "budget_overrun":
        return (
            "spend_rub",
            "channel",
            channel,
            event,
            f"Перерасход бюджета: расход ×1,8 от обычного {OVERRUN_WORK_DAYS} рабочих дней подряд",
        )
    return "leads", "channel", channel, event, "День без лидов: канал не привёл ни одного лида за рабочий день"
