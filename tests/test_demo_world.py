"""The demo world: deterministic, ends on `today`, realistic enough that every KPI and alert has
something to show, and its injected anomalies are really in the data.

Expected figures are recomputed here from the written files with the standard library only
(json, csv, datetime), never taken from the generator's own bookkeeping.
"""

from __future__ import annotations

import csv
import json
import random
import re
import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from demo.world import ensure_world, generate, load_world

TODAY = date(2026, 11, 23)
END = datetime.fromisoformat("2026-11-23T23:59:59+03:00")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+03:00$")


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory) -> Path:
    return generate("S", TODAY, 42).write(tmp_path_factory.mktemp("world") / "S-42")


def _entity(world_dir: Path, name: str) -> list[dict]:
    return json.loads((world_dir / "bitrix24" / f"{name}.json").read_text(encoding="utf-8"))


def _csv(world_dir: Path, name: str) -> list[dict]:
    with open(world_dir / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _rates(world_dir: Path) -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for r in _csv(world_dir, "cbr_rates.csv"):
        out[r["char_code"]].append((r["date"], float(r["value"]) / int(r["nominal"])))
    for v in out.values():
        v.sort()
    return out


def _rub(deal: dict, rates: dict) -> float:
    """Deal amount in rubles at the last CBR rate published on or before its Moscow close day."""
    amount = float(deal["OPPORTUNITY"])
    if deal["CURRENCY_ID"] == "RUB":
        return amount
    day = deal["CLOSEDATE"][:10]
    usable = [v for d, v in rates[deal["CURRENCY_ID"]] if d <= day]
    return amount * usable[-1]


def _managers(world_dir: Path) -> set[int]:
    sales_depts = {d["ID"] for d in _entity(world_dir, "departments") if d.get("PARENT")}
    return {int(u["ID"]) for u in _entity(world_dir, "users") if str(u["UF_DEPARTMENT"][0]) in sales_depts}


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path, world_dir):
    again = generate("S", TODAY, 42).write(tmp_path / "again")
    other = generate("S", TODAY, 7).write(tmp_path / "other")
    first = _files(world_dir)
    assert set(first) >= {
        "bitrix24/deals.json",
        "bitrix24/leads.json",
        "bitrix24/activities.json",
        "plan.csv",
        "cbr_rates.csv",
        "anomalies_truth.csv",
        "world_meta.json",
    }
    assert _files(again) == first
    different = _files(other)
    assert different["bitrix24/deals.json"] != first["bitrix24/deals.json"]
    assert different["bitrix24/activities.json"] != first["bitrix24/activities.json"]


def test_nothing_happens_after_today_and_the_funnel_is_still_open_at_the_end(world_dir):
    deals, leads, acts = (_entity(world_dir, n) for n in ("deals", "leads", "activities"))
    stamps = []
    for d in deals:
        stamps += [d["DATE_CREATE"], d["DATE_MODIFY"], d["MOVED_TIME"], d["LAST_ACTIVITY_TIME"]]
        if d["CLOSED"] == "Y":
            stamps.append(d["CLOSEDATE"])
    for ld in leads:
        stamps += [ld["DATE_CREATE"], ld["DATE_MODIFY"]] + ([ld["DATE_CLOSED"]] if ld["DATE_CLOSED"] else [])
    for a in acts:
        stamps += [a["CREATED"], a["LAST_UPDATED"], a["START_TIME"]]
        if a["COMPLETED"] == "Y":
            stamps.append(a["END_TIME"])
    assert all(TS.match(s) for s in stamps), "every timestamp is Moscow time with its offset"
    latest = max(datetime.fromisoformat(s) for s in stamps)
    assert latest <= END
    assert latest.date() == TODAY, "the world reaches today"
    open_deals = [d for d in deals if d["CLOSED"] == "N"]
    assert len(open_deals) > 30 and all(d["STAGE_SEMANTIC_ID"] == "P" for d in open_deals)
    assert any(ld["STATUS_SEMANTIC_ID"] == "P" for ld in leads)


