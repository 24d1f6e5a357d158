"""What Bitrix24 keeps beside the deals: their stage paths, the telephony log, tasks, companies.

Every record is derived from the deals/leads/activities already decided (its own seeded stream),
so it tells the same story: a deal's history runs created -> intermediate stages -> its current (or
final) stage at MOVED_TIME; each call activity is one voximplant record; each task activity one task.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from demo.world.base import parse_ts, rng_for
from demo.world.calendar import Calendar
from demo.world.deals import Book
from demo.world.reference import open_stages


def crm_log(
    seed: int, book: Book, deal_paths: list[tuple], leads_out: list[dict], acts_out: list[dict]
) -> dict[str, list[dict[str, Any]]]:
    """The World fields beside the core records: companies, stage histories, calls, tasks."""
    return {
        "companies": companies(book, leads_out),
        "stage_history_deals": deal_history(seed, book.cal, deal_paths),
        "stage_history_leads": lead_history(book, leads_out),
        "calls": calls(seed, book.cal, acts_out),
        "tasks": tasks(acts_out),
    }


def deal_history(seed: int, cal: Calendar, deal_paths: list[tuple]) -> list[dict[str, Any]]:
    """crm.stagehistory.list (entityTypeId 2): each deal's walk through its pipeline's stages."""
    fmt = cal.ts
    rng = rng_for(seed, "stagehistory")
    hist: list[tuple[int, int, int, str, str, int]] = []  # (time, deal id, type, stage, semantic, category)
    for r, stage, moved, closed, _owner in deal_paths:
        pid = r["pipe"]
        opens = open_stages(pid)
        create = r["create"]
        if closed:
            # won deals walk every open stage; lost ones give up somewhere along the way (or where an
            # injected conversion collapse stalls them: demo.world.anomalies)
            reach = len(opens) if r["won"] else 1 + rng.randrange(len(opens))
            if not r["won"] and r.get("stall") in opens:
                reach = opens.index(r["stall"]) + 1
            path = opens[:reach]
            final = (stage, "S" if r["won"] else "F")
        else:
            path = opens[: opens.index(stage) + 1]
            final = None
        hist.append((create, r["id"], 1, path[0], "P", pid))
        # intermediate stages evenly (jittered) between creation and MOVED_TIME; an open deal
        # entered its current stage exactly at MOVED_TIME
        mids = path[1:] if closed else path[1:-1]
        span = max(0, moved - create)
        prev = create
        for j, st in enumerate(mids):
            t = create + int(span * (j + 1 + rng.uniform(-0.25, 0.25)) / (len(mids) + 1))
            t = min(max(t, prev), moved)
            hist.append((t, r["id"], 2, st, "P", pid))
            prev = t
        if not closed and len(path) > 1:
            hist.append((moved, r["id"], 2, path[-1], "P", pid))
        if final is not None:
            hist.append((moved, r["id"], 3, final[0], final[1], pid))
    hist.sort(key=lambda h: (h[0], h[1], h[2]))
    return [
        {
            "ID": n,
            "TYPE_ID": type_id,
            "OWNER_ID": deal_id,
            "CREATED_TIME": fmt(t),
            "CATEGORY_ID": pid,
            "STAGE_SEMANTIC_ID": sem,
            "STAGE_ID": st,
        }
        for n, (t, deal_id, type_id, st, sem, pid) in enumerate(hist, start=1)
    ]


def lead_history(book: Book, leads_out: list[dict]) -> list[dict[str, Any]]:
    """crm.stagehistory.list (entityTypeId 1): created NEW, worked, closed converted or junk."""
    cal = book.cal
    fmt = cal.ts
    lhist: list[tuple[int, int, int, str, str]] = []
    for r, out in zip(book.leads, leads_out):
        lhist.append((r["create"], r["id"], 1, "NEW", "P"))
        status = out["STATUS_ID"]
        if r["close"] is None:
            if status != "NEW":
                t = r["create"] + min(3 * 3600, (cal.end_sec - r["create"]) // 2)
                lhist.append((t, r["id"], 2, status, "P"))
        else:
            if r["close"] - r["create"] > 600:
                lhist.append((r["create"] + (r["close"] - r["create"]) // 3, r["id"], 2, "IN_PROCESS", "P"))
            lhist.append((r["close"], r["id"], 3, status, out["STATUS_SEMANTIC_ID"]))
    lhist.sort(key=lambda h: (h[0], h[1], h[2]))
    return [
        {
            "ID": n,
            "TYPE_ID": type_id,
            "OWNER_ID": lead_id,
            "CREATED_TIME": fmt(t),
            "STATUS_ID": st,
            "STATUS_SEMANTIC_ID": sem,
        }
        for n, (t, lead_id, type_id, st, sem) in enumerate(lhist, start=1)
    ]


def client_phone(owner: str) -> str:
    """A client's number, stable per CRM owner (the same derivation as the telephony export)."""
    rng = random.Random(f"phone:{owner}")
    return f"+79{rng.randint(10, 99)}{rng.randint(100, 999)}{rng.randint(10, 99)}{rng.randint(10, 99)}"


