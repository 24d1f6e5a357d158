"""Build (or reuse) the demo world's warehouse for the alerts benchmark: the real ingest assets of the
sources the alert rules read (Bitrix24 at its demo portal, plan, CBR, Yandex.Direct, VK Ads,
telephony), then `dbt build` of mart_alert_facts and what it needs.

    .venv/bin/python -m benchmarks._alerts_world --size M --today 2026-11-23 --workdir /tmp/alerts_bench
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from benchmarks.dbt_build import run_dbt

# the sources mart_alert_facts reads (CRM, plan, ad spend with its CBR rates, calls)
SOURCES = ("bitrix24", "plan", "cbr", "direct", "vk", "telephony")


def _ingest(size: str, today: str, workdir: Path, warehouse_url: str) -> float:
    import dagster as dg

    os.environ.update(
        {"DATA_DIR": str(workdir / "data"), "DEMO_SIZE": size, "DEMO_TODAY": today, "WAREHOUSE_URL": warehouse_url}
    )
    for name in ("BITRIX24_WEBHOOK_URL", "PLAN_FILE", "CRM_EXPORT_DIR", "AMOCRM_BASE_URL"):
        os.environ.pop(name, None)
    from definitions import build_definitions

    defs = build_definitions()
    assert defs.assets is not None, "build_definitions() always lists its assets"
    assets = [
        a
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition) and any(spec.tags.get("source") in SOURCES for spec in a.specs)
    ]
    started = time.perf_counter()
    assert dg.materialize(assets, resources=defs.resources).success
    return time.perf_counter() - started


def _dbt(duckdb_path: Path, target: Path, today: str, select: str = "+mart_alert_facts") -> float:
    env = {
        **os.environ,
        "DBT_TARGET": "duckdb",
        "DUCKDB_PATH": str(duckdb_path),
        "COMPANY_TIMEZONE": "Europe/Moscow",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return run_dbt("run", env, target, "--select", select, "--vars", f"{{as_of_day: '{today}'}}")


def ensure_warehouse(size: str, today: str, workdir: Path, rebuild_mart: bool = False) -> Path:
    """The world's DuckDB file with marts.mart_alert_facts, built once per (size, today, workdir);
    `rebuild_mart` runs the mart's model again (a change of its SQL or vars) on the kept raw data."""
    duckdb_path = workdir / "warehouse.duckdb"
    done_mark = workdir / "built.ok"
    if done_mark.exists() and duckdb_path.exists():
        if rebuild_mart:
            print(
                f"rebuilt mart_alert_facts in {_dbt(duckdb_path, workdir / 'target', today, 'mart_alert_facts'):.1f} s"
            )
        print(f"reusing {duckdb_path}")
        return duckdb_path
    workdir.mkdir(parents=True, exist_ok=True)
    ingest_s = _ingest(size, today, workdir, f"duckdb:///{duckdb_path}")
    dbt_s = _dbt(duckdb_path, workdir / "target", today)
    done_mark.write_text(f"{size} {today}\n")
    print(f"built {duckdb_path}: ingest {ingest_s:.1f} s, dbt {dbt_s:.1f} s")
    return duckdb_path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M", choices=["S", "M", "L"])
    parser.add_argument("--today", default="2026-11-23")
    parser.add_argument("--workdir", default="/tmp/alerts_bench")
    args = parser.parse_args()
    ensure_warehouse(args.size, args.today, Path(args.workdir) / f"{args.size}-{args.today}")
