"""A 15-minute incremental refresh of every source, against the demo servers at the vendors' limits.

    .venv/bin/python -m benchmarks.ingest_refresh [--size M] [--today 2026-11-23] [--seed 42]

The target: "a 15-minute incremental refresh of ALL sources must finish in under 30 seconds".
Every source first loads the demo world once (Bitrix24 at 2 requests/s with bursts to 50 — about
90 s for the M world —, amoCRM at 7 requests/s, Direct in offline report mode: 201 queued, 202
building, each answered after retryIn, then 200), then a 15-minute delta lands on every source (new,
changed and deleted CRM records; a revised ad day; a new telephony file and a new 1C file; a changed
CRM export and plan sheet), the rate-limit buckets are as empty as 15 quiet minutes leave them, and
the refresh of each source is timed on its own. The figure compared with the target is the sum: the
sources run one after another here (as with the one-writer-per-DuckDB-file rule), so the sum is what
a refresh costs when nothing runs in parallel.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dlt

from benchmarks.ingest_bitrix24 import _delta as bitrix24_delta
from demo.ads_portal import DEFAULT_DIRECT_TOKEN, DEFAULT_VK_TOKEN, AdsPortal
from demo.amocrm_portal import DEFAULT_TOKEN, AmoCRMPortal
from demo.extras import ensure_extras
from demo.marketing import DIRECT_LOGIN
from demo.portal import DemoPortal
from demo.world import ensure_world
from resources.warehouse import Warehouse

TARGET_S = 30.0
EXPORT_MAPPING = """
name: bench
defaults: {date_format: "%Y-%m-%dT%H:%M:%S%z", currency: RUB, delimiter: ";"}
entities:
  deals:
    file: deals*.csv
    fields:
      deal_id: ID
      title: TITLE
      status: {column: STAGE_SEMANTIC_ID, map: {S: won, F: lost, P: open}}
      amount: OPPORTUNITY
      created_at: DATE_CREATE
"""


@dataclass
class Source:
    """One source in the benchmark: how to build its dlt source, and the 15-minute delta it receives."""

    name: str
    dataset: str
    build: Callable[[], Any]
    delta: Callable[[], str]  # applies the change; says what it was
    run_kwargs: dict[str, Any]


def _export_deals(world_dir: Path, folder: Path, changed: int = 0, new: int = 0) -> None:
    """The CRM's deals as a full CSV export; `changed` amounts edited and `new` deals added (a later export)."""
    deals = json.loads((world_dir / "bitrix24" / "deals.json").read_text(encoding="utf-8"))
    last = max(int(d["ID"]) for d in deals)
    deals += [{**deals[-1 - i], "ID": str(last + 1 + i)} for i in range(new)]
    with (folder / "deals.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(["ID", "TITLE", "STAGE_SEMANTIC_ID", "OPPORTUNITY", "DATE_CREATE"])
        for n, d in enumerate(deals):
            amount = "1.00" if n < changed else d["OPPORTUNITY"]
            writer.writerow([d["ID"], d["TITLE"], d["STAGE_SEMANTIC_ID"], amount, d["DATE_CREATE"]])


def _amocrm_delta(portal: AmoCRMPortal) -> str:
    """3 new leads, 10 changed (amount), 1 deleted: a busy quarter hour of a 24-manager department."""
    for i in range(3):
        portal.add_lead(name=f"Новая заявка {i}", price=10000 + i)
    ids = sorted(portal.leads)
    for lead_id in ids[-400:-390]:
        portal.update_lead(lead_id, price=portal.leads[lead_id]["price"] + 100)
    portal.delete_lead(ids[100])
    portal._hits.clear()  # 15 quiet minutes: the 1-second window is empty
    return "3 new leads, 10 changed, 1 deleted"


def _ads_delta(ads: AdsPortal, today: date) -> str:
    day = today.isoformat()
    direct_key = next(k for k in ads.direct if k[0] == day)
    ads.revise_direct(day, direct_key[1], Clicks=ads.direct[direct_key]["Clicks"] + 7)
    vk_key = next(k for k in ads.vk if k[0] == day)
    ads.revise_vk(day, vk_key[1], clicks=ads.vk[vk_key]["clicks"] + 5)
    return f"today's statistics revised ({day})"


def _telephony_delta(folder: Path, today: date) -> str:
    with (folder / f"calls_{today:%Y-%m-%d}_1515.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "call_id",
                "started_at",
                "direction",
                "status",
                "duration_sec",
                "manager_id",
                "client_phone",
                "recording_url",
            ]
        )
        writer.writerows(
            [
                f"delta{n:04d}",
                f"{today}T15:{n % 15:02d}:00+03:00",
                "in" if n % 2 else "out",
                "answered" if n % 4 else "missed",
                0 if n % 4 == 0 else 60 + n,
                1 + n % 20,
                f"+7 900 100-{n:02d}-00",
                "",
            ]
            for n in range(35)
        )
    return "a new export file with 35 calls"