def test_small_world_has_the_size_tests_need(world_dir):
    meta = json.loads((world_dir / "world_meta.json").read_text(encoding="utf-8"))
    assert meta["size"] == "S" and meta["today"] == "2026-11-23" and meta["timezone"] == "Europe/Moscow"
    start = date.fromisoformat(meta["start"])
    assert 3.5 <= (TODAY - start).days / 30.4 <= 5.5
    departments = _entity(world_dir, "departments")
    assert len([d for d in departments if d.get("PARENT")]) == 2
    assert 4 <= len(_managers(world_dir)) <= 6
    assert 1000 <= len(_entity(world_dir, "deals")) <= 2000
    assert 5000 <= len(_entity(world_dir, "activities")) <= 10000
    assert 500 <= len(_entity(world_dir, "leads")) <= 3000


def test_stages_semantics_and_pipelines_agree_with_crm_status_list(world_dir):
    statuses = _entity(world_dir, "statuses")
    cats = _entity(world_dir, "categories")
    assert [(c["id"], c["name"]) for c in cats] == [(0, "Новые продажи"), (1, "Повторные продажи"), (2, "Тендеры")]
    stage_sem = {}
    for s in statuses:
        if s["ENTITY_ID"].startswith("DEAL_STAGE"):
            pid = 0 if s["ENTITY_ID"] == "DEAL_STAGE" else int(s["ENTITY_ID"].split("_")[-1])
            assert s["CATEGORY_ID"] == str(pid)
            assert (pid == 0) != s["STATUS_ID"].startswith(f"C{pid}:")
            stage_sem[s["STATUS_ID"]] = (pid, s["SEMANTICS"] or "P")
    for d in _entity(world_dir, "deals"):
        pid, sem = stage_sem[d["STAGE_ID"]]
        assert pid == int(d["CATEGORY_ID"]) and sem == d["STAGE_SEMANTIC_ID"]
        assert (d["CLOSED"] == "Y") == (sem in ("S", "F"))
        assert re.match(r"^\d+\.\d{2}$", d["OPPORTUNITY"])


def test_deals_come_from_leads_or_by_hand_and_repeat_sales_have_an_earlier_win(world_dir):
    deals, leads = _entity(world_dir, "deals"), {ld["ID"]: ld for ld in _entity(world_dir, "leads")}
    from_leads = [d for d in deals if d["LEAD_ID"]]
    assert 0.3 < len(from_leads) / len(deals) < 0.9
    for d in from_leads:
        lead = leads[d["LEAD_ID"]]
        assert lead["STATUS_ID"] == "CONVERTED" and lead["SOURCE_ID"] == d["SOURCE_ID"]
        assert lead["UTM_SOURCE"] == d["UTM_SOURCE"]
    assert {ld["SOURCE_ID"] for ld in leads.values()} >= {"UC_YDIRECT", "UC_VKADS", "WEB", "RECOMMENDATION"}
    won_at = defaultdict(list)
    for d in deals:
        if d["STAGE_SEMANTIC_ID"] == "S":
            won_at[d["COMPANY_ID"]].append(datetime.fromisoformat(d["CLOSEDATE"]))
    repeat = [d for d in deals if d["CATEGORY_ID"] == "1"]
    assert len(repeat) > 50
    for d in repeat:
        created = datetime.fromisoformat(d["DATE_CREATE"])
        assert d["IS_RETURN_CUSTOMER"] == "Y" and any(t < created for t in won_at[d["COMPANY_ID"]])


