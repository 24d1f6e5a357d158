"""Wall-clock of the report site's full build on a demo world (the target: M under 2 minutes), the
size of the built site and of the data a browser downloads per page.

The world reaches a fresh DuckDB file as in benchmarks/dbt_build.py (`--load direct`), the real dbt
models run on it (not timed as the report), then the report_site asset's own steps are timed: copy
the report's tables into its DuckDB file, `evidence sources`, then the build twice: first with an
empty app cache (the app is compiled: what a changed page or package costs), then again as every
later refresh runs it (the cached app published with the new data). The site is built into a
temporary folder (never the project's published one), the app into a temporary cache.

    .venv/bin/python -m benchmarks.report_site --size M --today 2026-12-02
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

from benchmarks.dbt_build import run_dbt

ROOT = Path(__file__).resolve().parent.parent


def dbt_run(duckdb_path: Path, target: Path) -> float:
    env = {
        **os.environ,
        "DBT_TARGET": "duckdb",
        "DUCKDB_PATH": str(duckdb_path),
        "COMPANY_TIMEZONE": "Europe/Moscow",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return run_dbt("run", env, target)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M", choices=["S", "M", "L"])
    parser.add_argument("--today", default="2026-12-02")
    args = parser.parse_args()

    from assets.report import manager_routes, read_report_tables, write_report_db
    from benchmarks.dbt_build import load_direct, load_extras
    from resources.evidence import EvidenceCLI
    from resources.warehouse import Warehouse

    with tempfile.TemporaryDirectory(prefix="report_bench_") as tmp_name:
        tmp = Path(tmp_name)
        duckdb_path = tmp / "warehouse.duckdb"
        load_started = time.perf_counter()
        load_direct(args.size, args.today, duckdb_path)
        load_extras(args.size, args.today, duckdb_path)  # stage history, ad cabinets, 1C: every page has data
        load_s = time.perf_counter() - load_started
        dbt_s = dbt_run(duckdb_path, tmp / "dbt_target")
        evidence = EvidenceCLI(
            work_dir=str(tmp / "evidence"), build_dir=str(tmp / "site"), app_cache_dir=str(tmp / "app-cache")
        )
        started = time.perf_counter()
        frames = read_report_tables(Warehouse(url=f"duckdb:///{duckdb_path}"))
        with evidence.locked():
            install_s = evidence.install()
            counts = write_report_db(frames, evidence.data_file)
            copy_s = time.perf_counter() - started - install_s
            sources_s = evidence.sources()
            routes = manager_routes(frames)
            build_started = time.perf_counter()
            evidence.build(routes=routes)
            build_s = time.perf_counter() - build_started
            total_s = time.perf_counter() - started - install_s
            refresh_started = time.perf_counter()
            write_report_db(frames, evidence.data_file)
            evidence.sources()
            evidence.build(routes=routes)
            refresh_s = time.perf_counter() - refresh_started
        site = tmp / "site"
        data = site / "data"
        # the newest file per table: the one this build's manifest names
        newest = sorted(data.rglob("*.parquet"), key=lambda p: p.stat().st_mtime) if data.exists() else []
        per_table = {p.stem: p.stat().st_size for p in newest}
        site_bytes = folder_bytes(site)
        html_pages = sorted(p.parent.relative_to(site) for p in site.rglob("index.html"))
        manager_pages = sum(1 for p in html_pages if p.parts[:1] == ("menedzher",) and len(p.parts) > 1)
    per_page = {
        str(page.relative_to(ROOT / "reports_evidence" / "pages").with_suffix("")): sum(
            per_table.get(t, 0) for t in set(re.findall(r"\brop\.(\w+)", page.read_text()))
        )
        for page in sorted((ROOT / "reports_evidence" / "pages").rglob("*.md"))
    }

    print(f"world {args.size} (today {args.today}): raw load {load_s:.1f} s, dbt run {dbt_s:.1f} s (not the report)")
    print("rows copied into the report's file: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
    print(f"copy tables into rop.duckdb         : {copy_s:7.1f} s")
    print(f"evidence sources                    : {sources_s:7.1f} s")
    print(f"compile the app + publish           : {build_s:7.1f} s  (a changed page or package)")
    print(f"full site build (copy+sources+build): {total_s:7.1f} s  (target: under 120 s)")
    print(f"a refresh (copy+sources+publish)    : {refresh_s:7.1f} s  (the app cached: every other refresh)")
    print(f"npm ci (only when the lock changed) : {install_s:7.1f} s")
    print(f"built site                          : {site_bytes / 1e6:7.1f} MB")
    print(f"page folders                        : {len(html_pages):7d} ({manager_pages} of them one manager's)")
    print("data a page downloads (the Parquet files of the tables its SQL reads):")
    for page, size in per_page.items():
        print(f"  {page:<20} {size / 1e3:8.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
