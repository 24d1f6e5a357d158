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
    p = DemoPortal(world_dir)
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
            answer = s.get(portal.webhook_url + "crm.activity.list",
                           params={"filter[>ID]": last, "order[ID]": "ASC", "start": -1}, timeout=10).json()
            assert "total" not in answer and "next" not in answer
            got += [int(r["ID"]) for r in answer["result"]]
            if len(answer["result"]) < 50:
                break
            last = answer["result"][-1]["ID"]
    assert got == sorted(int(a["ID"]) for a in _file(world_dir, "activities"))


def test_date_modify_filter_compares_instants_not_strings(portal, world_dir):
    since = datetime(2026, 11, 10, 12, 0, tzinfo=timezone(timedelta(hours=3)))
    expected = sorted(int(d["ID"]) for d in _file(world_dir, "deals")
                      if datetime.fromisoformat(d["DATE_MODIFY"]) > since)
    assert 0 < len(expected) < len(_file(world_dir, "deals"))
    for written in ("2026-11-10T12:00:00+03:00", "2026-11-10T09:00:00Z", "2026-11-10T09:00:00+00:00"):
        rows, answers = _all_pages(portal.webhook_url, "crm.deal.list",
                                   {"filter[>DATE_MODIFY]": written, "order[ID]": "ASC", "select[]": ["ID", "DATE_MODIFY"]})
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
    expected = [int(d["ID"]) for d in _file(world_dir, "deals") if d["ASSIGNED_BY_ID"] == "2" and d["CATEGORY_ID"] == "1"]
    assert expected
    by_json, _ = _all_pages(portal.webhook_url, "crm.deal.list", params, post=True)
    assert [int(r["ID"]) for r in by_json] == expected
    assert set(by_json[0]) == {"ID"}
    form = requests.post(portal.webhook_url + "crm.deal.list.json",
                         data={"filter[=ASSIGNED_BY_ID]": "2", "filter[CATEGORY_ID]": "1", "select[]": "ID"}, timeout=10).json()
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
    r = requests.get(portal.webhook_url + "crm.activity.list", params={"filter[>DATE_MODIFY]": "2026-01-01"}, timeout=10)
    assert r.status_code == 400 and "LAST_UPDATED" in r.json()["error_description"]


def test_reference_methods_pipelines_stages_users_departments(portal, world_dir):
    url = portal.webhook_url
    cats = requests.get(url + "crm.category.list", params={"entityTypeId": 2}, timeout=10).json()["result"]["categories"]
    assert [c["name"] for c in cats] == ["Новые продажи", "Повторные продажи", "Тендеры"]
    stages = requests.get(url + "crm.status.list", params={"filter[ENTITY_ID]": "DEAL_STAGE_1"}, timeout=10).json()["result"]
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
    changed = portal.upsert("deals", {"ID": deal["ID"], "STAGE_ID": deal["STAGE_ID"].split(":")[0] + ":WON"
                                      if ":" in deal["STAGE_ID"] else "WON", "STAGE_SEMANTIC_ID": "S", "CLOSED": "Y"})
    added = portal.upsert("deals", {"TITLE": "Новая сделка из теста", "CATEGORY_ID": 0, "STAGE_ID": "NEW",
                                    "OPPORTUNITY": 5000.0, "CURRENCY_ID": "RUB", "ASSIGNED_BY_ID": 2})
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