def test_money_mostly_rubles_with_some_foreign_currency_and_daily_cbr_rates(world_dir):
    deals = _entity(world_dir, "deals")
    cur = Counter(d["CURRENCY_ID"] for d in deals)
    assert cur["RUB"] / len(deals) > 0.85 and all(cur[c] > 0 for c in ("USD", "EUR", "CNY"))
    rates = _rates(world_dir)
    for code, (lo, hi) in {"USD": (50, 150), "EUR": (55, 170), "CNY": (6, 22)}.items():
        values = [v for _, v in rates[code]]
        assert all(lo < v < hi for v in values)
        steps = [abs(b / a - 1) for a, b in pairwise(values)]
        assert max(steps) < 0.05, "a random walk, not noise"
    days = {date.fromisoformat(d) for d, _ in rates["USD"]}
    assert all(d.weekday() < 5 for d in list(days)[1:] if d > min(days)), "no rates set on weekends"
    meta_start = date.fromisoformat(json.loads((world_dir / "world_meta.json").read_text())["start"])
    weekdays = [meta_start + timedelta(n) for n in range((TODAY - meta_start).days + 1)]
    weekdays = [d for d in weekdays if d.weekday() < 5]
    assert len(days & set(weekdays)) > 0.9 * len(weekdays)


def test_plan_covers_every_manager_month_and_actuals_spread_over_all_colours(world_dir):
    plan = _csv(world_dir, "plan.csv")
    assert list(plan[0]) == [
        "month",
        "manager_id",
        "pipeline_id",
        "amount_rub",
        "deal_count",
        "bonus_threshold_pct",
        "bonus_rub",
    ]
    meta_start = date.fromisoformat(json.loads((world_dir / "world_meta.json").read_text())["start"])
    months = sorted({(meta_start + timedelta(n)).strftime("%Y-%m") for n in range((TODAY - meta_start).days + 1)})
    covered = {(r["month"], int(r["manager_id"])) for r in plan}
    assert covered == {(m, mgr) for m in months for mgr in _managers(world_dir)}
    assert all(int(r["amount_rub"]) > 0 and int(r["deal_count"]) > 0 and int(r["bonus_rub"]) > 0 for r in plan)
    rates = _rates(world_dir)
    actual: dict[tuple, float] = defaultdict(float)
    for d in _entity(world_dir, "deals"):
        if d["STAGE_SEMANTIC_ID"] == "S":
            actual[(d["CLOSEDATE"][:7], int(d["ASSIGNED_BY_ID"]), int(d["CATEGORY_ID"]))] += _rub(d, rates)
    planned = {(r["month"], int(r["manager_id"]), int(r["pipeline_id"])): int(r["amount_rub"]) for r in plan}
    assert set(actual) <= set(planned), "every won deal falls into a plan row"
    full_months = months[:-1]
    colours = Counter()
    for key, amount in planned.items():
        if key[0] in full_months:
            pct = 100 * actual.get(key, 0.0) / amount
            colours["red" if pct < 80 else "yellow" if pct < 100 else "green"] += 1
    assert all(colours[c] >= 3 for c in ("red", "yellow", "green")), colours
    for month in full_months:
        total_plan = sum(v for k, v in planned.items() if k[0] == month)
        total_actual = sum(v for k, v in actual.items() if k[0] == month)
        assert 0.65 <= total_actual / total_plan <= 1.35, (month, total_actual / total_plan)


def test_few_sales_on_weekends(world_dir):
    per_day: Counter = Counter()
    for d in _entity(world_dir, "deals"):
        if d["STAGE_SEMANTIC_ID"] == "S":
            per_day[date.fromisoformat(d["CLOSEDATE"][:10]).weekday() >= 5] += 1
    assert per_day[False] / 5 > 8 * (per_day[True] / 2)


