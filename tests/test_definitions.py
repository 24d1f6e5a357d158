"""The whole Definitions load cleanly and wire one lineage from the CRM to the report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetKey

ROOT = Path(__file__).resolve().parent.parent


def _load():
    from definitions import build_definitions

    return build_definitions()


def test_definitions_load_without_warnings(tmp_path):
    """A fresh interpreter imports the definitions with every warning shown; none may be Dagster's or ours.

    (A subprocess, because asset decorators warn at import time, once per process.)"""
    probe = (
        "import warnings, json\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import definitions\n"
        "print(json.dumps([[type(w.message).__module__, w.category.__name__, str(w.filename), str(w.message)]"
        " for w in caught]))\n"
    )
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    caught = json.loads(proc.stdout.strip().splitlines()[-1])
    # Dagster's own warnings (beta, preview, deprecations of what we call) and any raised from our code;
    # third-party libraries' notices about each other (pydantic on dagster internals) are not ours.
    ours = [w for w in caught if w[0].startswith("dagster") or (w[2].startswith(str(ROOT)) and "/.venv/" not in w[2])]
    assert not ours, ours


def test_lineage_runs_from_bitrix24_through_dbt_and_ml_to_the_report():
    defs = _load()
    graph = defs.resolve_asset_graph()

    def upstream(key: AssetKey) -> set[AssetKey]:
        seen, todo = set(), [key]
        while todo:
            for parent in graph.get(todo.pop()).parent_keys:
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    chain = upstream(AssetKey("report_site"))
    for key in (
        ["raw_bitrix24", "deals"],
        ["raw_plan", "plan"],
        ["raw_cbr", "rates"],
        ["stg_bitrix24__deals"],
        ["deal"],
        ["mart_plan_fact"],
        ["forecast_month_end"],
        ["manager_anomalies"],
        ["insights"],
    ):
        assert AssetKey(key) in chain, key
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups["raw_bitrix24/deals"] == "ingest" and groups["mart_plan_fact"] == "warehouse"
    assert groups["forecast_month_end"] == groups["manager_anomalies"] == "ml"
    assert groups["insights"] == "insights" and groups["report_site"] == "report"
    assert graph.get(AssetKey(["raw_bitrix24", "deals"])).tags.get("source") == "bitrix24"
    ml = {graph.get(AssetKey(k)).partitions_def for k in ("forecast_month_end", "manager_anomalies", "insights")}
    assert len(ml) == 1 and type(next(iter(ml))).__name__ == "DailyPartitionsDefinition"


def test_schedules_and_sensors_of_the_design_exist():
    defs = _load()
    crons = {s.name: s.cron_schedule for s in defs.schedules}
    assert crons["incremental_refresh_every_15_minutes"] == "*/15 * * * *"
    assert crons["forecast_daily_0600"] == "0 6 * * *"
    assert crons["digest_daily_0900"] == "0 9 * * *"
    names = {s.name for s in defs.sensors}
    assert {"anomaly_alerts_to_head_of_sales", "run_failures_to_oncall", "asset_check_failures_to_oncall"} <= names


def test_dagster_cli_validates_the_workspace(tmp_path):
    (tmp_path / "dagster.yaml").write_text((ROOT / "deploy" / "local" / "dagster.yaml").read_text())
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All code locations passed validation" in proc.stdout + proc.stderr


def test_resources_know_nothing_of_assets_or_schedules():
    """The dependency runs one way: assets and schedules use resources, definitions.py composes them."""
    import ast

    offenders = []
    for path in sorted((ROOT / "resources").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in {"assets", "schedules", "definitions"}
            ]
    assert offenders == []
