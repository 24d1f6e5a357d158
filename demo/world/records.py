"""The core Bitrix24 records: users, pipelines, statuses, leads, deals and activities.

The internal leads, deals and activity tuples become the records the REST methods return
(UPPER_CASE keys, string values, Moscow timestamps); ids follow creation order, as in a real CRM.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from demo.world.activities import Activity
from demo.world.base import DAY, TIMEZONE, TZ_SUFFIX
from demo.world.calendar import Calendar
from demo.world.deals import Book
from demo.world.history import crm_log
from demo.world.model import World
from demo.world.org import Org
from demo.world.reference import EXTRA_SOURCES, LEAD_STATUSES, PIPELINES, SOURCES, STAGES, open_stages, stage_id


def build_world(
    size: str, seed: int, book: Book, acts: list[Activity], plan: list[dict[str, Any]], rates: list[dict[str, Any]]
) -> World:
    """Number the records, shape them as Bitrix24 returns them and gather everything into a World."""
    cal = book.cal
    # ids follow creation order, as in a real CRM
    book.leads.sort(key=lambda r: (r["create"], r["mgr"]))
    for n, r in enumerate(book.leads, start=1):
        r["id"] = n
    book.deals.sort(key=lambda r: (r["create"], r["mgr"], r["pipe"]))
    for n, r in enumerate(book.deals, start=1):
        r["id"] = n
    acts.sort(key=lambda a: (a[0], a[8]))
    leads_out = lead_records(book)
    deals_out, deal_paths = deal_records(book)
    acts_out = activity_records(cal, acts)
    anomalies = sorted(book.absences.truth, key=lambda r: (r["day"], r["subject_type"], r["subject_id"], r["metric"]))
    log = crm_log(seed, book, deal_paths, leads_out, acts_out)
    return World(
        size=size,
        seed=seed,
        today=cal.today,
        start=cal.start,
        timezone=TIMEZONE,
        users=user_records(cal, book.org),
        departments=book.org.departments,
        categories=category_records(),
        statuses=status_records(),
        leads=leads_out,
        deals=deals_out,
        activities=acts_out,
        plan=plan,
        rates=rates,
        anomalies=anomalies,
        companies=log["companies"],
        stage_history_deals=log["stage_history_deals"],
        stage_history_leads=log["stage_history_leads"],
        calls=log["calls"],
        tasks=log["tasks"],
    )


def _contact(company: int) -> str:
    """One contact per company."""
    return str(company + 500_000)


def user_records(cal: Calendar, org: Org) -> list[dict[str, Any]]:
    """user.get: the head of sales (user 1) and every manager, group heads titled so."""
    users = [
        {
            "ID": "1",
            "ACTIVE": True,
            "NAME": "Виктор",
            "LAST_NAME": "Руденко",
            "SECOND_NAME": "",
            "EMAIL": "rudenko@demo-sales.ru",
            "PERSONAL_GENDER": "M",
            "WORK_POSITION": "Руководитель отдела продаж",
            "UF_DEPARTMENT": [1],
            "TIME_ZONE": TIMEZONE,
            "DATE_REGISTER": f"{(cal.start - timedelta(days=400)).isoformat()}T09:00:00{TZ_SUFFIX}",
            "USER_TYPE": "employee",
            "IS_ONLINE": "N",
        }
    ]
    for k, m in enumerate(org.mgrs):
        reg = (cal.start - timedelta(days=200 + 17 * k)) if not m.hire else cal.days[m.hire]
        users.append(
            {
                "ID": str(m.uid),
                "ACTIVE": m.fire is None,
                "NAME": m.first,
                "LAST_NAME": m.last,
                "SECOND_NAME": "",
                "EMAIL": f"user{m.uid}@demo-sales.ru",
                "PERSONAL_GENDER": m.gender,
                "WORK_POSITION": "Руководитель группы"
                if str(m.uid) in {d["UF_HEAD"] for d in org.departments}
                else "Менеджер по продажам",
                "UF_DEPARTMENT": [m.dept_id],
                "TIME_ZONE": m.tz,
                "DATE_REGISTER": f"{reg.isoformat()}T09:00:00{TZ_SUFFIX}",
                "USER_TYPE": "employee",
                "IS_ONLINE": "N",
            }
        )
    return users


def category_records() -> list[dict[str, Any]]:
    """crm.category.list (deal pipelines; camelCase keys as the real answer)."""
    return [
        {"id": pid, "name": name, "sort": sort, "entityTypeId": 2, "isDefault": "Y" if pid == 0 else "N"}
        for pid, name, sort in PIPELINES
    ]


def status_records() -> list[dict[str, Any]]:
    """crm.status.list: every pipeline's stages, the lead statuses, then the sources."""
    statuses: list[dict[str, Any]] = []
    sid = 1

    def status(entity: str, status_id: str, name: str, sort: int, sem: str | None, cat: str | None) -> None:
        nonlocal sid
        statuses.append(
            {
                "ID": str(sid),
                "ENTITY_ID": entity,
                "STATUS_ID": status_id,
                "NAME": name,
                "NAME_INIT": name,
                "SORT": str(sort),
                "SYSTEM": "Y" if sem or sort == 10 else "N",
                "SEMANTICS": sem,
                "CATEGORY_ID": cat,
                "EXTRA": {"SEMANTICS": {None: "process", "S": "success", "F": "failure"}[sem]},
            }
        )
        sid += 1

    for pid, _, _ in PIPELINES:
        entity = "DEAL_STAGE" if pid == 0 else f"DEAL_STAGE_{pid}"
        for n, (suffix, name, sem) in enumerate(STAGES[pid], start=1):
            status(entity, stage_id(pid, suffix), name, n * 10, sem, str(pid))
    for n, (st, name, sem) in enumerate(LEAD_STATUSES, start=1):
        status("STATUS", st, name, n * 10, sem, None)
    for n, (src, name) in enumerate([(s[0], s[1]) for s in SOURCES] + list(EXTRA_SOURCES), start=1):
        statuses.append(
            {
                "ID": str(sid),
                "ENTITY_ID": "SOURCE",
                "STATUS_ID": src,
                "NAME": name,
                "NAME_INIT": name,
                "SORT": str(n * 10),
                "SYSTEM": "N",
                "SEMANTICS": None,
                "CATEGORY_ID": None,
                "EXTRA": None,
            }
        )
        sid += 1
    return statuses


