"""The ingest assets in Dagster: keys that join dbt's lineage, tags, and real materializations of the demo world."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster_dlt import DagsterDltResource

from assets.ingest import build_defs
from assets.ingest.bitrix24.assets import bitrix24_raw
from assets.ingest.cbr.assets import cbr_raw
from assets.ingest.files.assets import plan_raw
from resources.bitrix24 import Bitrix24Portal
from resources.cbr import CBRRates
from resources.source_files import PlanSheet
from resources.warehouse import Warehouse

S_TODAY = date(2025, 6, 15)
SEED = 7
BITRIX_TABLES = [
    "deals",
    "leads",
    "activities",
    "companies",
    "stage_history_deals",
    "stage_history_leads",
    "calls",
    "tasks",
    "users",
    "departments",
    "pipelines",
    "stages",
]
# the non-CRM sources (tests/test_ingest_marketing_finance.py materializes them)
OTHER_SOURCES = {
    ("raw_direct", "campaign_stats"): "direct",
    ("raw_vk", "campaign_stats"): "vk",
    ("raw_onec", "invoices"): "onec",
    ("raw_onec", "payments"): "onec",
    ("raw_telephony", "calls"): "telephony",
}


def test_processes_importing_the_definitions_at_once_keep_their_spec_pipelines_apart() -> None:
    """Test workers, a code server and a benchmark import the definitions at once: each writes the spec
    pipelines' state, and a folder they shared lost one's state.json to another (FileNotFoundError at
    import). Each process has its own folder, gone when it exits; importing all the sources at once works."""
    script = (
        "import definitions\n"
        "from assets.ingest.common import spec_pipeline\n"
        "print(spec_pipeline('probe', 'raw_probe').pipelines_dir)\n"
    )
    root = Path(__file__).resolve().parent.parent
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    results = [run.communicate(timeout=300) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err[-2000:] for _, err in results]
    folders = [out.strip().splitlines()[-1] for out, _ in results]
    assert len(set(folders)) == 3
    assert not any(Path(f).exists() for f in folders)


def test_asset_keys_groups_and_tags():
    specs = {key: spec for a in build_defs().assets for key, spec in a.specs_by_key.items()}
    expected = (
        {dg.AssetKey(["raw_bitrix24", t]) for t in BITRIX_TABLES}
        | {dg.AssetKey(["raw_plan", "plan"]), dg.AssetKey(["raw_cbr", "rates"])}
        | {dg.AssetKey(list(k)) for k in OTHER_SOURCES}
    )
    assert set(specs) == expected
    assert {s.group_name for s in specs.values()} == {"ingest"}
    assert specs[dg.AssetKey(["raw_bitrix24", "deals"])].tags["source"] == "bitrix24"
    assert specs[dg.AssetKey(["raw_plan", "plan"])].tags["source"] == "plan"
    assert specs[dg.AssetKey(["raw_cbr", "rates"])].tags["source"] == "cbr"
    assert all(not s.deps for s in specs.values())  # no phantom upstream keys
    for key, tag in OTHER_SOURCES.items():
        assert specs[dg.AssetKey(list(key))].tags["source"] == tag


def _mats(result: dg.ExecuteInJobResult) -> dict[str, int | None]:
    out = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        rows = mat.metadata.get("rows_loaded")
        out[mat.asset_key.to_user_string()] = rows.value if rows else None
    return out


def test_a_real_company_gets_only_its_configured_sources(monkeypatch):
    for var in (
        "AMOCRM_BASE_URL",
        "CRM_EXPORT_DIR",
        "PLAN_FILE",
        "CBR_API_URL",
        "DIRECT_TOKEN",
        "VK_ADS_TOKEN",
        "ONEC_EXPORT_DIR",
        "TELEPHONY_EXPORT_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", "https://portal.example/rest/1/abc/")

    def sources() -> set[str]:
        defs = build_defs()
        names = sorted(k.name for c in defs.asset_checks for k in c.check_keys)
        # per source, on its main table: source_refreshed (the last load failed) and freshness_check (stale)
        assert names == sorted(["source_refreshed", "freshness_check"] * len(defs.assets))
        return {spec.tags["source"] for a in defs.assets for spec in a.specs}

    assert sources() == {"bitrix24", "cbr"}  # the CBR needs no credentials: on unless switched off
    monkeypatch.setenv("CBR_API_URL", "off")
    assert sources() == {"bitrix24"}
    monkeypatch.setenv("PLAN_FILE", "/company/plan.xlsx")
    monkeypatch.setenv("DIRECT_TOKEN", "t")
    assert sources() == {"bitrix24", "plan", "direct"}


def test_outside_demo_mode_the_plan_is_never_the_demo_worlds(tmp_path, monkeypatch):
    from resources.source_files import PlanNotConfigured

    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", "https://portal.example/rest/1/abc/")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PLAN_FILE", raising=False)
    with pytest.raises(PlanNotConfigured, match="PLAN_FILE is not set"):
        PlanSheet().plan_path()
    assert not (tmp_path / "demo").exists()


def test_materialize_the_demo_world_then_rerun_and_full_refresh(tmp_path, monkeypatch):
    monkeypatch.delenv("BITRIX24_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("PLAN_FILE", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    demo = {"demo_size": "S", "demo_today": S_TODAY.isoformat(), "demo_seed": SEED}
    resources = {
        "dlt": DagsterDltResource(),
        "bitrix24": Bitrix24Portal(**demo),  # no URL: the resource serves the demo world itself
        "plan_sheet": PlanSheet(**demo),
        "cbr": CBRRates(**demo),
        "warehouse": Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}"),
    }
    result = dg.materialize([bitrix24_raw, plan_raw, cbr_raw], resources=resources)
    assert result.success
    world = tmp_path / "data" / "demo" / f"S-{SEED}-{S_TODAY.isoformat()}"
    n_deals = len(json.loads((world / "bitrix24" / "deals.json").read_text()))
    with (world / "plan.csv").open() as fh:
        n_plan = sum(1 for _ in csv.DictReader(fh))
    mats = _mats(result)
    assert set(mats) == {f"raw_bitrix24/{t}" for t in BITRIX_TABLES} | {"raw_plan/plan", "raw_cbr/rates"}
    assert mats["raw_bitrix24/deals"] == n_deals and mats["raw_plan/plan"] == n_plan
    assert (tmp_path / "data" / "dlt_pipelines" / "bitrix24").is_dir()  # dlt state stays under DATA_DIR

    wh = resources["warehouse"]
    again = dg.materialize([bitrix24_raw], resources=resources)
    # nothing new: the rerun reads again only the cursor's overlap (the deals modified within
    # INGEST_CURSOR_OVERLAP_SECONDS of the newest stamp), merged onto themselves
    stamps = [
        datetime.fromisoformat(d["DATE_MODIFY"]) for d in json.loads((world / "bitrix24" / "deals.json").read_text())
    ]
    in_overlap = sum(1 for t in stamps if t >= max(stamps) - timedelta(seconds=60))
    assert (_mats(again)["raw_bitrix24/deals"] or 0) == in_overlap
    assert wh.query("select count(*) as n from raw_bitrix24.deals")["n"][0] == n_deals

    refresh = dg.materialize(
        [bitrix24_raw],
        resources=resources,
        selection=[dg.AssetKey(["raw_bitrix24", "deals"])],
        run_config={"ops": {"bitrix24_raw": {"config": {"full_refresh": True}}}},
    )
    assert _mats(refresh) == {"raw_bitrix24/deals": n_deals}
    assert wh.query("select count(*) as n, count(distinct id) as d from raw_bitrix24.deals").rows() == [
        (n_deals, n_deals)
    ]


def test_a_configured_webhook_is_used_as_is_and_no_demo_is_started(tmp_path, monkeypatch):
    url = "https://portal.example/rest/7/s3cr3t/"
    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    portal = Bitrix24Portal()
    assert not portal.is_demo
    with portal.webhook() as got:
        assert got == url
    assert not (tmp_path / "demo").exists()


def test_a_warehouse_holds_the_demo_or_the_company_never_both(tmp_path, monkeypatch):
    """A first `make run` (the demo) then the company's own run on the same file: refused, naming why."""
    from assets.ingest.guard import WarehouseModeMismatch, ensure_mode

    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    ensure_mode(wh, demo=True)
    ensure_mode(wh, demo=True)  # the demo again: fine
    with pytest.raises(WarehouseModeMismatch, match="holds the demo world's data") as err:
        ensure_mode(wh, demo=False)
    assert "WAREHOUSE_URL" in str(err.value) and "make clean" in str(err.value)
    other = Warehouse(url=f"duckdb:///{tmp_path / 'company.duckdb'}")
    ensure_mode(other, demo=False)
    with pytest.raises(WarehouseModeMismatch, match="real company"):
        ensure_mode(other, demo=True)