def calls(seed: int, cal: Calendar, acts_out: list[dict]) -> list[dict[str, Any]]:
    """voximplant.statistic.get: one record per call activity, plus missed calls from numbers the CRM
    does not know (nobody calls them back: they are the missed-call registry's lost contacts)."""
    crng = rng_for(seed, "calls")
    entity = {"1": "LEAD", "2": "DEAL", "4": "COMPANY"}
    found: list[tuple[str, int, dict[str, Any]]] = []
    for a in acts_out:
        if a["PROVIDER_ID"] != "VOXIMPLANT_CALL":
            continue
        start = a["START_TIME"]
        duration = int((parse_ts(a["END_TIME"]) - parse_ts(start)).total_seconds())
        inbound = a["DIRECTION"] == "1"
        if duration > 0:
            code, reason = "200", "Success call"
        elif inbound:
            code, reason = "304", "Missed call"
        else:
            code, reason = crng.choice((("304", "Missed call"), ("486", "Busy here"), ("603", "Decline")))
        owner_key = f"{a['OWNER_TYPE_ID']}:{a['OWNER_ID']}" if a["OWNER_ID"] != "0" else f"act:{a['ID']}"
        found.append(
            (
                start,
                int(a["ID"]),
                {
                    "CALL_ID": f"externalCall.{int(a['ID']):08x}",
                    "CALL_TYPE": "2" if inbound else "1",
                    "CALL_FAILED_CODE": code,
                    "CALL_FAILED_REASON": reason,
                    "CALL_START_DATE": start,
                    "CALL_DURATION": str(duration),
                    "PORTAL_USER_ID": a["RESPONSIBLE_ID"],
                    "PORTAL_NUMBER": "reg74951234567",
                    "PHONE_NUMBER": client_phone(owner_key),
                    "CRM_ENTITY_TYPE": entity.get(a["OWNER_TYPE_ID"]) if a["OWNER_ID"] != "0" else None,
                    "CRM_ENTITY_ID": a["OWNER_ID"] if a["OWNER_ID"] != "0" else None,
                    "CRM_ACTIVITY_ID": a["ID"],
                    "COST": "0.0000",
                    "COST_CURRENCY": "RUR",
                    "CALL_RECORD_URL": None,
                },
            )
        )
        if inbound and crng.random() < 0.05:
            t = parse_ts(start) + timedelta(minutes=crng.randint(5, 90))
            if t <= cal.end:
                found.append(
                    (
                        t.isoformat(),
                        int(a["ID"]),
                        {
                            "CALL_ID": f"externalCall.x{int(a['ID']):08x}",
                            "CALL_TYPE": "2",
                            "CALL_FAILED_CODE": "304",
                            "CALL_FAILED_REASON": "Missed call",
                            "CALL_START_DATE": t.isoformat(),
                            "CALL_DURATION": "0",
                            "PORTAL_USER_ID": a["RESPONSIBLE_ID"],
                            "PORTAL_NUMBER": "reg74951234567",
                            "PHONE_NUMBER": client_phone(f"stranger:{a['ID']}"),
                            "CRM_ENTITY_TYPE": None,
                            "CRM_ENTITY_ID": None,
                            "CRM_ACTIVITY_ID": None,
                            "COST": "0.0000",
                            "COST_CURRENCY": "RUR",
                            "CALL_RECORD_URL": None,
                        },
                    )
                )
    found.sort(key=lambda c: (parse_ts(c[0]), c[1]))
    return [{"ID": str(n), **c} for n, (_, _, c) in enumerate(found, start=1)]


def tasks(acts_out: list[dict]) -> list[dict[str, Any]]:
    """tasks.task.list: one task per CRM task activity; lowerCamel keys as the real answer."""
    tasks_out: list[dict[str, Any]] = []
    owner_prefix = {"1": "L", "2": "D", "4": "CO"}
    for a in acts_out:
        if a["PROVIDER_ID"] != "CRM_TASKS_TASK":
            continue
        done = a["COMPLETED"] == "Y"
        tasks_out.append(
            {
                "id": str(len(tasks_out) + 1),
                "title": a["SUBJECT"],
                "status": "5" if done else "2",
                "priority": "1",
                "responsibleId": a["RESPONSIBLE_ID"],
                "createdBy": a["RESPONSIBLE_ID"],
                "createdDate": a["CREATED"],
                "changedDate": a["LAST_UPDATED"],
                "closedDate": a["LAST_UPDATED"] if done else None,
                "deadline": a["DEADLINE"],
                "groupId": "0",
                "ufCrmTask": [f"{owner_prefix.get(a['OWNER_TYPE_ID'], 'CO')}_{a['OWNER_ID']}"]
                if a["OWNER_ID"] != "0"
                else [],
                "crmActivityId": a["ID"],
            }
        )
    return tasks_out


def companies(book: Book, leads_out: list[dict]) -> list[dict[str, Any]]:
    """crm.company.list: every company a kept deal or converted lead points at."""
    cal = book.cal
    fmt = cal.ts
    first: dict[int, tuple[int, str]] = {}
    touched: dict[int, int] = {}
    for r in book.deals:
        c = r["company"]
        owner = r["reassign"][0] if r["reassign"] else r["mgr"]
        if c not in first or r["create"] < first[c][0]:
            first[c] = (r["create"], str(owner))
        if r["won"] and r["close"] is not None:
            touched[c] = max(touched.get(c, 0), r["close"])
    for ld in leads_out:
        if ld["COMPANY_ID"] and int(ld["COMPANY_ID"]) not in first:
            first[int(ld["COMPANY_ID"])] = (cal.sec(ld["DATE_CREATE"]), ld["ASSIGNED_BY_ID"])
    companies_out = []
    industries = ("IT", "MANUFACTURING", "DELIVERY", "ENTERTAINMENT", "GOVERNMENT", "OTHER")
    for c in sorted(first):
        created, owner = first[c]
        modify = max(created, touched.get(c, 0))
        companies_out.append(
            {
                "ID": str(c),
                "TITLE": book.company_names[c],
                "COMPANY_TYPE": "CUSTOMER" if c in touched else "PROSPECT",
                "INDUSTRY": industries[c % len(industries)],
                "ASSIGNED_BY_ID": owner,
                "CREATED_BY_ID": owner,
                "DATE_CREATE": fmt(created),
                "DATE_MODIFY": fmt(modify),
                "OPENED": "Y",
            }
        )
    return companies_out
