"""Bitrix24 ingest at the rate limit: first load of a demo world, then a 15-minute incremental refresh.

    .venv/bin/python -m benchmarks.ingest_bitrix24 [--size M] [--today 2026-11-23] [--seed 42]

The demo portal enforces Bitrix24's limit (leaky bucket: 2 requests/s sustained, bursts to 50;
503 QUERY_LIMIT_EXCEEDED past it), and one `batch` request carries 50 list calls of 50 rows, so the
limit allows 2 x 50 x 50 = 5,000 rows/s sustained. The burst lets the first 50 requests through at
once, so for a load that needs N requests the fastest any client can be is (N - 50) / 2 seconds:
the limit's rows/s for this load is rows / that time, and the ratio printed is achieved / allowed.
Both the extract (the part the limit governs) and the whole run (plus dlt's local normalize and
load into DuckDB) are reported.

Then a realistic 15-minute delta lands on the portal (new leads, deals, calls, activities, stage
moves, tasks, a company, changed deals, a deleted deal), the bucket is as empty as 15 minutes of
quiet leave it, and the incremental refresh is timed (target < 30 s), with and without the
periodic deletion scan.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from datetime import date
from pathlib import Path

import dlt
from dlt.common.destination import TLoaderFileFormat

from assets.ingest.bitrix24.source import bitrix24_source
from demo.portal import DEFAULT_RATE_LIMIT, DemoPortal
from demo.world import ensure_world
from resources.warehouse import Warehouse

ROWS_PER_REQUEST = 50 * 50
FORMAT: TLoaderFileFormat = "jsonl"  # what the asset uses on DuckDB (assets/ingest/bitrix24/assets.py)
LISTS = ("deals", "leads", "activities", "companies", "stage_history_deals", "stage_history_leads", "calls", "tasks")


def _delta(portal: DemoPortal) -> dict[str, int]:
    """About what a 24-manager department does in 15 minutes (a busy quarter hour, rounded up)."""
    counts: dict[str, int] = {}

    def add(entity: str, n: int, change: dict) -> None:
        records = portal.records(entity)
        key = "id" if "id" in records[-1] and "ID" not in records[-1] else "ID"
        for i in range(n):
            portal.upsert(entity, {**records[-1 - i], key: None, **change})
        counts[entity] = counts.get(entity, 0) + n

    add("leads", 4, {"STATUS_ID": "NEW"})
    add("deals", 3, {"STAGE_ID": "NEW", "STAGE_SEMANTIC_ID": "P", "CLOSED": "N"})
    for d in portal.records("deals")[-400:-390]:
        portal.upsert("deals", {"ID": d["ID"], "COMMENTS": "обновлено"})
    counts["deals"] += 10
    add("activities", 40, {})
    add("calls", 35, {})
    add("stage_history_deals", 12, {})
    add("stage_history_leads", 6, {})
    add("tasks", 5, {"status": "2"})
    add("companies", 2, {})
    portal.delete("deals", portal.records("deals")[100]["ID"])
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M", choices=("S", "M", "L"))
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 11, 23))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--work", type=Path, default=None, help="folder for the world and the warehouse (default: temp)"
    )
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_b24_"))
    world_dir = ensure_world(work / f"world_{args.size}", args.size, args.today, args.seed)
    portal = DemoPortal(world_dir)  # Bitrix24's limit, on
    url = portal.start()
    rate, burst = DEFAULT_RATE_LIMIT
    wh = Warehouse(url=f"duckdb:///{work / 'bench.duckdb'}")
    pipe = dlt.pipeline(
        pipeline_name="bench_bitrix24",
        destination=wh.dlt_destination(),
        dataset_name="raw_bitrix24",
        pipelines_dir=str(work / "pipelines"),
        dev_mode=False,
    )
    try:
        rows = sum(len(portal.records(e)) for e in LISTS)
        t0 = time.perf_counter()
        pipe.run(bitrix24_source(webhook_url=url), loader_file_format=FORMAT)
        total_s = time.perf_counter() - t0
        trace = pipe.last_trace
        assert trace is not None, "run() records its trace"
        steps = {s.step: (s.finished_at - s.started_at).total_seconds() for s in trace.steps}
        extract_s = steps.get("extract", total_s)
        requests_made = portal.requests
        loaded = {t: int(wh.query(f"select count(*) n from raw_bitrix24.{t}")["n"][0]) for t in LISTS}
        assert loaded == {t: len(portal.records(t)) for t in LISTS}, loaded

        # what the limit allows for this load: the minimal number of requests, the burst at once, the rest at `rate`
        min_requests = sum(math.ceil(len(portal.records(t)) / ROWS_PER_REQUEST) for t in LISTS) + 8  # + small lists
        t_min = max(0.0, (min_requests - burst) / rate)
        allowed = rows / t_min if t_min else float("inf")
        sustained = rate * ROWS_PER_REQUEST

        print(f"world {args.size}: {rows:,} list rows ({', '.join(f'{t} {n:,}' for t, n in loaded.items())})")
        print(
            f"first load: {total_s:.1f} s wall ({extract_s:.1f} s extract at the limit, "
            f"{steps.get('normalize', 0):.1f} s normalize, {steps.get('load', 0):.1f} s load into DuckDB); "
            f"{requests_made} requests, {portal.rejected} refused with QUERY_LIMIT_EXCEEDED"
        )
        print(
            f"limit: {rate:g} req/s x 50 commands x 50 rows = {sustained:,.0f} rows/s sustained; with the burst of "
            f"{burst}, this load's {min_requests} requests need >= {t_min:.1f} s -> {allowed:,.0f} rows/s allowed"
        )
        for label, secs in (("extract", extract_s), ("whole run", total_s)):
            achieved = rows / secs
            print(
                f"achieved ({label}): {achieved:,.0f} rows/s; ratio to the limit (burst-adjusted) "
                f"{achieved / allowed:.2f}, to the sustained rate {achieved / sustained:.2f}"
            )

        # -- a 15-minute incremental refresh --------------------------------------------------------
        delta = _delta(portal)
        portal._bucket = 0.0  # 15 quiet minutes drained the bucket
        t0 = time.perf_counter()
        pipe.run(bitrix24_source(webhook_url=url), loader_file_format=FORMAT)
        incr_s = time.perf_counter() - t0
        trace = pipe.last_trace
        normalize_info = trace.last_normalize_info if trace is not None else None
        assert normalize_info is not None, "a successful run() normalized"
        counts = normalize_info.row_counts
        got = {t: counts.get(t, 0) for t in LISTS}
        print(f"15-minute delta {delta}: refresh {incr_s:.1f} s (target < 30 s), rows merged {got}")
        portal._bucket = 0.0
        t0 = time.perf_counter()
        pipe.run(bitrix24_source(webhook_url=url, deletion_scan="always"), loader_file_format=FORMAT)
        scan_s = time.perf_counter() - t0
        deleted = int(wh.query("select count(*) n from raw_bitrix24.deals where is_deleted")["n"][0])
        print(
            f"refresh with the deletion scan (deals, leads, companies by ID): {scan_s:.1f} s; deals marked deleted: {deleted}"
        )
    finally:
        portal.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