def test_a_company_keeps_its_dlt_state_apart_from_the_demo(tmp_path, monkeypatch):
    from assets.ingest.common import run_pipeline

    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    monkeypatch.delenv("BITRIX24_WEBHOOK_URL", raising=False)
    demo = Path(run_pipeline("bitrix24", "raw_bitrix24", wh).pipelines_dir)
    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", "https://portal.example/rest/1/abc/")
    company = Path(run_pipeline("bitrix24", "raw_bitrix24", wh).pipelines_dir)
    assert demo == tmp_path / "dlt_pipelines" and company.parent == demo and company != demo


def test_a_reported_source_error_names_its_cause_without_secrets(monkeypatch):
    """What ops.source_status, the check and on-call show: the root cause's first line, secrets masked."""
    from assets.ingest.guard import describe_error

    monkeypatch.setenv("DIRECT_TOKEN", "y0_SECRET-direct")
    try:
        try:
            raise ConnectionError(
                "GET https://portal.example/rest/7/s3cr3tc0de/crm.deal.list refused; "
                "Authorization y0_SECRET-direct; postgresql://u:pw@db/x\nsecond line"
            )
        except ConnectionError as inner:
            raise RuntimeError("Pipeline execution failed at step=extract") from inner
    except RuntimeError as exc:
        text = describe_error(exc)
    assert text.startswith("ConnectionError: GET https://portal.example/rest/7/***/crm.deal.list refused")
    assert "s3cr3tc0de" not in text and "y0_SECRET" not in text and ":pw@" not in text
    assert "second line" not in text