def test_injected_anomalies_are_really_in_the_data(world_dir):
    truth = _csv(world_dir, "anomalies_truth.csv")
    assert list(truth[0]) == [
        "day",
        "manager_id",
        "metric",
        "description",
        "kind",
        "subject_type",
        "subject_id",
        "event",
    ]
    managers = _managers(world_dir)
    assert {int(r["manager_id"]) for r in truth if r["subject_type"] == "manager"} <= managers
    assert {r["metric"] for r in truth} >= {"activities_total", "lost_count", "won_rub"}
    assert {r["kind"] for r in truth} == {
        "zero_activity",
        "burnout",
        "lost_spike",
        "big_win",
        "response_blowout",
        "cpa_spike",
        "budget_overrun",
        "no_leads",
        "stage_conversion_drop",
    }
    leads_by = Counter((lead["SOURCE_ID"], lead["DATE_CREATE"][:10]) for lead in _entity(world_dir, "leads"))
    for r in (r for r in truth if r["kind"] == "no_leads"):
        day = date.fromisoformat(r["day"])
        assert leads_by[(r["subject_id"], r["day"])] == 0
        around = [leads_by[(r["subject_id"], (day + timedelta(k)).isoformat())] for k in (-14, -7, 7, 14)]
        assert sum(around) / len(around) >= 1, "the channel brings leads on an ordinary day"
    acts_by = Counter((int(a["RESPONSIBLE_ID"]), a["CREATED"][:10]) for a in _entity(world_dir, "activities"))
    deals = _entity(world_dir, "deals")
    zero = [r for r in truth if r["description"].startswith("Ноль")]
    assert zero
    for r in zero:
        day, mgr = date.fromisoformat(r["day"]), int(r["manager_id"])
        assert day.weekday() < 5 and day <= TODAY
        assert acts_by[(mgr, r["day"])] == 0
        around = [
            acts_by[(mgr, (day + timedelta(k)).isoformat())] for k in (-14, -7, 7, 14) if day + timedelta(k) <= TODAY
        ]  # same weekday
        assert sum(around) / len(around) > 5, "an ordinary day would be busy"
    last_working = max(date.fromisoformat(r["day"]) for r in zero)
    assert (TODAY - last_working).days <= 3, "the world's last working day carries a known anomaly (the morning alert)"
    for r in (r for r in truth if r["metric"] == "lost_count"):
        mgr = int(r["manager_id"])
        lost = Counter(
            d["CLOSEDATE"][:10] for d in deals if d["STAGE_SEMANTIC_ID"] == "F" and int(d["ASSIGNED_BY_ID"]) == mgr
        )
        usual = statistics.median(lost.values())
        assert lost[r["day"]] >= 10 and lost[r["day"]] > 3 * usual
    for r in (r for r in truth if r["metric"] == "won_rub"):
        mgr = int(r["manager_id"])
        won = defaultdict(float)
        for d in deals:
            if d["STAGE_SEMANTIC_ID"] == "S" and int(d["ASSIGNED_BY_ID"]) == mgr:
                won[d["CLOSEDATE"][:10]] += float(d["OPPORTUNITY"]) if d["CURRENCY_ID"] == "RUB" else 0
        assert won[r["day"]] > 4 * statistics.median(won.values())
    burnout = [r for r in truth if r["description"].startswith("Выгорание")]
    assert burnout and len({r["manager_id"] for r in burnout}) == 1
    mgr = int(burnout[0]["manager_id"])
    month = burnout[0]["day"][:7]
    per_month: dict[str, list[int]] = defaultdict(list)
    for (m, day), n in acts_by.items():
        if m == mgr and date.fromisoformat(day).weekday() < 5:
            per_month[day[:7]].append(n)
    before = sorted(k for k in per_month if k < month)[-3:]
    assert len(before) == 3, "three good months precede the burnout"
    good = statistics.mean(n for k in before for n in per_month[k])
    assert statistics.mean(per_month[month]) < 0.5 * good


def test_ensure_world_writes_once_atomically_and_loads_back(tmp_path):
    target = tmp_path / "demo" / "S-3-2026-11-23"
    assert ensure_world(target, "S", TODAY, 3) == target
    stamp = (target / "bitrix24" / "deals.json").stat().st_mtime_ns
    assert ensure_world(target, "S", TODAY, 3) == target
    assert (target / "bitrix24" / "deals.json").stat().st_mtime_ns == stamp, "cached, not rewritten"
    assert [p.name for p in (tmp_path / "demo").iterdir()] == ["S-3-2026-11-23"], "no temp dirs left"
    back = load_world(target)
    fresh = generate("S", TODAY, 3)
    assert back.deals == fresh.deals and back.plan == fresh.plan and back.anomalies == fresh.anomalies
    friday, saturday = date(2026, 11, 20), date(2026, 11, 21)
    assert back.rate(saturday, "USD") == back.rate(friday, "USD") != back.rate(date(2026, 11, 19), "USD")