def _onec_delta(folder: Path, today: date) -> str:
    rows = ["invoice_number;invoice_date;deal_id;company_id;counterparty;amount;currency;status"]
    rows += [
        f"СЧ-DELTA-{n};{today:%d.%m.%Y};{n + 1};;ООО «Новый клиент»;{n + 1}0000,00;RUB;Выставлен" for n in range(2)
    ]
    (folder / f"invoices_{today:%Y-%m-%d}_1515.csv").write_bytes(("\r\n".join(rows) + "\r\n").encode("cp1251"))
    return "a new export file with 2 invoices"


def _plan_delta(plan: Path) -> str:
    lines = plan.read_text(encoding="utf-8").splitlines()
    cells = lines[1].split(",")
    cells[3] = str(int(float(cells[3])) + 100000)
    lines[1] = ",".join(cells)
    plan.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return "one plan row changed"


def _sources(
    world_dir: Path, work: Path, urls: dict[str, str], portals: dict[str, Any], today: date, start: date
) -> list[Source]:
    from assets.ingest.amocrm.source import amocrm_source
    from assets.ingest.bitrix24.source import bitrix24_source
    from assets.ingest.cbr.source import cbr_source
    from assets.ingest.direct.source import direct_source
    from assets.ingest.export.source import crm_export_source
    from assets.ingest.files.source import plan_source
    from assets.ingest.onec.source import onec_source
    from assets.ingest.telephony.source import telephony_source
    from assets.ingest.vk.source import vk_source

    extras = ensure_extras(world_dir)
    onec, telephony, export = work / "onec", work / "telephony", work / "export"
    for src, dst in ((extras / "onec", onec), (extras / "telephony", telephony)):
        shutil.copytree(src, dst, dirs_exist_ok=True)
    export.mkdir(exist_ok=True)
    (export / "mapping.yaml").write_text(EXPORT_MAPPING, encoding="utf-8")
    _export_deals(world_dir, export)
    plan = work / "plan.csv"
    shutil.copy(world_dir / "plan.csv", plan)
    b24: DemoPortal = portals["bitrix24"]

    def b24_delta() -> str:
        counts = bitrix24_delta(b24)
        b24._bucket = 0.0  # 15 quiet minutes drained the leaky bucket
        return ", ".join(f"{k} {v}" for k, v in counts.items()) + ", 1 deal deleted"

    def export_delta() -> str:
        _export_deals(world_dir, export, changed=10, new=3)
        return "a new full export: 3 new deals, 10 changed"

    duckdb_jsonl = {"loader_file_format": "jsonl"}  # as every ingest asset loads on DuckDB (common.load_format)
    return [
        Source(
            "bitrix24", "raw_bitrix24", lambda: bitrix24_source(webhook_url=urls["bitrix24"]), b24_delta, duckdb_jsonl
        ),
        Source(
            "amocrm",
            "raw_amocrm",
            lambda: amocrm_source(base_url=urls["amocrm"], access_token=DEFAULT_TOKEN),
            lambda: _amocrm_delta(portals["amocrm"]),
            duckdb_jsonl,
        ),
        Source(
            "direct",
            "raw_direct",
            lambda: direct_source(
                base_url=urls["ads"],
                token=DEFAULT_DIRECT_TOKEN,
                client_login=DIRECT_LOGIN,
                start_date=start,
                end_date=today,
            ),
            lambda: _ads_delta(portals["ads"], today),
            duckdb_jsonl,
        ),
        Source(
            "vk",
            "raw_vk",
            lambda: vk_source(base_url=urls["ads"], token=DEFAULT_VK_TOKEN, start_date=start, end_date=today),
            lambda: "(revised with Direct above)",
            duckdb_jsonl,
        ),
        Source(
            "cbr",
            "raw_cbr",
            lambda: cbr_source(
                base_url=urls["ads"], start_date=start - timedelta(days=30), end_date=today + timedelta(days=1)
            ),
            lambda: "nothing new published",
            duckdb_jsonl,
        ),
        Source(
            "onec",
            "raw_onec",
            lambda: onec_source(export_dir=str(onec)),
            lambda: _onec_delta(onec, today),
            duckdb_jsonl,
        ),
        Source(
            "telephony",
            "raw_telephony",
            lambda: telephony_source(export_dir=str(telephony), phone_hash_salt="bench-salt"),
            lambda: _telephony_delta(telephony, today),
            duckdb_jsonl,
        ),
        Source(
            "export",
            "raw_export",
            lambda: crm_export_source(export_dir=str(export), mapping_file=str(export / "mapping.yaml")),
            export_delta,
            duckdb_jsonl,
        ),
        Source("plan", "raw_plan", lambda: plan_source(plan_file=str(plan)), lambda: _plan_delta(plan), duckdb_jsonl),
    ]


