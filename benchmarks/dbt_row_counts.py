"""The CPU the Dagster process spends while the dbt asset builds, with dagster-dbt's `fetch_row_counts()`
(the baseline) and with `assets.transform.with_row_counts`, in one run on the same warehouse.

The dbt build is a subprocess either way; what differs is what the Dagster process does meanwhile:
dagster-dbt's thread pool polls an empty queue without sleeping (a whole core busy for the build's
length), ours waits for the events. The DuckDB file gets the demo world's raw tables written straight
(`benchmarks.dbt_build.load_direct`), then `dbt build` runs through the product's dbt resource twice.

    .venv/bin/python -m benchmarks.dbt_row_counts --size S --today 2026-03-18
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from assets.transform import (
    dbt_cli_resource,
    ensure_manifest,
    manifest_project,
    patched_environ,
    release_adapter,
    translator,
    with_row_counts,
)
from benchmarks.dbt_build import load_direct
from resources.warehouse import Warehouse


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(warehouse: Warehouse, manifest: dict[str, Any], counted: Callable[[Any, Any], Iterable[Any]]) -> dict:
    """One `dbt build` through the product's resource; the Dagster process's CPU, dbt's, the wall."""
    env = {**warehouse.dbt_env(), "COMPANY_TIMEZONE": "Europe/Moscow"}
    with patched_environ(env):
        invocation = dbt_cli_resource().cli(
            ["build", "--vars", json.dumps({"company_timezone": "Europe/Moscow"})],
            manifest=manifest,
            dagster_dbt_translator=translator(),
        )
        wall, cpu, child = time.perf_counter(), time.process_time(), _children_cpu()
        try:
            events = list(counted(invocation.stream(), invocation))
        finally:
            release_adapter(invocation.adapter)
        row_counts = sum(1 for e in events if "dagster/row_count" in getattr(e, "metadata", {}))
    return {
        "wall_s": round(time.perf_counter() - wall, 1),
        "dagster_cpu_s": round(time.process_time() - cpu, 1),
        "dbt_cpu_s": round(_children_cpu() - child, 1),
        "events": len(events),
        "with_row_count": row_counts,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="S")
    parser.add_argument("--today", default="2026-03-18")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rop_rowcounts_"))
    path = tmp / "warehouse.duckdb"
    load_direct(args.size, args.today, path)
    warehouse = Warehouse(url=f"duckdb:///{path}")
    project = manifest_project(warehouse.dbt_env())
    manifest = json.loads(ensure_manifest(project, warehouse.dbt_env()).read_text())
    results = {
        "dagster-dbt fetch_row_counts() (baseline)": measure(
            warehouse, manifest, lambda events, _inv: events.fetch_row_counts()
        ),
        "with_row_counts": measure(
            warehouse, manifest, lambda events, inv: with_row_counts(events, inv.manifest, warehouse)
        ),
    }
    print(f"world {args.size}, today {args.today}; `dbt build` twice on the same warehouse")
    print(f"{'':45s} {'wall s':>7s} {'Dagster CPU s':>14s} {'dbt CPU s':>10s} {'events':>7s} {'counted':>8s}")
    for name, r in results.items():
        print(
            f"{name:45s} {r['wall_s']:7.1f} {r['dagster_cpu_s']:14.1f} {r['dbt_cpu_s']:10.1f}"
            f" {r['events']:7d} {r['with_row_count']:8d}"
        )
    base, ours = results.values()
    print(f"Dagster-process CPU, ours / baseline: {ours['dagster_cpu_s'] / max(base['dagster_cpu_s'], 0.1):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