def test_activities_belong_to_live_deals_and_leads_and_cover_every_kind(world_dir):
    deals = {d["ID"]: d for d in _entity(world_dir, "deals")}
    leads = {ld["ID"]: ld for ld in _entity(world_dir, "leads")}
    acts = _entity(world_dir, "activities")
    kinds = Counter()
    for a in acts:
        created = datetime.fromisoformat(a["CREATED"])
        owner = {"2": deals, "1": leads}.get(a["OWNER_TYPE_ID"])
        if owner is not None:
            rec = owner[a["OWNER_ID"]]
            assert datetime.fromisoformat(rec["DATE_CREATE"]) <= created
        seconds = (datetime.fromisoformat(a["END_TIME"]) - datetime.fromisoformat(a["START_TIME"])).total_seconds()
        if a["TYPE_ID"] == "2":
            kind = ("call_in" if a["DIRECTION"] == "1" else "call_out") + ("" if seconds > 0 else "_unanswered")
        else:
            kind = {"1": "meeting", "3": "task", "4": "email"}[a["TYPE_ID"]]
        kinds[kind] += 1
    assert all(
        kinds[k] > 0
        for k in ("call_in", "call_out", "call_in_unanswered", "call_out_unanswered", "email", "meeting", "task")
    ), kinds
    assert kinds["call_out"] > kinds["call_in"], "managers call out more than they are called"
    assert sum(a["OWNER_TYPE_ID"] in ("1", "2") for a in acts) > 0.8 * len(acts)
    overdue = [
        a for a in acts if a["TYPE_ID"] == "3" and a["COMPLETED"] == "N" and datetime.fromisoformat(a["DEADLINE"]) < END
    ]
    assert overdue, "some tasks are overdue"


def test_a_stage_conversion_collapse_is_really_in_the_stage_history(world_dir):
    truth = [r for r in _csv(world_dir, "anomalies_truth.csv") if r["kind"] == "stage_conversion_drop"]
    assert truth and len({r["event"] for r in truth}) == 1 and len(truth) == 15  # three working weeks
    mgr, days = truth[0]["subject_id"], {r["day"] for r in truth}
    assert truth[0]["metric"] == "stage_conversion:PREPARATION->PREPAYMENT_INVOICE"
    owner = {d["ID"]: d["ASSIGNED_BY_ID"] for d in _entity(world_dir, "deals")}
    paths: dict[int, list[dict]] = {}
    for h in _entity(world_dir, "stage_history_deals"):
        if owner.get(str(h["OWNER_ID"])) == mgr and h["CATEGORY_ID"] == 0:
            paths.setdefault(h["OWNER_ID"], []).append(h)
    during, before = Counter(), Counter()  # deals leaving the proposal stage: (moved on?) -> count
    for rows in paths.values():
        rows.sort(key=lambda h: (h["CREATED_TIME"], h["ID"]))
        for cur, nxt in zip(rows, rows[1:]):
            if cur["STAGE_ID"] == "PREPARATION":
                day = nxt["CREATED_TIME"][:10]
                if day in days:
                    during[nxt["STAGE_SEMANTIC_ID"] != "F"] += 1
                elif day < min(days):
                    before[nxt["STAGE_SEMANTIC_ID"] != "F"] += 1
    assert sum(during.values()) >= 5
    assert during[True] / sum(during.values()) < 0.4 < 0.7 < before[True] / sum(before.values())


