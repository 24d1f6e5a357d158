"""Wall-clock of `dbt build` on a demo world: a first full build, then an incremental build after a
15-minute delta (the targets: M under 60 s, L under 5 min, the incremental build under 15 s).

The world reaches a fresh DuckDB file one of two ways (not timed as dbt; printed apart):
`--load direct` (default) writes the generated world's records straight into the raw_* tables with
dlt's table and column names, every value as text (staging casts text and dlt's types alike), which
keeps the measurement to dbt; `--load ingest` runs the real ingest assets (demo portal → dlt), which
needs far more memory for M and L. The 15-minute delta is then written straight into the raw tables
the way a dlt merge leaves them (new rows and changed rows carrying a newer _dlt_load_id): about as
much as a 24-manager company does in a quarter of an hour - 60 activities, 6 leads, 4 deals changed.

    .venv/bin/python -m benchmarks.dbt_build --size M --today 2026-11-23 [--load ingest]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from demo.world.sizes import Size

ROOT = Path(__file__).resolve().parent.parent
DBT_DIR = ROOT / "dbt_project"
DBT = Path(sys.executable).parent / "dbt"
SOURCES = ("bitrix24", "plan", "cbr")
# the raw tables the marts read today (other raw tables, as they land, are loaded by their own benchmarks)
RAW_KEYS = [
    ["raw_bitrix24", t] for t in ("deals", "leads", "activities", "users", "departments", "pipelines", "stages")
] + [["raw_plan", "plan"], ["raw_cbr", "rates"]]


def ingest(size: str, today: str, data_dir: Path, warehouse_url: str) -> float:
    import dagster as dg

    os.environ.update(
        {"DATA_DIR": str(data_dir), "DEMO_SIZE": size, "DEMO_TODAY": today, "WAREHOUSE_URL": warehouse_url}
    )
    for name in ("BITRIX24_WEBHOOK_URL", "PLAN_FILE", "CRM_EXPORT_DIR", "AMOCRM_BASE_URL"):
        os.environ.pop(name, None)
    from definitions import build_definitions

    defs = build_definitions()
    assert defs.assets is not None, "build_definitions() always lists its assets"
    selection = dg.AssetSelection.assets(*[dg.AssetKey(k) for k in RAW_KEYS])
    assets = [
        a
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition) and any(spec.tags.get("source") in SOURCES for spec in a.specs)
    ]
    started = time.perf_counter()
    assert dg.materialize(assets, resources=defs.resources, selection=selection).success
    return time.perf_counter() - started


def _text(value):
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _write_table(con, qualified: str, records: list[dict], load_id: str) -> None:
    import polars as pl

    names: list[str] = []
    for record in records:
        for key in record:
            if key.lower() not in names and not isinstance(record[key], list):
                names.append(key.lower())
    rows = [
        {
            **{k.lower(): _text(v) for k, v in r.items() if not isinstance(v, list)},
            "_dlt_load_id": load_id,
            "_dlt_id": f"{qualified}:{i}",
        }
        for i, r in enumerate(records)
    ]
    frame = pl.DataFrame(rows, schema={n: pl.Utf8 for n in [*names, "_dlt_load_id", "_dlt_id"]})
    con.execute(f"create schema if not exists {qualified.split('.')[0]}")
    con.register("frame", frame)
    con.execute(f"create or replace table {qualified} as select * from frame")
    con.unregister("frame")


def load_direct(size: Size, today: str, duckdb_path: Path) -> float:
    """The generated world into raw_* with dlt's names (users' UF_DEPARTMENT as the dlt child table)."""
    from datetime import date

    import duckdb

    from demo.world import generate

    started = time.perf_counter()
    world = generate(size, date.fromisoformat(today), 42)
    load_id = "1700000000.000000"
    con = duckdb.connect(str(duckdb_path))
    try:
        for table, records in (
            ("deals", world.deals),
            ("leads", world.leads),
            ("activities", world.activities),
            ("users", world.users),
            ("departments", world.departments),
            ("pipelines", world.categories),
            ("stages", world.statuses),
        ):
            _write_table(con, f"raw_bitrix24.{table}", records, load_id)
        children = [
            {"value": dep, "_dlt_parent_id": f"raw_bitrix24.users:{i}", "_dlt_list_idx": j}
            for i, u in enumerate(world.users)
            for j, dep in enumerate(u.get("UF_DEPARTMENT") or [])
        ]
        _write_table(con, "raw_bitrix24.users__uf_department", children, load_id)
        _write_table(con, "raw_plan.plan", world.plan, load_id)
        _write_table(con, "raw_cbr.rates", world.rates, load_id)
    finally:
        con.close()
    return time.perf_counter() - started


def load_extras(size: Size, today: str, duckdb_path: Path) -> None:
    """The rest of the world's sources beside load_direct's: the deals' stage history, the ad
    cabinets' statistics (the rows the Direct and VK portals serve) and 1C's invoices and payments,
    under the column names their dlt sources give the raw tables."""
    from datetime import date

    import duckdb

    from demo import marketing
    from demo.finance import invoices_and_payments
    from demo.world import generate

    world = generate(size, date.fromisoformat(today), 42)
    invoices, payments = invoices_and_payments(world)
    direct = [
        {
            "date": r["Date"],
            "campaign_id": r["CampaignId"],
            "campaign_name": r["CampaignName"],
            "impressions": r["Impressions"],
            "clicks": r["Clicks"],
            "cost": r["Cost"],
            "currency": marketing.DIRECT_CURRENCY,
            "client_login": marketing.DIRECT_LOGIN,
        }
        for r in marketing.direct_stats(world)
    ]
    vk = [
        {
            "date": r["date"],
            "campaign_id": r["id"],
            "campaign_name": r["name"],
            "shows": r["shows"],
            "clicks": r["clicks"],
            "spent": r["spent"],
            "goals": r["goals"],
            "currency": marketing.VK_CURRENCY,
        }
        for r in marketing.vk_stats(world)
    ]
    con = duckdb.connect(str(duckdb_path))
    try:
        for qualified, records in (
            ("raw_bitrix24.stage_history_deals", world.stage_history_deals),
            ("raw_direct.campaign_stats", direct),
            ("raw_vk.campaign_stats", vk),
            ("raw_onec.invoices", invoices),
            ("raw_onec.payments", payments),
        ):
            _write_table(con, qualified, records, "1700000001.000000")
    finally:
        con.close()


SLOWEST: list[tuple[float, str]] = []


def run_dbt(command: str, env: dict[str, str], target: Path, *extra: str) -> float:
    """`dbt <command> <extra>` on the project with its own target and log folders; seconds spent.
    A failure prints the tail of dbt's output and ends the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(
        [
            str(DBT),
            command,
            *extra,
            "--project-dir",
            str(DBT_DIR),
            "--profiles-dir",
            str(DBT_DIR),
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-2000:])
        raise SystemExit(f"dbt {command} failed ({env.get('DUCKDB_PATH', env.get('DBT_TARGET', ''))})")
    return time.perf_counter() - started


