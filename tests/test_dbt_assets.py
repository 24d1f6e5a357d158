"""The dbt project as Dagster sees it: one lineage from the dlt tables, checks from dbt tests, and a
materialization through the `warehouse` resource that yields the hand-computed marts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from dagster import AssetKey, materialize

from assets.report import report_site
from assets.transform import (
    build_defs,
    dbt_cli_resource,
    dbt_project,
    ensure_manifest,
    manifest_database,
    manifest_project,
)
from resources.warehouse import Warehouse
from tests.test_dbt_models import EXPECTED_PLAN_FACT, assert_marts_match_the_hand_made_world, load_raw_world

MARTS = (
    "mart_plan_fact",
    "mart_revenue_daily",
    "mart_manager_daily",
    "mart_same_date",
    "mart_deals",
    "mart_forgotten",
    "mart_lost_reasons",
    "mart_manager_ranking",
    "mart_funnel",
    "mart_channel",
    "mart_reconciliation",
    "mart_alert_facts",
    "mart_missed_calls",
    "mart_call_load_hourly",
    "mart_funnel_stages",
    "mart_channel_monthly",
    "mart_open_invoices",
    "mart_stage_exits",
)
CORE = (
    "department",
    "manager",
    "pipeline",
    "stage",
    "deal",
    "lead",
    "activity",
    "plan",
    "fx_rate",
    "stage_history",
    "call",
    "payment",
    "ad_spend",
    "invoice",
    "int_stage_entries",
)


@pytest.fixture(scope="module")
def dbt_assets_def():
    defs = build_defs()
    (assets_def,) = list(defs.assets)
    return assets_def


def test_models_are_warehouse_assets_keyed_by_name(dbt_assets_def) -> None:
    keys = set(dbt_assets_def.keys)
    for name in (*MARTS, *CORE, "stg_bitrix24__deals", "stg_plan__plan", "stg_cbr__rates"):
        assert AssetKey([name]) in keys, name
    assert {dbt_assets_def.group_names_by_key[k] for k in keys} == {"warehouse"}


def test_sources_join_the_dlt_assets(dbt_assets_def) -> None:
    deps = dbt_assets_def.asset_deps
    assert AssetKey(["raw_bitrix24", "deals"]) in deps[AssetKey(["stg_bitrix24__deals"])]
    assert AssetKey(["raw_bitrix24", "users"]) in deps[AssetKey(["stg_bitrix24__user_departments"])]
    assert AssetKey(["raw_plan", "plan"]) in deps[AssetKey(["stg_plan__plan"])]
    assert AssetKey(["raw_cbr", "rates"]) in deps[AssetKey(["stg_cbr__rates"])]
    # the marts read canonical entities only, never staging
    assert AssetKey(["deal"]) in deps[AssetKey(["mart_plan_fact"])]
    assert not any(k.path[0].startswith("stg_") for m in MARTS for k in deps[AssetKey([m])])


def test_dbt_tests_are_asset_checks(dbt_assets_def) -> None:
    checks = {(c.asset_key.path[-1], c.name) for c in dbt_assets_def.check_specs}
    assert ("mart_plan_fact", "accepted_values_mart_plan_fact_colour__red__yellow__green") in checks
    assert ("deal", "unique_deal_deal_id") in checks
    assert any(name == "assert_plan_fact_reconciles_with_won_deals" for _, name in checks)


def test_materializing_through_dagster_builds_the_marts(dbt_assets_def, tmp_path: Path) -> None:
    warehouse = Warehouse(url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    load_raw_world(warehouse)
    result = materialize(
        [dbt_assets_def], resources={"dbt": dbt_cli_resource(), "warehouse": warehouse}, raise_on_error=False
    )
    assert result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert {AssetKey([m]) for m in MARTS} <= materialized
    # the catalog shows each table's row count, and its documented columns
    plan_fact = next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == AssetKey(["mart_plan_fact"])
    )
    assert plan_fact["dagster/row_count"].value == len(EXPECTED_PLAN_FACT)
    documented = [
        c.name
        for c in dbt_assets_def.specs_by_key[AssetKey("mart_plan_fact")].metadata["dagster/column_schema"].columns
    ]
    # (and dbt released the file: the next step of an in-process run can open it)
    assert set(documented) <= set(warehouse.query("select * from marts.mart_plan_fact limit 0").columns)
    assert {"manager_colour", "plan_red_below_pct", "plan_green_from_pct"} <= set(documented)
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(e.passed for e in evaluations)
    assert_marts_match_the_hand_made_world(warehouse)


def test_checks_guarding_the_head_of_sales_numbers_are_blocking(dbt_assets_def) -> None:
    """dagster-dbt makes severity `error` tests blocking checks and `warn` tests non-blocking."""
    specs = {(c.asset_key.path[-1], c.name): c for c in dbt_assets_def.check_specs}
    for key in (
        ("mart_plan_fact", "assert_plan_fact_reconciles_with_won_deals"),
        ("mart_plan_fact", "assert_every_won_deal_in_exactly_one_month"),
        ("mart_plan_fact", "accepted_values_mart_plan_fact_colour__red__yellow__green"),
        ("mart_revenue_daily", "assert_revenue_daily_reconciles_with_won_deals"),
        ("mart_same_date", "assert_same_date_reconciles_with_plan_fact"),
        ("mart_deals", "assert_deals_mart_has_every_deal"),
        ("deal", "unique_deal_deal_id"),
    ):
        assert key in specs and specs[key].blocking, key
    assert not specs[("mart_channel", "assert_channel_revenue_reconciles_with_won_deals")].blocking
    assert not specs[("mart_manager_daily", "assert_activity_index_sums_to_100")].blocking
    assert any(not s.blocking for (asset, _), s in specs.items() if asset == "mart_alert_facts")


ROOT = Path(__file__).resolve().parent.parent


def marts_read_by(page: Path) -> set[str]:
    """The marts a page's SQL blocks read (rop.mart_*), parsed from the page and the partials it includes
    (`{@partial "x.md"}`, reports_evidence/partials/, inlined by Evidence before the page is read)."""
    partials = ROOT / "reports_evidence" / "partials"
    text = re.sub(r'\{@partial\s+"(.*?)"\s*\}', lambda m: (partials / m[1]).read_text(), page.read_text())
    blocks = re.findall(r"```sql[^\n]*\n(.*?)```", text, flags=re.S)
    return set(re.findall(r"\brop\.(mart_\w+)", "\n".join(blocks)))


def test_each_report_page_is_a_dbt_exposure_of_the_marts_it_reads(dbt_assets_def) -> None:
    """dbt docs lineage ends at the report, and it names exactly the marts the page queries."""
    manifest = json.loads(ensure_manifest().read_text())
    exposures = {e["meta"]["page"]: e for e in manifest["exposures"].values()}
    pages = sorted((ROOT / "reports_evidence" / "pages").rglob("*.md"))  # with menedzher/[manager].md
    assert pages and sorted(exposures) == [str(p.relative_to(ROOT)) for p in pages]
    read_by_site: set[str] = set()
    for page in pages:
        exposure = exposures[str(page.relative_to(ROOT))]
        read = marts_read_by(page)
        assert read, f"{page.name} reads no rop.mart_* table"
        assert exposure["type"] == "dashboard" and exposure["owner"]["name"]
        assert {node.split(".")[-1] for node in exposure["depends_on"]["nodes"]} == read, page.name
        read_by_site |= read
        assert AssetKey(exposure["name"]) not in set(dbt_assets_def.keys)  # no second report asset
    # in Dagster every page is the one report_site asset, which depends on the marts they read
    deps = {d.asset_key for d in report_site.specs_by_key[AssetKey("report_site")].deps}
    assert {k for k in deps if k.path[-1].startswith("mart_")} == {AssetKey(m) for m in read_by_site}


def test_a_warehouse_with_another_database_gets_its_own_manifest(tmp_path: Path) -> None:
    """Definitions loaded for another warehouse never rewrite the shared manifest (two code locations,
    or two test workers, took turns rewriting it, and the loser's row counts went missing)."""
    shared = ensure_manifest()
    shared_database = manifest_database(dbt_project)
    stamp = shared.stat().st_mtime_ns
    env = Warehouse(url=f"duckdb:///{tmp_path}/acme_sales.duckdb").dbt_env()
    own = manifest_project(env)
    path = ensure_manifest(own, env)
    assert path != shared and path.exists()
    nodes = json.loads(path.read_text())["nodes"].values()
    assert {n["database"] for n in nodes if n["resource_type"] == "model"} == {"acme_sales"}
    assert shared.stat().st_mtime_ns == stamp and manifest_database(dbt_project) == shared_database
    # the default warehouse's database keeps the shared manifest
    assert manifest_project(Warehouse(url=f"duckdb:///{tmp_path}/{shared_database}.duckdb").dbt_env()) is dbt_project