def test_stage_history_calls_tasks_and_companies_tell_the_deals_story_and_end_by_today(world_dir):
    deals = {d["ID"]: d for d in _entity(world_dir, "deals")}
    leads = {ld["ID"]: ld for ld in _entity(world_dir, "leads")}
    hist = _entity(world_dir, "stage_history_deals")
    lead_hist = _entity(world_dir, "stage_history_leads")
    calls, tasks, companies = (_entity(world_dir, n) for n in ("calls", "tasks", "companies"))
    stamps = [h["CREATED_TIME"] for h in hist + lead_hist] + [c["CALL_START_DATE"] for c in calls]
    stamps += [t[k] for t in tasks for k in ("createdDate", "changedDate", "closedDate") if t[k]]
    stamps += [c[k] for c in companies for k in ("DATE_CREATE", "DATE_MODIFY")]
    assert all(TS.match(s) for s in stamps) and max(datetime.fromisoformat(s) for s in stamps) <= END
    # ids ascend with time (append-only logs), every deal starts with "created" and ends where it stands
    assert [h["ID"] for h in hist] == list(range(1, len(hist) + 1))
    times = [datetime.fromisoformat(h["CREATED_TIME"]) for h in hist]
    assert times == sorted(times)
    last: dict[str, dict] = {}
    for h in hist:
        if str(h["OWNER_ID"]) not in last:
            assert h["TYPE_ID"] == 1
        last[str(h["OWNER_ID"])] = h
    assert set(last) == set(deals)
    assert all(
        last[i]["STAGE_ID"] == d["STAGE_ID"] and (last[i]["TYPE_ID"] == 3) == (d["CLOSED"] == "Y")
        for i, d in deals.items()
    )
    won = [d for d in deals.values() if d["STAGE_SEMANTIC_ID"] == "S"]
    assert all(len([h for h in hist if str(h["OWNER_ID"]) == d["ID"]]) >= 3 for d in won[:50])
    final_lead = {}
    for h in lead_hist:
        final_lead[str(h["OWNER_ID"])] = h["STATUS_ID"]
    assert final_lead == {i: ld["STATUS_ID"] for i, ld in leads.items()}
    # telephony: answered calls last, missed ones do not; some missed inbound calls are strangers'
    assert all((c["CALL_FAILED_CODE"] == "200") == (int(c["CALL_DURATION"]) > 0) for c in calls)
    assert any(c["CALL_TYPE"] == "2" and c["CALL_FAILED_CODE"] == "304" and c["CRM_ENTITY_ID"] is None for c in calls)
    # tasks: open ones past their deadline exist (overdue), closed ones carry their closing time
    assert any(t["status"] != "5" and t["deadline"] < "2026-11-23" for t in tasks)
    assert all((t["closedDate"] is not None) == (t["status"] == "5") for t in tasks)
    assert {d["COMPANY_ID"] for d in deals.values()} <= {c["ID"] for c in companies}


# ---- the parts alone ------------------------------------------------------------------------------


def _calendar_2026():
    from demo.world.calendar import Calendar

    return Calendar(start=date(2026, 1, 1), today=date(2026, 6, 30))


def test_calendar_follows_the_russian_working_week_and_its_holidays():
    cal = _calendar_2026()

    def index(d: date) -> int:
        i = (d - cal.origin).days
        assert cal.days[i] == d
        return i

    def working_days(year: int, month: int) -> int:
        return sum(cal.working[i] for i, d in enumerate(cal.days) if (d.year, d.month) == (year, month))

    # weekdays of the month minus the public holidays falling on them (a weekend holiday moves to Monday)
    assert {m: working_days(2026, m) for m in (1, 2, 3, 5)} == {1: 16, 2: 19, 3: 21, 5: 19}
    for off in ("2026-01-08", "2026-02-23", "2026-03-09", "2026-05-01", "2026-05-11", "2026-06-12", "2026-03-14"):
        assert not cal.working[index(date.fromisoformat(off))], off
    for on in ("2026-01-09", "2026-03-10", "2026-05-12", "2026-06-11"):
        assert cal.working[index(date.fromisoformat(on))], on
    assert cal.next_working(index(date(2026, 1, 1))) == index(date(2026, 1, 9))
    assert cal.next_working(index(date(2026, 1, 12))) == index(date(2026, 1, 12))