def dbt_build(env: dict[str, str], target: Path, *extra: str) -> tuple[float, dict[str, int]]:
    seconds = run_dbt("build", env, target, *extra)
    results = json.loads((target / "run_results.json").read_text())["results"]
    kinds: dict[str, int] = {}
    SLOWEST[:] = sorted(((r["execution_time"], r["unique_id"].split(".")[-1]) for r in results), reverse=True)[:6]
    for r in results:
        kind = r["unique_id"].split(".")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    return seconds, kinds


def write_delta(duckdb_path: Path) -> dict[str, int]:
    """A 15-minute delta in the raw tables, as dlt's merge leaves it (newer _dlt_load_id)."""
    import duckdb

    load_id = f"{time.time():.6f}"
    con = duckdb.connect(str(duckdb_path))
    try:

        def later(col: str) -> str:  # works whether dlt typed the column or it is text
            return f"cast(cast(cast({col} as varchar) as timestamptz) + interval 15 minute as varchar)"

        con.execute(f"""
            insert into raw_bitrix24.activities
            select * replace (
                cast(cast(id as bigint) + 100000000 as varchar) as id,
                {later("created")} as created, {later("start_time")} as start_time,
                {later("end_time")} as end_time,
                '{load_id}' as _dlt_load_id, md5(random()::varchar || id) as _dlt_id)
            from (select * from raw_bitrix24.activities order by cast(created as timestamptz) desc limit 60)""")
        con.execute(f"""
            insert into raw_bitrix24.leads
            select * replace (
                cast(cast(id as bigint) + 100000000 as varchar) as id, {later("date_create")} as date_create,
                '{load_id}' as _dlt_load_id, md5(random()::varchar || id) as _dlt_id)
            from (select * from raw_bitrix24.leads order by cast(date_create as timestamptz) desc limit 6)""")
        con.execute(f"""
            update raw_bitrix24.deals set date_modify = {later("date_modify")}, _dlt_load_id = '{load_id}'
            where id in (select id from raw_bitrix24.deals order by cast(date_modify as timestamptz) desc limit 4)""")
    finally:
        con.close()
    return {"activities": 60, "leads": 6, "deals changed": 4}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M", choices=["S", "M", "L"])
    parser.add_argument("--today", default="2026-11-23")
    parser.add_argument("--load", default="direct", choices=["direct", "ingest"])
    parser.add_argument("--threads", type=int, default=0, help="dbt --threads (default: the profile's)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dbt_bench_") as tmp_name:
        tmp = Path(tmp_name)
        duckdb_path = tmp / "warehouse.duckdb"
        if args.load == "ingest":
            ingest_s = ingest(args.size, args.today, tmp / "data", f"duckdb:///{duckdb_path}")
        else:
            ingest_s = load_direct(args.size, args.today, duckdb_path)
        import duckdb

        with duckdb.connect(str(duckdb_path), read_only=True) as con:
            counts = {
                t: con.execute(f"select count(*) from raw_bitrix24.{t}").fetchall()[0][0]
                for t in ("deals", "leads", "activities")
            }
        env = {
            **os.environ,
            "DBT_TARGET": "duckdb",
            "DUCKDB_PATH": str(duckdb_path),
            "COMPANY_TIMEZONE": "Europe/Moscow",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        threads = ["--threads", str(args.threads)] if args.threads else []
        full_s, kinds = dbt_build(env, tmp / "target_full", *threads)
        delta = write_delta(duckdb_path)
        # The 15-minute run reuses the parse of the run before, as dagster-dbt does (it copies the
        # project's partial_parse.msgpack into each invocation's target): only data changed.
        shutil.copytree(
            tmp / "target_full", tmp / "target_incremental", ignore=shutil.ignore_patterns("run", "compiled", "logs")
        )
        incr_s, _ = dbt_build(env, tmp / "target_incremental", *threads)
        slowest_incremental = list(SLOWEST)
        refresh_s, _ = dbt_build(env, tmp / "target_refresh", "--full-refresh", *threads)

    print(f"threads: {args.threads or 'profile default'}")
    print(f"world {args.size} (today {args.today}): " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
    print(f"raw load ({args.load}, not dbt)        : {ingest_s:7.1f} s")
    print(
        f"dbt build, first (full)              : {full_s:7.1f} s  "
        f"({kinds.get('model', 0)} models, {kinds.get('test', 0)} tests)"
    )
    print(
        f"dbt build after a 15-minute delta    : {incr_s:7.1f} s  ({', '.join(f'{n} {k}' for k, n in delta.items())})"
    )
    print(f"dbt build --full-refresh (same data) : {refresh_s:7.1f} s")
    print(
        "slowest nodes of the incremental build: "
        + ", ".join(f"{name} {seconds:.1f} s" for seconds, name in slowest_incremental)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
