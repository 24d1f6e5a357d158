"""The amoCRM source against the demo amoCRM portal (S world): full and incremental loads, amoCRM's
paging and limits (204 empty pages, 429), a refused token, a new custom field, the Dagster assets."""

from __future__ import annotations

import hashlib
from datetime import date

import dagster as dg
import dlt
import pytest
from dagster_dlt import DagsterDltResource

from assets.ingest.amocrm.assets import amocrm_raw
from assets.ingest.amocrm.client import AmoCRMClient, AmoCRMError
from assets.ingest.amocrm.source import amocrm_source
from demo.amocrm_portal import DEFAULT_TOKEN, LOST, WON, AmoCRMPortal
from demo.world import generate
from resources.amocrm import AmoCRMAccount
from resources.warehouse import Warehouse

OVERLAP = 60  # the sources' default cursor overlap (INGEST_CURSOR_OVERLAP_SECONDS), seconds
TABLES = [
    "leads",
    "pipelines",
    "statuses",
    "events",
    "notes",
    "tasks",
    "users",
    "loss_reasons",
    "companies",
    "custom_fields",
]


@pytest.fixture(scope="module")
def world():
    return generate("S", date(2025, 6, 15), 7)


@pytest.fixture
def portal(world):
    p = AmoCRMPortal(world=world, rate_limit=None)  # the rate limit has its own test
    p.start()
    yield p
    p.stop()


def _pipeline(tmp_path, wh: Warehouse) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name="amocrm_test",
        destination=wh.dlt_destination(),
        dataset_name="raw_amocrm",
        pipelines_dir=str(tmp_path / "dlt"),
    )


def _fast_source(portal: AmoCRMPortal, token: str = DEFAULT_TOKEN):
    return amocrm_source(base_url=portal.base_url, access_token=token, max_rps=200, backoff_base=0.01)


def _count(wh: Warehouse, sql: str):
    return wh.query(sql).rows()[0][0]