def test_calendar_moments_fall_in_office_hours_of_the_managers_zone():
    cal = _calendar_2026()
    rng = random.Random(5)
    i = (date(2026, 3, 10) - cal.origin).days
    moscow = [cal.moment(rng, i) - i * 86400 for _ in range(500)]
    shifted = [cal.moment(rng, i, shift_h=2) - i * 86400 for _ in range(500)]
    assert 9 * 3600 <= min(moscow) and max(moscow) < 19 * 3600
    assert 7 * 3600 <= min(shifted) and max(shifted) < 17 * 3600
    assert cal.ts(i * 86400 + 9 * 3600 + 5) == "2026-03-10T09:00:05+03:00"
    assert cal.sec("2026-03-10T09:00:05+03:00") == i * 86400 + 9 * 3600 + 5


def test_cbr_rates_are_positive_continuous_and_published_on_working_days_only():
    from demo.world.fx import RateSeries

    cal = _calendar_2026()
    fx = RateSeries(42, cal)
    series: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for row in fx.rows:
        assert row["nominal"] == 1 and row["value"] > 0
        series[row["char_code"]].append((row["date"], row["value"]))
    assert set(series) == {"USD", "EUR", "CNY"}
    days = [d for d, _ in series["USD"]]
    assert days == sorted(days) == [d for d, _ in series["EUR"]] == [d for d, _ in series["CNY"]]
    assert days[0] < "2026-01-01" and days[-1] == "2026-06-30"  # the world's first day has a rate before it
    assert all(date.fromisoformat(d).weekday() < 5 for d in days[1:])
    gaps = [(date.fromisoformat(b) - date.fromisoformat(a)).days for a, b in pairwise(days)]
    assert max(gaps) <= 12  # the New Year break is the longest pause
    for code in ("USD", "EUR", "CNY"):
        values = [v for _, v in series[code]]
        steps = [abs(b / a - 1) for a, b in pairwise(values)]
        assert max(steps) < 0.06, (code, max(steps))  # a random walk, not jumps
    usd, eur, cny = (dict(series[c]) for c in ("USD", "EUR", "CNY"))
    assert all(0.95 < eur[d] / usd[d] < 1.25 and 6.5 < usd[d] / cny[d] < 8.0 for d in days)
    # a Saturday uses Friday's published rate; a working day its own
    saturday = (date(2026, 3, 14) - cal.origin).days
    assert fx.rate(saturday, "USD") == usd["2026-03-13"] and fx.rate(saturday + 2, "USD") == usd["2026-03-16"]
    assert fx.rate(saturday, "RUB") == 1.0


def test_org_has_the_sizes_departments_with_their_heads_and_one_burnout_story():
    from demo.world.org import Org
    from demo.world.sizes import SIZES

    cal = _calendar_2026()
    org = Org(42, SIZES["S"], cal)
    assert [m.uid for m in org.mgrs] == [2, 3, 4, 5, 6]  # user 1 is the head of sales
    assert [(d["ID"], d.get("PARENT"), d["UF_HEAD"]) for d in org.departments] == [
        ("1", None, "1"),
        ("2", "1", "2"),
        ("3", "1", "5"),
    ]
    assert sum(m.burnout for m in org.mgrs) == 1
    assert all((2 in m.pipelines) == (m.kind == "corp") for m in org.mgrs)  # tenders are the corporate team's
    burn = next(m for m in org.mgrs if m.burnout)
    burnout_day = next(i for i in range(len(cal.days)) if cal.month_of[i] == org.burnout_month)
    assert org.form(burn, burnout_day)[0] == pytest.approx(0.3)
    assert all(m.employed(cal.start_i) for m in org.mgrs)  # no hires or leavers in S


def test_the_demo_package_imports_nothing_from_the_product():
    import ast

    demo_dir = Path(__file__).resolve().parents[1] / "demo"
    product = {"resources", "assets", "schedules", "definitions"}
    found = []
    for path in sorted(demo_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            found += [f"{path.relative_to(demo_dir)}: {n}" for n in names if n.split(".")[0] in product]
    assert found == []