def _timed_run(pipe: dlt.Pipeline, source: Source) -> tuple[float, int]:
    t0 = time.perf_counter()
    pipe.run(source.build(), **source.run_kwargs)
    seconds = time.perf_counter() - t0
    trace = pipe.last_trace
    normalize_info = trace.last_normalize_info if trace is not None else None
    assert normalize_info is not None, "a successful run() normalized"
    rows = sum(n for t, n in normalize_info.row_counts.items() if not t.startswith("_dlt"))
    return seconds, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M", choices=("S", "M", "L"))
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 11, 23))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--work", type=Path, default=None, help="folder for the world and the warehouse (default: temp)"
    )
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_refresh_"))
    world_dir = Path(ensure_world(work / f"world_{args.size}", args.size, args.today, args.seed))
    meta = json.loads((world_dir / "world_meta.json").read_text(encoding="utf-8"))
    start, today = date.fromisoformat(meta["start"]), date.fromisoformat(meta["today"])
    portals: dict[str, Any] = {
        "bitrix24": DemoPortal(world_dir),  # 2 rps, bursts to 50
        "amocrm": AmoCRMPortal(world_dir),  # 7 rps
        "ads": AdsPortal(world_dir),
    }  # Direct offline mode: 201, 202, then 200
    urls = {name: portal.start() for name, portal in portals.items()}
    wh = Warehouse(url=f"duckdb:///{work / 'bench.duckdb'}")
    try:
        sources = _sources(world_dir, work, urls, portals, today, start)
        pipes = {
            s.name: dlt.pipeline(
                pipeline_name=f"bench_{s.name}",
                destination=wh.dlt_destination(),
                dataset_name=s.dataset,
                pipelines_dir=str(work / "pipelines"),
            )
            for s in sources
        }
        print(f"world {args.size} ({start} .. {today}) in {work}")
        for s in sources:
            seconds, rows = _timed_run(pipes[s.name], s)
            print(f"  first load {s.name:<10} {seconds:7.1f} s  {rows:>9,} rows", flush=True)
        print("15-minute delta:")
        for s in sources:
            print(f"  {s.name:<10} {s.delta()}")
        total = 0.0
        print("incremental refresh:")
        for s in sources:
            seconds, rows = _timed_run(pipes[s.name], s)
            total += seconds
            print(f"  {s.name:<10} {seconds:6.2f} s  {rows:>7,} rows", flush=True)
        verdict = "within" if total < TARGET_S else "OVER"
        print(f"all sources, one after another: {total:.1f} s ({verdict} the {TARGET_S:.0f} s target)")
    finally:
        for portal in portals.values():
            portal.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
