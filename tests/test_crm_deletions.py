"""A deal deleted in the CRM after the first load is gone from the canonical deals, and an amoCRM token
without administrator rights still loads, on DuckDB and PostgreSQL, against the demo portals.

amoCRM never lists a deleted lead in /api/v4/leads (the demo portal behaves so): the source learns
it from the lead_deleted events and marks the stored row is_deleted; Bitrix24's list simply stops
returning the deal and the deletion scan marks it. Either way raw keeps the row, marked, and dbt's
intermediate.deal (through the staging models) no longer counts it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from assets.ingest.amocrm.source import amocrm_source
from assets.ingest.bitrix24.source import bitrix24_source
from demo.amocrm_portal import DEFAULT_TOKEN, AmoCRMPortal
from resources.warehouse import Warehouse
from tests.support.dbt import dbt
from tests.support.worlds import both_warehouses, dlt_pipeline, s_world  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parent.parent


def _deals(wh: Warehouse, tmp_path: Path, crm: str) -> set[int]:
    """dbt run of intermediate.deal and .manager and what they need, for one CRM; the canonical deal ids."""
    proc = dbt(wh, tmp_path, "run", "--select", "+deal", "+manager", dbt_vars=f"{{crm: {crm}}}")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return {int(i) for (i,) in wh.query("select deal_id from intermediate.deal").rows()}


def test_an_amocrm_lead_deleted_after_the_first_load_leaves_the_canonical_deals(s_world, warehouse, tmp_path):
    from demo.world import load_world

    portal = AmoCRMPortal(world=load_world(s_world), rate_limit=None)
    portal.start()
    try:
        pipe = dlt_pipeline("amocrm_deleted", warehouse, "raw_amocrm", tmp_path)

        def source():
            return amocrm_source(
                base_url=portal.base_url,
                access_token=DEFAULT_TOKEN,
                max_rps=200,
                backoff_base=0.01,
            )

        assert not pipe.run(source()).has_failed_jobs
        before = _deals(warehouse, tmp_path, "amocrm")
        assert before == set(portal.leads)
        gone = sorted(portal.leads)[10]
        portal.delete_lead(gone)
        assert not any(lead["id"] == gone for page in _list(portal) for lead in page)  # amoCRM hides it

        assert not pipe.run(source()).has_failed_jobs
        # raw keeps the row, marked, with the deletion time; the staging model agrees
        assert warehouse.query("select is_deleted, updated_at from raw_amocrm.leads where id = ?", [gone]).rows() == [
            (True, portal.leads[gone]["updated_at"])
        ]
        assert warehouse.query("select count(*) from raw_amocrm.leads where is_deleted").rows() == [(1,)]
        assert _deals(warehouse, tmp_path, "amocrm") == before - {gone}
        assert warehouse.query("select lead_id from staging.stg_amocrm__leads where is_deleted").rows() == [(gone,)]

        # back from the recycle bin: listed again, live in raw, staging and the canonical deals
        portal.restore_lead(gone)
        assert not pipe.run(source()).has_failed_jobs
        assert warehouse.query("select is_deleted from raw_amocrm.leads where id = ?", [gone]).rows() == [(False,)]
        assert _deals(warehouse, tmp_path, "amocrm") == before
    finally:
        portal.stop()


def _list(portal: AmoCRMPortal) -> list[list[dict]]:
    from assets.ingest.amocrm.client import AmoCRMClient

    return list(AmoCRMClient(portal.base_url, DEFAULT_TOKEN, max_rps=0).pages("/api/v4/leads", key="leads"))


def test_a_bitrix24_deal_deleted_after_the_first_load_leaves_the_canonical_deals(s_world, warehouse, tmp_path):
    from demo.portal import DemoPortal

    world = tmp_path / "world"
    shutil.copytree(s_world, world)
    portal = DemoPortal(world, rate_limit=None)
    portal.start()
    try:
        pipe = dlt_pipeline("bitrix24_deleted", warehouse, "raw_bitrix24", tmp_path)

        def source():
            return bitrix24_source(
                webhook_url=portal.webhook_url,
                rate=None,
                backoff_base=0.01,
                deletion_scan="always",
            ).with_resources("deals", "pipelines", "stages", "users", "departments")

        assert not pipe.run(source()).has_failed_jobs
        before = _deals(warehouse, tmp_path, "bitrix24")
        assert before == {int(d["ID"]) for d in portal.records("deals")}
        gone = int(portal.records("deals")[10]["ID"])
        assert portal.delete("deals", gone)

        assert not pipe.run(source()).has_failed_jobs
        assert warehouse.query("select is_deleted from raw_bitrix24.deals where id = ?", [str(gone)]).rows() == [
            (True,)
        ]
        assert _deals(warehouse, tmp_path, "bitrix24") == before - {gone}
    finally:
        portal.stop()


def test_an_amocrm_token_without_admin_rights_loads_everything_but_user_names(s_world, warehouse, tmp_path, caplog):
    from demo.world import load_world

    portal = AmoCRMPortal(world=load_world(s_world), rate_limit=None, admin=False)
    portal.start()
    try:
        pipe = dlt_pipeline("amocrm_nonadmin", warehouse, "raw_amocrm", tmp_path)

        def source():
            return amocrm_source(
                base_url=portal.base_url,
                access_token=DEFAULT_TOKEN,
                max_rps=200,
                backoff_base=0.01,
            )

        with caplog.at_level("WARNING", logger="assets.ingest.amocrm.source"):
            info = pipe.run(source())
        assert not info.has_failed_jobs
        assert ("GET", "/api/v4/users", 403) in portal.requests
        said = [r for r in caplog.records if "/api/v4/users" in r.getMessage() and "403" in r.getMessage()]
        assert len(said) == 1 and "administrator" in said[0].getMessage()  # said once
        assert warehouse.query("select count(*) from raw_amocrm.leads").rows() == [(len(portal.leads),)]
        # every manager still gets a canonical row, named from the leads' responsible_user_id
        assert _deals(warehouse, tmp_path, "amocrm") == set(portal.leads)
        managers = {int(i) for (i,) in warehouse.query("select manager_id from intermediate.manager").rows()}
        assert {lead["responsible_user_id"] for lead in portal.leads.values()} <= managers

        # names loaded earlier with an administrator's token are kept when the rights go
        portal.admin = True
        assert not pipe.run(source()).has_failed_jobs
        named = warehouse.query("select count(*) from raw_amocrm.users where name is not null").rows()
        assert named == [(len(portal.users),)]
        portal.admin = False
        assert not pipe.run(source()).has_failed_jobs
        assert warehouse.query("select count(*) from raw_amocrm.users where name is not null").rows() == named
    finally:
        portal.stop()
