"""The demo portal answers like a Bitrix24 incoming webhook, so ingest code written for a real
portal gets every record, exactly once, through the same paging, filters and errors.

Expected ids and counts come from the world's JSON files, filtered here with plain Python.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from demo.portal import DemoPortal
from demo.world import generate

TODAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory) -> Path:
    return generate("S", TODAY, 42).write(tmp_path_factory.mktemp("portal") / "S-42")


@pytest.fixture()
def portal(world_dir):
    p = DemoPortal(world_dir, rate_limit=None)  # the limit has its own tests
    p.start()
    yield p
    p.stop()


def _file(world_dir: Path, name: str) -> list[dict]:
    return json.loads((world_dir / "bitrix24" / f"{name}.json").read_text(encoding="utf-8"))


def _all_pages(url: str, method: str, params: dict | None = None, post: bool = False) -> tuple[list[dict], list[dict]]:
    """Follow `next` like a client would; return (records, raw answers)."""
    rows, answers, start = [], [], 0
    with requests.Session() as s:
        while True:
            if post:
                answer = s.post(url + method, json={**(params or {}), "start": start}, timeout=10).json()
            else:
                answer = s.get(url + method + ".json", params={**(params or {}), "start": start}, timeout=10).json()
            answers.append(answer)
            rows += answer["result"]
            if "next" not in answer:
                return rows, answers
            start = answer["next"]


def test_start_paging_returns_every_deal_once_in_id_order(portal, world_dir):
    rows, answers = _all_pages(portal.webhook_url, "crm.deal.list", {"order[ID]": "ASC", "select[]": "*"})
    expected = sorted(int(d["ID"]) for d in _file(world_dir, "deals"))
    assert [int(r["ID"]) for r in rows] == expected
    assert all(a["total"] == len(expected) for a in answers)
    assert all(len(a["result"]) == 50 for a in answers[:-1]) and 0 < len(answers[-1]["result"]) <= 50
    assert [a["next"] for a in answers[:-1]] == list(range(50, 50 * len(answers), 50))
    assert {"start", "finish", "duration", "processing", "date_start", "date_finish"} <= set(answers[0]["time"])
    assert isinstance(rows[0]["OPPORTUNITY"], str) and "." in rows[0]["OPPORTUNITY"]


def test_keyset_paging_without_count_returns_every_activity(portal, world_dir):
    """start=-1 with filter[>ID]=last: no total, no next, stop at a short page (docs' advice for big loads)."""
    got, last = [], 0
    with requests.Session() as s:
        while True:
            answer = s.get(
                portal.webhook_url + "crm.activity.list",
                params={"filter[>ID]": last, "order[ID]": "ASC", "start": -1},
                timeout=10,
            ).json()
            assert "total" not in answer and "next" not in answer
            got += [int(r["ID"]) for r in answer["result"]]
            if len(answer["result"]) < 50:
                break
            last = answer["result"][-1]["ID"]
    assert got == sorted(int(a["ID"]) for a in _file(world_dir, "activities"))


def test_date_modify_filter_compares_instants_not_strings(portal, world_dir):
    since = datetime(2026, 11, 10, 12, 0, tzinfo=timezone(timedelta(hours=3)))
    expected = sorted(
        int(d["ID"]) for d in _file(world_dir, "deals") if datetime.fromisoformat(d["DATE_MODIFY"]) > since
    )
    assert 0 < len(expected) < len(_file(world_dir, "deals"))
    for written in ("2026-11-10T12:00:00+03:00", "2026-11-10T09:00:00Z", "2026-11-10T09:00:00+00:00"):
        rows, answers = _all_pages(
            portal.webhook_url,
            "crm.deal.list",
            {"filter[>DATE_MODIFY]": written, "order[ID]": "ASC", "select[]": ["ID", "DATE_MODIFY"]},
        )
        assert [int(r["ID"]) for r in rows] == expected, written
        assert answers[0]["total"] == len(expected)
    # an exact stamp: `>=` includes the record, `>` leaves it out
    stamp = _file(world_dir, "deals")[100]["DATE_MODIFY"]
    at = datetime.fromisoformat(stamp)
    ge, _ = _all_pages(portal.webhook_url, "crm.deal.list", {"filter[>=DATE_MODIFY]": stamp})
    gt, _ = _all_pages(portal.webhook_url, "crm.deal.list", {"filter[>DATE_MODIFY]": stamp})
    same = [d for d in _file(world_dir, "deals") if datetime.fromisoformat(d["DATE_MODIFY"]) == at]
    assert len(ge) - len(gt) == len(same) >= 1


def test_post_json_and_form_bodies_answer_like_get(portal, world_dir):
    params = {"filter": {"=ASSIGNED_BY_ID": "2", "CATEGORY_ID": "1"}, "order": {"ID": "ASC"}, "select": ["ID"]}
    expected = [
        int(d["ID"]) for d in _file(world_dir, "deals") if d["ASSIGNED_BY_ID"] == "2" and d["CATEGORY_ID"] == "1"
    ]
    assert expected
    by_json, _ = _all_pages(portal.webhook_url, "crm.deal.list", params, post=True)
    assert [int(r["ID"]) for r in by_json] == expected
    assert set(by_json[0]) == {"ID"}
    form = requests.post(
        portal.webhook_url + "crm.deal.list.json",
        data={"filter[=ASSIGNED_BY_ID]": "2", "filter[CATEGORY_ID]": "1", "select[]": "ID"},
        timeout=10,
    ).json()
    assert form["total"] == len(expected) and [int(r["ID"]) for r in form["result"]] == expected[:50]


def test_select_star_leaves_out_user_fields_unless_asked(portal):
    url = portal.webhook_url + "crm.deal.list"
    plain = requests.get(url, params={"select[]": "*"}, timeout=10).json()["result"][0]
    both = requests.get(url, params={"select[]": ["*", "UF_*"]}, timeout=10).json()["result"][0]
    assert "STAGE_ID" in plain and not any(k.startswith("UF_") for k in plain)
    assert "UF_CRM_LOST_REASON" in both and "STAGE_ID" in both


def test_wrong_secret_and_unknown_method_are_bitrix_errors(portal):
    bad = portal.webhook_url.replace(portal.secret, "wrong")
    r = requests.get(bad + "crm.deal.list", timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "INVALID_CREDENTIALS" and r.json()["error_description"]
    r = requests.get(portal.webhook_url + "crm.deal.fly", timeout=10)
    assert r.status_code == 404 and r.json()["error"] == "ERROR_METHOD_NOT_FOUND"
    r = requests.get(
        portal.webhook_url + "crm.activity.list", params={"filter[>DATE_MODIFY]": "2026-01-01"}, timeout=10
    )
    assert r.status_code == 400 and "LAST_UPDATED" in r.json()["error_description"]


def test_reference_methods_pipelines_stages_users_departments(portal, world_dir):
    url = portal.webhook_url
    cats = requests.get(url + "crm.category.list", params={"entityTypeId": 2}, timeout=10).json()["result"][
        "categories"
    ]
    assert [c["name"] for c in cats] == ["Новые продажи", "Повторные продажи", "Тендеры"]
    stages = requests.get(url + "crm.status.list", params={"filter[ENTITY_ID]": "DEAL_STAGE_1"}, timeout=10).json()[
        "result"
    ]
    assert stages and all(s["STATUS_ID"].startswith("C1:") for s in stages)
    assert {s["SEMANTICS"] for s in stages} == {None, "S", "F"}
    sources = requests.get(url + "crm.status.list", params={"filter[ENTITY_ID]": "SOURCE"}, timeout=10).json()["result"]
    assert {d["SOURCE_ID"] for d in _file(world_dir, "deals")} <= {s["STATUS_ID"] for s in sources}
    users = requests.get(url + "user.get", timeout=10).json()
    assert users["total"] == len(_file(world_dir, "users")) and isinstance(users["result"][0]["UF_DEPARTMENT"], list)
    dept2 = requests.get(url + "user.get", params={"FILTER[UF_DEPARTMENT]": "2"}, timeout=10).json()["result"]
    assert dept2 and all(u["UF_DEPARTMENT"] == [2] for u in dept2)
    depts = requests.get(url + "department.get", timeout=10).json()["result"]
    assert {d["ID"] for d in depts} == {d["ID"] for d in _file(world_dir, "departments")}


def test_mutations_show_up_in_the_next_incremental_read(portal, world_dir):
    url = portal.webhook_url
    latest = max(d["DATE_MODIFY"] for d in _file(world_dir, "deals"))
    deal = next(d for d in _file(world_dir, "deals") if d["CLOSED"] == "N")
    changed = portal.upsert(
        "deals",
        {
            "ID": deal["ID"],
            "STAGE_ID": deal["STAGE_ID"].split(":")[0] + ":WON" if ":" in deal["STAGE_ID"] else "WON",
            "STAGE_SEMANTIC_ID": "S",
            "CLOSED": "Y",
        },
    )
    added = portal.upsert(
        "deals",
        {
            "TITLE": "Новая сделка из теста",
            "CATEGORY_ID": 0,
            "STAGE_ID": "NEW",
            "OPPORTUNITY": 5000.0,
            "CURRENCY_ID": "RUB",
            "ASSIGNED_BY_ID": 2,
        },
    )
    assert changed["CLOSED"] == "Y" and changed["TITLE"] == deal["TITLE"]  # an update keeps what it did not name
    assert int(added["ID"]) == max(int(d["ID"]) for d in _file(world_dir, "deals")) + 1
    assert added["OPPORTUNITY"] == "5000.00" and added["CATEGORY_ID"] == "0"
    fresh, _ = _all_pages(url, "crm.deal.list", {"filter[>DATE_MODIFY]": latest, "order[ID]": "ASC"})
    assert [r["ID"] for r in fresh] == [deal["ID"], added["ID"]]
    assert fresh[0]["STAGE_SEMANTIC_ID"] == "S" and fresh[0]["TITLE"] == deal["TITLE"]
    assert datetime.fromisoformat(fresh[0]["DATE_MODIFY"]) > datetime.fromisoformat(latest)
    assert portal.delete("deals", deal["ID"]) and not portal.delete("deals", deal["ID"])
    everything, answers = _all_pages(url, "crm.deal.list", {"select[]": "ID"})
    assert deal["ID"] not in {r["ID"] for r in everything}
    assert answers[0]["total"] == len(_file(world_dir, "deals"))  # one added, one deleted


def test_injected_faults_look_like_bitrix_rate_limits(portal):
    portal.fail_next(2)
    for _ in range(2):
        r = requests.get(portal.webhook_url + "crm.deal.list", timeout=10)
        assert r.status_code == 503 and r.json()["error"] == "QUERY_LIMIT_EXCEEDED"
    assert requests.get(portal.webhook_url + "crm.deal.list", timeout=10).status_code == 200


# ---- batch, the request limit, and the methods beside deals ---------------------------------------


def test_batch_runs_up_to_50_list_calls_and_answers_each_one(portal, world_dir):
    deals = sorted(int(d["ID"]) for d in _file(world_dir, "deals"))
    cmd = {f"p{k}": f"crm.deal.list?filter%5B%3EID%5D=0&order[ID]=ASC&start={k * 50}&select[]=ID" for k in range(3)}
    cmd["bad"] = "crm.nothing.list?start=0"
    answer = requests.post(portal.webhook_url + "batch.json", json={"halt": 0, "cmd": cmd}, timeout=10).json()["result"]
    got = [int(r["ID"]) for k in ("p0", "p1", "p2") for r in answer["result"][k]]
    assert got == deals[:150]
    assert answer["result_total"] == {k: len(deals) for k in ("p0", "p1", "p2")}
    assert answer["result_next"] == {"p0": 50, "p1": 100, "p2": 150}
    assert answer["result_error"]["bad"]["error"] == "ERROR_METHOD_NOT_FOUND"
    # halt=1 stops at the first error; more than 50 commands is refused as a whole
    halted = requests.post(
        portal.webhook_url + "batch", json={"halt": 1, "cmd": {"bad": "nope?", "p0": cmd["p0"]}}, timeout=10
    ).json()["result"]
    assert halted["result"] == [] and "bad" in halted["result_error"]
    big = requests.post(portal.webhook_url + "batch", json={"cmd": {str(i): "user.get" for i in range(51)}}, timeout=10)
    assert big.status_code == 400 and big.json()["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"


def test_the_leaky_bucket_allows_a_burst_of_50_then_2_a_second(world_dir):
    p = DemoPortal(world_dir)  # the default: Bitrix24's 2 requests/s with bursts to 50
    url = p.start()
    try:
        with requests.Session() as s:
            codes = [s.post(url + "user.get", json={}, timeout=10).status_code for _ in range(55)]
            assert codes[:50] == [200] * 50 and set(codes[50:]) == {503}
            refused = s.post(url + "user.get", json={}, timeout=10).json()
            assert refused["error"] == "QUERY_LIMIT_EXCEEDED"
            import time

            time.sleep(1.1)  # drains 2 a second
            assert [s.post(url + "user.get", json={}, timeout=10).status_code for _ in range(3)] == [200, 200, 503]
    finally:
        p.stop()


def test_stage_history_follows_each_deal_from_creation_to_its_stage(portal, world_dir):
    deals = {d["ID"]: d for d in _file(world_dir, "deals")}
    items, start = [], 0
    while start is not None:
        answer = requests.post(
            portal.webhook_url + "crm.stagehistory.list",
            json={"entityTypeId": 2, "order": {"ID": "ASC"}, "start": start},
            timeout=10,
        ).json()
        items += answer["result"]["items"]
        start = answer.get("next")
    assert len(items) == len(_file(world_dir, "stage_history_deals"))
    by_deal: dict[str, list[dict]] = {}
    for h in items:
        by_deal.setdefault(str(h["OWNER_ID"]), []).append(h)
    assert set(by_deal) == set(deals)
    end = datetime(2026, 11, 23, 23, 59, 59, tzinfo=timezone(timedelta(hours=3)))
    for deal_id, hist in by_deal.items():
        deal = deals[deal_id]
        times = [datetime.fromisoformat(h["CREATED_TIME"]) for h in hist]
        assert times == sorted(times) and times[-1] <= end
        assert hist[0]["TYPE_ID"] == 1 and times[0] == datetime.fromisoformat(deal["DATE_CREATE"])
        assert hist[-1]["STAGE_ID"] == deal["STAGE_ID"] and hist[-1]["STAGE_SEMANTIC_ID"] == deal["STAGE_SEMANTIC_ID"]
        assert times[-1] == datetime.fromisoformat(deal["MOVED_TIME"])
        assert (hist[-1]["TYPE_ID"] == 3) == (deal["CLOSED"] == "Y")
        assert all(str(h["CATEGORY_ID"]) == deal["CATEGORY_ID"] for h in hist)
    leads = requests.post(portal.webhook_url + "crm.stagehistory.list", json={"entityTypeId": 1}, timeout=10).json()
    assert leads["total"] == len(_file(world_dir, "stage_history_leads")) and "STATUS_ID" in leads["result"]["items"][0]


def test_calls_mirror_the_call_activities_and_some_missed_calls_are_never_returned(portal, world_dir):
    calls = _file(world_dir, "calls")
    acts = {a["ID"]: a for a in _file(world_dir, "activities") if a["PROVIDER_ID"] == "VOXIMPLANT_CALL"}
    logged = [c for c in calls if c["CRM_ACTIVITY_ID"]]
    assert {c["CRM_ACTIVITY_ID"] for c in logged} == set(acts)
    for c in logged[:500]:
        a = acts[c["CRM_ACTIVITY_ID"]]
        assert c["CALL_TYPE"] == ("2" if a["DIRECTION"] == "1" else "1") and c["CALL_START_DATE"] == a["START_TIME"]
        assert c["PORTAL_USER_ID"] == a["RESPONSIBLE_ID"] and (c["CALL_FAILED_CODE"] == "200") == (
            int(c["CALL_DURATION"]) > 0
        )
    missed_in = [c for c in calls if c["CALL_TYPE"] == "2" and c["CALL_FAILED_CODE"] == "304"]
    answered_by_number: dict[str, list[datetime]] = {}
    for c in calls:
        if c["CALL_FAILED_CODE"] == "200":
            answered_by_number.setdefault(c["PHONE_NUMBER"], []).append(datetime.fromisoformat(c["CALL_START_DATE"]))
    lost = [
        c
        for c in missed_in
        if not any(
            timedelta(0) < t - datetime.fromisoformat(c["CALL_START_DATE"]) <= timedelta(hours=24)
            for t in answered_by_number.get(c["PHONE_NUMBER"], [])
        )
    ]
    assert 0 < len(lost) < len(missed_in)
    answer = requests.post(
        portal.webhook_url + "voximplant.statistic.get",
        json={"FILTER": {">=CALL_START_DATE": calls[-10]["CALL_START_DATE"]}, "SORT": "ID", "ORDER": "DESC"},
        timeout=10,
    ).json()
    assert answer["total"] >= 10 and int(answer["result"][0]["ID"]) == max(int(c["ID"]) for c in calls)


def test_tasks_answer_lower_camel_and_filter_on_upper_case_fields(portal, world_dir):
    tasks = _file(world_dir, "tasks")
    cut = sorted(t["changedDate"] for t in tasks)[-7]
    answer = requests.post(
        portal.webhook_url + "tasks.task.list",
        json={"filter": {">=CHANGED_DATE": cut}, "order": {"ID": "ASC"}},
        timeout=10,
    ).json()
    got = answer["result"]["tasks"]
    assert len(got) >= 7 and {"id", "deadline", "status", "closedDate", "changedDate", "responsibleId"} <= set(got[0])
    assert all(datetime.fromisoformat(t["changedDate"]) >= datetime.fromisoformat(cut) for t in got)
    overdue = [t for t in tasks if t["status"] != "5" and t["deadline"] < "2026-11-23"]
    assert overdue and all(t["closedDate"] is None for t in overdue)


def test_companies_are_every_company_a_deal_points_at(portal, world_dir):
    companies = {c["ID"] for c in _file(world_dir, "companies")}
    assert {d["COMPANY_ID"] for d in _file(world_dir, "deals")} <= companies
    answer = requests.post(
        portal.webhook_url + "crm.company.list", json={"select": ["ID"], "start": 0}, timeout=10
    ).json()
    assert answer["total"] == len(companies) and set(answer["result"][0]) == {"ID"}


def test_a_malformed_page_and_a_slow_answer_can_be_injected(portal):
    portal.malform_next(1, method="crm.deal.list")
    assert isinstance(requests.post(portal.webhook_url + "crm.deal.list", json={}, timeout=10).json()["result"], str)
    assert isinstance(requests.post(portal.webhook_url + "crm.deal.list", json={}, timeout=10).json()["result"], list)
    portal.fail_next(1, status=200, delay=1.0)
    with pytest.raises(requests.Timeout):
        requests.post(portal.webhook_url + "user.get", json={}, timeout=0.3)


def test_deal_update_changes_the_deal_as_the_next_read_sees_it(portal, world_dir):
    url = portal.webhook_url
    deal = next(d for d in _file(world_dir, "deals") if d["CLOSED"] == "N" and d["ASSIGNED_BY_ID"] != "7")
    answer = requests.post(
        url + "crm.deal.update.json",
        json={"id": deal["ID"], "fields": {"ASSIGNED_BY_ID": "7", "NO_SUCH_FIELD": "x"}},
        timeout=10,
    ).json()
    assert answer["result"] is True
    (now,) = [r for r in portal.records("deals") if r["ID"] == deal["ID"]]
    assert now["ASSIGNED_BY_ID"] == "7" and now["TITLE"] == deal["TITLE"] and "NO_SUCH_FIELD" not in now
    assert datetime.fromisoformat(now["DATE_MODIFY"]) > datetime.fromisoformat(deal["DATE_MODIFY"])
    missing = requests.post(url + "crm.deal.update", json={"id": 99999999, "fields": {"TITLE": "x"}}, timeout=10)
    assert missing.status_code == 400 and missing.json()["error_description"] == "Not found"