def lead_records(book: Book) -> list[dict[str, Any]]:
    """crm.lead.list: status from the outcome (open ones by age), owner after any hand-over."""
    cal = book.cal
    fmt = cal.ts
    leads_out = []
    for r in book.leads:
        owner = r["reassign"][0] if r["reassign"] else r["mgr"]
        closed = r["close"] is not None
        if closed:
            st = "CONVERTED" if r["converted"] else "JUNK"
        else:
            st = "NEW" if cal.end_sec - r["create"] < 6 * 3600 else ("IN_PROCESS" if r["id"] % 3 else "PROCESSED")
        modify = r["close"] if closed else r["create"]
        if r["reassign"]:
            modify = max(modify, r["reassign"][1])
        utm = r["utm"] or (None, None, None, None)
        leads_out.append(
            {
                "ID": str(r["id"]),
                "TITLE": f"Заявка: {book.company_names[r['company']]}",
                "NAME": r["name"],
                "LAST_NAME": None,
                "COMPANY_TITLE": book.company_names[r["company"]],
                "STATUS_ID": st,
                "STATUS_SEMANTIC_ID": {"CONVERTED": "S", "JUNK": "F"}.get(st, "P"),
                "STATUS_DESCRIPTION": r["junk"] if st == "JUNK" else None,
                "SOURCE_ID": r["source"],
                "SOURCE_DESCRIPTION": None,
                "CURRENCY_ID": "RUB",
                "OPPORTUNITY": "0.00",
                "IS_RETURN_CUSTOMER": "N",
                "ASSIGNED_BY_ID": str(owner),
                "CREATED_BY_ID": "1",
                "MODIFY_BY_ID": str(owner),
                "DATE_CREATE": fmt(r["create"]),
                "DATE_MODIFY": fmt(modify),
                "DATE_CLOSED": fmt(r["close"]) if closed else None,
                "COMPANY_ID": str(r["company"]) if st == "CONVERTED" else None,
                "CONTACT_ID": _contact(r["company"]) if st == "CONVERTED" else None,
                "OPENED": "Y",
                "UTM_SOURCE": utm[0],
                "UTM_MEDIUM": utm[1],
                "UTM_CAMPAIGN": utm[2],
                "UTM_CONTENT": None,
                "UTM_TERM": utm[3],
                "LAST_ACTIVITY_TIME": fmt(r["last_act"]) if r["last_act"] else fmt(r["create"]),
                "UF_CRM_JUNK_REASON": r["junk"] if st == "JUNK" else None,
            }
        )
    return leads_out


