"""The telephony export derived from the demo world's call activities (and missed calls nobody logged).

One call per Bitrix24 call activity (direction, answered or not, duration, manager), with a client
phone number derived from the deal/lead the call belongs to, a recording link for answered calls,
plus about 5 % extra inbound calls that were missed and never reached the CRM. Raw numbers exist only
here, in the export files: the ingest hashes them on arrival.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from demo.world import World

CALL_COLUMNS = (
    "call_id",
    "started_at",
    "direction",
    "status",
    "duration_sec",
    "manager_id",
    "client_phone",
    "recording_url",
)
RECORDING_BASE = "https://records.demo-sales.ru/rec"


def _phone(owner: str) -> str:
    rng = random.Random(f"phone:{owner}")
    return f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}"


def calls(world: World) -> list[dict[str, Any]]:
    """Call rows in export shape: started_at ISO with +03:00, direction in|out, status answered|missed."""
    out: list[dict[str, Any]] = []
    for act in world.activities:
        if act.get("PROVIDER_ID") != "VOXIMPLANT_CALL":
            continue
        start, end = datetime.fromisoformat(act["START_TIME"]), datetime.fromisoformat(act["END_TIME"])
        duration = int((end - start).total_seconds())
        missed = "не дозвонился" in act["SUBJECT"] or "Пропущенный" in act["SUBJECT"] or duration == 0
        rng = random.Random(f"{world.seed}:call:{act['ID']}")
        if not missed and duration == 0:
            duration = rng.randint(20, 600)
        call_id = f"c{int(act['ID']):08d}"
        out.append(
            {
                "call_id": call_id,
                "started_at": act["START_TIME"],
                "direction": "in" if act["DIRECTION"] == "1" else "out",
                "status": "missed" if missed else "answered",
                "duration_sec": 0 if missed else duration,
                "manager_id": int(act["RESPONSIBLE_ID"]),
                "client_phone": _phone(f"{act['OWNER_TYPE_ID']}:{act['OWNER_ID']}"),
                "recording_url": None if missed else f"{RECORDING_BASE}/{call_id}.mp3",
            }
        )
        if rng.random() < 0.05 and act["DIRECTION"] == "1":
            out.append(
                {
                    "call_id": f"x{int(act['ID']):08d}",
                    "started_at": act["START_TIME"],
                    "direction": "in",
                    "status": "missed",
                    "duration_sec": 0,
                    "manager_id": int(act["RESPONSIBLE_ID"]),
                    "client_phone": _phone(f"extra:{act['ID']}"),
                    "recording_url": None,
                }
            )
    out.sort(key=lambda r: (r["started_at"], r["call_id"]))
    return out