def test_full_load_through_the_dagster_asset_within_the_rate_limit(world, tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    with AmoCRMPortal(world=world) as url:  # 7 requests/s enforced, as amoCRM does
        wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
        result = dg.materialize(
            [amocrm_raw],
            resources={
                "dlt": DagsterDltResource(),
                "warehouse": wh,
                "amocrm": AmoCRMAccount(base_url=url, access_token=DEFAULT_TOKEN),
            },
        )
    assert result.success
    keys = {
        e.event_specific_data.materialization.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
    }
    assert keys == {f"raw_amocrm/{t}" for t in TABLES}

    # Expected figures straight from the world (Bitrix24 shapes), not through the portal's mapping.
    deals = world.deals
    won = [d for d in deals if d["STAGE_SEMANTIC_ID"] == "S"]
    calls = [a for a in world.activities if a["PROVIDER_TYPE_ID"] == "CALL" and a["OWNER_TYPE_ID"] == "2"]
    assert _count(wh, "select count(*) from raw_amocrm.leads") == len(deals)
    assert wh.query("select count(*), sum(price) from raw_amocrm.leads where status_id = 142").rows()[0] == (
        len(won),
        sum(int(float(d["OPPORTUNITY"])) for d in won),
    )
    assert _count(wh, "select count(*) from raw_amocrm.leads where status_id = 143") == sum(
        d["STAGE_SEMANTIC_ID"] == "F" for d in deals
    )
    assert _count(wh, "select count(*) from raw_amocrm.notes") == len(calls)
    assert _count(wh, "select count(*) from raw_amocrm.users") == len(world.users)
    assert _count(wh, "select count(*) from raw_amocrm.pipelines") == len(world.categories)
    # Won and lost exist in every pipeline: the statuses' key is pipeline + status.
    assert (
        wh.query(
            "select count(distinct pipeline_id) from raw_amocrm.statuses where id in (142, 143) group by id"
        ).rows()
        == [(len(world.categories),)] * 2
    )
    # Phones arrive hashed, never in clear.
    assert _count(wh, "select count(*) from raw_amocrm.notes where length(phone_hash) = 64") > 0
    columns = {
        c
        for (c,) in wh.query(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw_amocrm' and table_name = 'notes'"
        ).rows()
    }
    assert "phone_hash" in columns and not any("phone" == c or c.endswith("__phone") for c in columns)


def test_incremental_after_new_modified_and_deleted_leads(portal, tmp_path):
    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    pipeline = _pipeline(tmp_path, wh)
    pipeline.run(_fast_source(portal))
    n = _count(wh, "select count(*) from raw_amocrm.leads")
    cursor = max(lead["updated_at"] for lead in portal.leads.values())
    overlap = {lead["id"] for lead in portal.leads.values() if lead["updated_at"] >= cursor - OVERLAP}

    open_lead = dict(next(lead for lead in portal.leads.values() if lead["status_id"] not in (WON, LOST)))
    portal.update_lead(open_lead["id"], status_id=WON, price=123456)
    new = portal.add_lead(name="Новый клиент", price=5000)
    gone = next(lead for lead in portal.leads.values() if lead["id"] not in (open_lead["id"], new["id"]))
    portal.delete_lead(gone["id"])
    portal.requests.clear()

    info = pipeline.run(_fast_source(portal))
    assert info.has_failed_jobs is False
    # Only the three changed leads travelled (one page, filtered by the cursor), with the leads of the
    # overlap re-read before the cursor (the deleted one as its stored row, marked).
    leads_rows = pipeline.last_trace.last_normalize_info.row_counts.get("leads")
    assert leads_rows == len(overlap | {open_lead["id"], new["id"], gone["id"]})
    assert ("GET", "/api/v4/leads", 200) in portal.requests
    assert wh.query("select count(*), count(distinct id) from raw_amocrm.leads").rows()[0] == (n + 1, n + 1)
    assert wh.query(
        f"select status_id, price, closed_at is not null from raw_amocrm.leads where id = {open_lead['id']}"
    ).rows() == [(WON, 123456, True)]
    assert _count(wh, f"select is_deleted from raw_amocrm.leads where id = {gone['id']}") is True
    assert (
        _count(wh, f"select count(*) from raw_amocrm.events where type = 'lead_deleted' and entity_id = {gone['id']}")
        == 1
    )
    assert wh.query(
        f"select status_before_id, status_after_id from raw_amocrm.events where type = "
        f"'lead_status_changed' and entity_id = {open_lead['id']} and status_after_id = {WON}"
    ).rows() == [(open_lead["status_id"], WON)]

    # Nothing changed since: only the overlap before the cursor comes again (amoCRM's `from` is
    # inclusive) and the merge on id keeps one row each; the deleted lead stays marked once.
    cursor = portal.clock
    again = {
        lead["id"]
        for lead in portal.leads.values()
        if lead["updated_at"] >= cursor - OVERLAP and not lead["is_deleted"]
    }
    pipeline.run(_fast_source(portal))
    assert pipeline.last_trace.last_normalize_info.row_counts.get("leads") == len(again)
    assert wh.query("select count(*), count(distinct id) from raw_amocrm.leads").rows()[0] == (n + 1, n + 1)
    assert _count(wh, "select count(*) from raw_amocrm.leads where is_deleted") == 1


def test_empty_pages_answer_204_and_load_nothing(portal, tmp_path):
    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    source = amocrm_source(
        base_url=portal.base_url, access_token=DEFAULT_TOKEN, max_rps=200, updated_since=portal.clock + 10
    )
    info = _pipeline(tmp_path, wh).run(source)
    assert not info.has_failed_jobs
    statuses = {path: status for _, path, status in portal.requests}
    for path in ("/api/v4/leads", "/api/v4/events", "/api/v4/leads/notes", "/api/v4/tasks", "/api/v4/companies"):
        assert statuses[path] == 204, path
    assert _count(wh, "select count(*) from raw_amocrm.users") == len(portal.users)


def test_paging_follows_next_until_absent_and_stops_on_204(portal):
    client = AmoCRMClient(portal.base_url, DEFAULT_TOKEN, max_rps=0)
    pages = list(client.pages("/api/v4/leads", key="leads", limit=250))
    assert [len(p) for p in pages[:-1]] == [250] * (len(pages) - 1)
    assert sum(len(p) for p in pages) == len(portal.leads)
    portal.requests.clear()
    assert list(client.pages("/api/v4/leads", {"filter[updated_at][from]": portal.clock + 10}, key="leads")) == []
    assert portal.requests == [("GET", "/api/v4/leads", 204)]
    with pytest.raises(AmoCRMError, match="limit must be 1..250"):
        client.get("/api/v4/leads", {"limit": 251})


def test_429_and_5xx_are_retried(portal):
    slept: list[float] = []
    client = AmoCRMClient(portal.base_url, DEFAULT_TOKEN, max_rps=0, backoff_base=0.01, sleep=slept.append)
    portal.fail_next(429, 2)
    portal.fail_next(500)
    portal.fail_next(503)
    rows = [r for page in client.pages("/api/v4/users", key="users") for r in page]
    assert len(rows) == len(portal.users)
    assert slept[:2] == [1.0, 1.0]  # Retry-After of the 429s honoured
    assert [s for _, _, s in portal.requests[:5]] == [429, 429, 500, 503, 200]
    portal.fail_next(500, 10)
    with pytest.raises(AmoCRMError, match=r"GET /api/v4/users: HTTP 500"):
        AmoCRMClient(portal.base_url, DEFAULT_TOKEN, max_rps=0, max_retries=2, sleep=lambda s: None).get(
            "/api/v4/users"
        )


def test_the_real_rate_limit_is_survived(world):
    """A client that asks too fast (20/s) meets the portal's 7/s and still gets every page."""
    with AmoCRMPortal(world=world) as url:
        portal_pages = list(
            AmoCRMClient(url, DEFAULT_TOKEN, max_rps=20, backoff_base=0.2).pages(
                "/api/v4/leads/notes", key="notes", limit=50
            )
        )
    assert sum(len(p) for p in portal_pages) == sum(
        a["PROVIDER_TYPE_ID"] == "CALL" and a["OWNER_TYPE_ID"] == "2" for a in world.activities
    )


def test_wrong_token_is_a_clear_error_without_the_token(portal, tmp_path, monkeypatch):
    bad_token = "wrong-secret-token-0123456789"
    client = AmoCRMClient(portal.base_url, bad_token, max_rps=0)
    with pytest.raises(AmoCRMError) as err:
        client.get("/api/v4/leads")
    message = str(err.value)
    assert "/api/v4/leads" in message and "401" in message and "AMOCRM_ACCESS_TOKEN" in message
    assert bad_token not in message and bad_token not in repr(client)

    # Through Dagster: the source is reported failed by its source_refreshed check (the run fails
    # there, the rest of a whole-graph run would still build), naming the cause, never the token.
    from assets.ingest.checks import source_refreshed_check
    from assets.ingest.sources import SOURCES

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AMOCRM_BASE_URL", portal.base_url)
    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    result = dg.materialize(
        [amocrm_raw, source_refreshed_check(SOURCES["amocrm"], amocrm_raw)],
        raise_on_error=False,
        resources={
            "dlt": DagsterDltResource(),
            "warehouse": wh,
            "amocrm": AmoCRMAccount(base_url=portal.base_url, access_token=bad_token),
        },
    )
    assert not result.success
    assert [e.step_key for e in result.get_step_failure_events()] == ["raw_amocrm__leads_source_refreshed"]
    text = str(result.get_step_failure_events()[0].event_specific_data.error.to_string())
    assert "401" in text and "/api/v4/" in text and bad_token not in text
    error = wh.query("select error from ops.source_status where source = 'amocrm' and status = 'failed'")["error"][0]
    assert "401" in error and bad_token not in error


def test_a_new_custom_field_becomes_a_new_column(portal, tmp_path):
    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    pipeline = _pipeline(tmp_path, wh)
    pipeline.run(_fast_source(portal))
    some = sorted(portal.leads)[:3]
    portal.add_custom_field(910001, "Бюджет клиента", "CLIENT_BUDGET", {i: f"{i}000" for i in some})
    pipeline.run(_fast_source(portal))
    assert wh.query("select id, cf_910001 from raw_amocrm.leads where cf_910001 is not null order by id").rows() == [
        (i, f"{i}000") for i in some
    ]
    assert _count(wh, "select count(*) from raw_amocrm.leads where cf_910001 is null") == len(portal.leads) - 3
    assert _count(wh, "select name from raw_amocrm.custom_fields where id = 910001") == "Бюджет клиента"


def test_asset_specs_and_the_phone_hash():
    specs = {key: spec for key, spec in amocrm_raw.specs_by_key.items()}
    assert set(specs) == {dg.AssetKey(["raw_amocrm", t]) for t in TABLES}
    assert {s.group_name for s in specs.values()} == {"ingest"}
    assert {s.tags["source"] for s in specs.values()} == {"amocrm"}
    assert all(not s.deps for s in specs.values())
    from assets.ingest.amocrm.source import flatten_note

    row = flatten_note({"id": 1, "params": {"phone": "+79001234567", "duration": 5}})
    assert row["phone_hash"] == hashlib.sha256(b"+79001234567").hexdigest() and "params" not in row


def test_configured_sources_join_the_graph_and_bitrix24_steps_aside(monkeypatch, tmp_path):
    from assets.ingest import build_defs

    for var in (
        "BITRIX24_WEBHOOK_URL",
        "AMOCRM_BASE_URL",
        "AMOCRM_ACCESS_TOKEN",
        "CRM_EXPORT_DIR",
        "CRM_EXPORT_MAPPING",
    ):
        monkeypatch.delenv(var, raising=False)

    def sources() -> set[str]:
        return {spec.tags["source"] for a in build_defs().assets for spec in a.specs_by_key.values()}

    assert {"bitrix24", "plan", "cbr"} <= sources() and not {"amocrm", "export"} & sources()  # demo mode
    monkeypatch.setenv("AMOCRM_BASE_URL", "https://example.amocrm.ru")
    monkeypatch.setenv("AMOCRM_ACCESS_TOKEN", "secret")
    assert "amocrm" in sources() and "bitrix24" not in sources()  # an amoCRM company has no Bitrix24
    monkeypatch.setenv("CRM_EXPORT_DIR", str(tmp_path))
    assert {"amocrm", "export"} <= sources()
    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", "https://portal.bitrix24.ru/rest/1/x/")
    assert {"amocrm", "export", "bitrix24"} <= sources()


def test_the_resource_reads_the_settings_and_names_what_is_missing(monkeypatch):
    from resources.amocrm import AmoCRMNotConfigured

    monkeypatch.delenv("AMOCRM_BASE_URL", raising=False)
    monkeypatch.delenv("AMOCRM_ACCESS_TOKEN", raising=False)
    with pytest.raises(AmoCRMNotConfigured, match="AMOCRM_BASE_URL"):
        AmoCRMAccount().credentials()
    monkeypatch.setenv("AMOCRM_BASE_URL", "https://example.amocrm.ru/")
    with pytest.raises(AmoCRMNotConfigured, match="AMOCRM_ACCESS_TOKEN"):
        AmoCRMAccount().credentials()
    monkeypatch.setenv("AMOCRM_ACCESS_TOKEN", "tok-123")
    assert AmoCRMAccount().credentials() == ("https://example.amocrm.ru", "tok-123")


def _quarantine(wh: Warehouse) -> list[tuple]:
    try:
        return wh.query("select source, position, reason, raw from raw_amocrm.quarantine order by position").rows()
    except Exception:  # no table: nothing was ever quarantined
        return []


def _call_notes(world) -> list[dict]:
    return [a for a in world.activities if a["PROVIDER_TYPE_ID"] == "CALL" and a["OWNER_TYPE_ID"] == "2"]


def test_an_error_burst_of_429_500_503_and_a_timeout_is_ridden_out(portal, world, tmp_path):
    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    portal.fail_next(429)
    portal.fail_next(500)
    portal.fail_next(503)
    portal.slow_next(1.5)  # the first answer comes after the client's read timeout below
    info = _pipeline(tmp_path, wh).run(
        amocrm_source(
            base_url=portal.base_url, access_token=DEFAULT_TOKEN, max_rps=200, backoff_base=0.01, read_timeout=0.5
        )
    )
    assert not info.has_failed_jobs
    assert sorted(i for (i,) in wh.query("select id from raw_amocrm.leads").rows()) == sorted(
        int(d["ID"]) for d in world.deals
    )
    assert _count(wh, "select count(*) from raw_amocrm.notes") == len(_call_notes(world))
    assert _count(wh, "select count(*) from raw_amocrm.users") == len(world.users)
    assert {429, 500, 503} <= {status for _, _, status in portal.requests}
    assert _quarantine(wh) == []


def test_a_malformed_page_and_a_malformed_record_are_quarantined_and_the_rest_loads(portal, world, tmp_path):
    from datetime import datetime

    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    bad_id = sorted(portal.leads)[17]
    portal.leads[bad_id]["updated_at"] += 0.5  # a garbled record: not whole Unix seconds
    portal.malform_next(2, path="/api/v4/leads/notes")  # the first page of calls, and its one retry
    info = _pipeline(tmp_path, wh).run(_fast_source(portal))
    assert not info.has_failed_jobs

    rows = _quarantine(wh)
    assert len(rows) == 2
    page = next(r for r in rows if "notes" in r[1])
    assert page[0] == "amocrm" and page[1] == "GET /api/v4/leads/notes page 1"
    assert "malformed page" in page[2] and "not JSON" in page[2] and page[3]
    record = next(r for r in rows if "notes" not in r[1])
    assert record[1].startswith("GET /api/v4/leads page ") and "updated_at" in record[2]
    assert f'"id": {bad_id}' in record[3]
    # every other lead loaded; the calls after the lost page (250 a page, oldest first) loaded
    assert sorted(i for (i,) in wh.query("select id from raw_amocrm.leads").rows()) == sorted(
        int(d["ID"]) for d in world.deals if int(d["ID"]) != bad_id
    )
    by_update = sorted(
        _call_notes(world), key=lambda a: (datetime.fromisoformat(a["LAST_UPDATED"]).timestamp(), int(a["ID"]))
    )
    assert sorted(i for (i,) in wh.query("select id from raw_amocrm.notes").rows()) == sorted(
        int(a["ID"]) for a in by_update[250:]
    )
    assert _count(wh, "select count(*) from raw_amocrm.tasks") == sum(
        a["PROVIDER_TYPE_ID"] == "TASK" and a["OWNER_TYPE_ID"] == "2" for a in world.activities
    )
