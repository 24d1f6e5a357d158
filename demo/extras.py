"""The demo world's extra sources, written lazily under `<world_dir>/extras/` (atomic, cached).

    extras/direct_stats.json          Yandex.Direct daily campaign statistics (served by demo.ads_portal)
    extras/vk_stats.json              VK Ads daily campaign statistics (served by demo.ads_portal)
    extras/onec/invoices.csv          1C export: invoices  (`;`, windows-1251, DD.MM.YYYY, decimal comma)
    extras/onec/payments.csv          1C export: payments  (same shape)
    extras/telephony/calls_YYYY-MM.csv  telephony export, one file a month (UTF-8, `,`)
    extras/telephony/calls_YYYY-MM.json the current month as JSON (a list of the same objects)

Everything is derived from the written world (demo.world.load_world) with seeded streams, so the
same world always gives byte-identical extras. The folder is written to a sibling temp folder and
renamed into place; a version file decides whether a cached one is still current.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import uuid
from pathlib import Path

from demo import finance, marketing, telephony
from demo.world import load_world

EXTRAS_VERSION = 2


def ensure_extras(world_dir: Path | str) -> Path:
    """Return `<world_dir>/extras`, generating it if absent or stale."""
    world_dir = Path(world_dir)
    out = world_dir / "extras"
    meta = out / "extras_meta.json"
    if meta.exists() and json.loads(meta.read_text(encoding="utf-8")).get("version") == EXTRAS_VERSION:
        return out
    tmp = world_dir / f".extras.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        _write(world_dir, tmp)
        if out.exists():
            shutil.rmtree(out, ignore_errors=True)
        try:
            os.rename(tmp, out)
        except OSError:
            if not meta.exists():  # lost a race only if the winner finished
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _write(world_dir: Path, tmp: Path) -> None:
    world = load_world(world_dir)
    (tmp / "onec").mkdir(parents=True)
    (tmp / "telephony").mkdir()
    for name, rows in (
        ("direct_stats.json", marketing.direct_stats(world)),
        ("vk_stats.json", marketing.vk_stats(world)),
    ):
        (tmp / name).write_text(json.dumps(rows, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    invoices, payments = finance.invoices_and_payments(world)
    for name, columns, rows in (
        ("invoices.csv", finance.INVOICE_COLUMNS, invoices),
        ("payments.csv", finance.PAYMENT_COLUMNS, payments),
    ):
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
        writer.writerow(columns)
        writer.writerows([finance.to_export_cell(r[c]) for c in columns] for r in rows)
        (tmp / "onec" / name).write_bytes(buf.getvalue().encode("cp1251"))
    by_month: dict[str, list[dict]] = {}
    for call in telephony.calls(world):
        by_month.setdefault(call["started_at"][:7], []).append(call)
    last = max(by_month) if by_month else None
    for month, rows in by_month.items():
        if month == last:
            (tmp / "telephony" / f"calls_{month}.json").write_text(
                json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
            )
            continue
        with (tmp / "telephony" / f"calls_{month}.csv").open("w", newline="", encoding="utf-8") as fh:
            call_writer = csv.DictWriter(fh, fieldnames=telephony.CALL_COLUMNS)
            call_writer.writeheader()
            call_writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    (tmp / "extras_meta.json").write_text(json.dumps({"version": EXTRAS_VERSION}) + "\n", encoding="utf-8")