def deal_records(book: Book) -> tuple[list[dict[str, Any]], list[tuple]]:
    """crm.deal.list, and each deal's (record, stage, moved, closed, owner) for its stage history."""
    cal = book.cal
    fmt = cal.ts
    deals_out = []
    deal_paths: list[tuple] = []
    for r in book.deals:
        pid = r["pipe"]
        owner = r["reassign"][0] if r["reassign"] else r["mgr"]
        closed = r["close"] is not None
        if closed:
            if r["won"]:
                stage = stage_id(pid, "WON")
            elif pid == 0 and r["id"] % 7 == 0:
                stage = "APOLOGY"
            else:
                stage = stage_id(pid, "LOSE")
            moved = r["close"]
            modify = r["close"]
        else:
            opens = open_stages(pid)
            frac = (cal.end_sec - r["create"]) / max(1, r["planned"] - r["create"])
            k = min(len(opens) - 1, int(frac * len(opens)))
            stage = opens[k]
            moved = (
                r["create"] + int((cal.end_sec - r["create"]) * (0.3 + 0.6 * ((r["id"] * 7919) % 100) / 100))
                if k
                else r["create"]
            )
            modify = moved
        if r["reassign"]:
            modify = max(modify, r["reassign"][1])
        if r["edit"] is not None and modify + r["edit"] <= cal.end_sec:
            modify += r["edit"]
        lead = r["lead"]
        deal_paths.append((r, stage, moved, closed, owner))
        utm = (lead["utm"] if lead else None) or (None, None, None, None)
        deals_out.append(
            {
                "ID": str(r["id"]),
                "TITLE": f"{r['product']} — {book.company_names[r['company']]}",
                "TYPE_ID": "SALE",
                "CATEGORY_ID": str(pid),
                "STAGE_ID": stage,
                "STAGE_SEMANTIC_ID": ("S" if r["won"] else "F") if closed else "P",
                "IS_NEW": "Y" if stage.endswith("NEW") else "N",
                "IS_RECURRING": "N",
                "IS_RETURN_CUSTOMER": "Y" if r["repeat"] else "N",
                "IS_REPEATED_APPROACH": "N",
                "PROBABILITY": None,
                "CURRENCY_ID": r["currency"],
                "OPPORTUNITY": r["opp"],
                "IS_MANUAL_OPPORTUNITY": "N",
                "TAX_VALUE": "0.00",
                "COMPANY_ID": str(r["company"]),
                "CONTACT_ID": _contact(r["company"]),
                "QUOTE_ID": None,
                "BEGINDATE": f"{cal.day_str[r['create'] // DAY]}T00:00:00{TZ_SUFFIX}",
                "CLOSEDATE": fmt(r["close"])
                if closed
                else f"{(cal.origin + timedelta(days=r['planned'] // DAY)).isoformat()}T00:00:00{TZ_SUFFIX}",
                "OPENED": "Y",
                "CLOSED": "Y" if closed else "N",
                "COMMENTS": None,
                "ASSIGNED_BY_ID": str(owner),
                "CREATED_BY_ID": str(r["mgr"]),
                "MODIFY_BY_ID": str(owner),
                "MOVED_BY_ID": str(owner),
                "DATE_CREATE": fmt(r["create"]),
                "DATE_MODIFY": fmt(modify),
                "MOVED_TIME": fmt(moved),
                "SOURCE_ID": r["source"],
                "SOURCE_DESCRIPTION": None,
                "LEAD_ID": str(lead["id"]) if lead else None,
                "ADDITIONAL_INFO": None,
                "ORIGINATOR_ID": None,
                "ORIGIN_ID": None,
                "UTM_SOURCE": utm[0],
                "UTM_MEDIUM": utm[1],
                "UTM_CAMPAIGN": utm[2],
                "UTM_CONTENT": None,
                "UTM_TERM": utm[3],
                "LAST_ACTIVITY_TIME": fmt(r["last_act"]) if r["last_act"] else fmt(r["create"]),
                "LAST_ACTIVITY_BY": str(owner),
                "UF_CRM_LOST_REASON": r["lost_reason"] if closed and not r["won"] else None,
                "UF_CRM_PRODUCT": r["product"],
            }
        )
    return deals_out, deal_paths


def activity_records(cal: Calendar, acts: list[Activity]) -> list[dict[str, Any]]:
    """crm.activity.list: ids in creation order; an activity with no lead or deal belongs to a company."""
    fmt = cal.ts
    type_ids = {
        "call_out": ("2", "VOXIMPLANT_CALL", "CALL"),
        "call_in": ("2", "VOXIMPLANT_CALL", "CALL"),
        "email": ("4", "CRM_EMAIL", "EMAIL"),
        "meeting": ("1", "CRM_MEETING", "MEETING"),
        "task": ("3", "CRM_TASKS_TASK", "TASK"),
    }
    acts_out = []
    for n, (t, kind, direction, duration, completed, deadline, updated, subject, uid, owner) in enumerate(acts, 1):
        type_id, provider, provider_type = type_ids[kind]
        if owner is None:
            owner_type, owner_id = "4", "0"
        else:
            owner_type, owner_id = str(owner[2]), str(owner[3]["id"])
        end = t + duration
        acts_out.append(
            {
                "ID": str(n),
                "OWNER_ID": owner_id,
                "OWNER_TYPE_ID": owner_type,
                "TYPE_ID": type_id,
                "PROVIDER_ID": provider,
                "PROVIDER_TYPE_ID": provider_type,
                "DIRECTION": str(direction),
                "SUBJECT": subject,
                "COMPLETED": "Y" if completed else "N",
                "STATUS": "2" if completed else "1",
                "PRIORITY": "2",
                "RESPONSIBLE_ID": str(uid),
                "AUTHOR_ID": str(uid),
                "EDITOR_ID": str(uid),
                "CREATED": fmt(t),
                "LAST_UPDATED": fmt(updated),
                "START_TIME": fmt(t),
                "END_TIME": fmt(end),
                "DEADLINE": fmt(deadline) if deadline is not None else fmt(end),
            }
        )
    return acts_out
