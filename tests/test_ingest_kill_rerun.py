"""A load killed with SIGKILL part-way, then rerun, has every row exactly once: for every source
besides Bitrix24 (tests/test_ingest_bitrix24.py has its own).

The load runs in a child process (the real dlt pipeline of the source) against a demo server slowed
down per answer (HTTP sources) or against an export file large enough to take seconds (file
sources). It is killed mid-extract, or with a finished package waiting to be loaded, and then the
same pipeline (same pipelines folder, same warehouse) runs again to the end. Every primary key must
then be in the warehouse exactly once, and the keys must be exactly the world's: computed here from
the demo world's files with the csv/json modules, never through the code under test.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dlt
import pytest

from resources.warehouse import Warehouse

S_TODAY = date(2025, 6, 15)
SEED = 7
ROOT = Path(__file__).resolve().parents[1]
BIG = 20_000  # rows in a generated export file: a second or two of extract and load on this machine


@dataclass
class Setup:
    """One source's test bed: where the child loads from, when to kill it, what the world holds."""

    where: str  # the demo server's URL, or the export folder
    due: Callable[[], bool]  # true once the child is far enough in to be killed
    expected: dict[str, tuple[str, set[tuple]]]  # table -> (key columns as SQL, the world's keys)
    fast: Callable[[], None] = lambda: None  # end the slowness before the rerun
    stop: Callable[[], None] = lambda: None
    extra: dict[str, Any] = field(default_factory=dict)


# -- sources, as the child and the rerun build them -----------------------------------------------


def build_source(name: str, where: str, world_dir: str) -> Any:
    """The source `name` reading `where` (URL or folder); dates from the demo world's metadata."""
    meta = json.loads((Path(world_dir) / "world_meta.json").read_text(encoding="utf-8"))
    start, today = date.fromisoformat(meta["start"]), date.fromisoformat(meta["today"])
    if name == "amocrm":
        from assets.ingest.amocrm.source import amocrm_source
        from demo.amocrm_portal import DEFAULT_TOKEN

        return amocrm_source(base_url=where, access_token=DEFAULT_TOKEN, max_rps=200, backoff_base=0.01)
    if name == "direct":
        from assets.ingest.direct.source import direct_source
        from demo.ads_portal import DEFAULT_DIRECT_TOKEN
        from demo.marketing import DIRECT_LOGIN

        return direct_source(
            base_url=where, token=DEFAULT_DIRECT_TOKEN, client_login=DIRECT_LOGIN, start_date=start, end_date=today
        )
    if name == "vk":
        from assets.ingest.vk.source import vk_source
        from demo.ads_portal import DEFAULT_VK_TOKEN

        return vk_source(base_url=where, token=DEFAULT_VK_TOKEN, start_date=start, end_date=today)
    if name == "cbr":
        from assets.ingest.cbr.source import cbr_source

        return cbr_source(base_url=where, start_date=start - timedelta(days=30), end_date=today)
    if name == "onec":
        from assets.ingest.onec.source import onec_source

        return onec_source(export_dir=where)
    if name == "telephony":
        from assets.ingest.telephony.source import telephony_source

        return telephony_source(export_dir=where, phone_hash_salt="kill-test-salt")
    if name == "export":
        from assets.ingest.export.source import crm_export_source

        return crm_export_source(export_dir=where, mapping_file=str(Path(where) / "mapping.yaml"))
    if name == "plan":
        from assets.ingest.files.source import plan_source

        return plan_source(plan_file=str(Path(where) / "plan.csv"))
    raise ValueError(name)


DATASETS = {
    "amocrm": "raw_amocrm",
    "direct": "raw_direct",
    "vk": "raw_vk",
    "cbr": "raw_cbr",
    "onec": "raw_onec",
    "telephony": "raw_telephony",
    "export": "raw_export",
    "plan": "raw_plan",
}


def pipeline(name: str, base: str) -> tuple[dlt.Pipeline, Warehouse]:
    wh = Warehouse(url=f"duckdb:///{base}/wh.duckdb")
    return dlt.pipeline(
        pipeline_name=f"kill_{name}",
        destination=wh.dlt_destination(),
        dataset_name=DATASETS[name],
        pipelines_dir=f"{base}/pipelines",
    ), wh


_CHILD = """
import sys
from tests.test_ingest_kill_rerun import build_source, pipeline
name, where, world, base = sys.argv[1:5]
pipe, _ = pipeline(name, base)
print("loading", flush=True)
pipe.run(build_source(name, where, world))
print("finished", flush=True)
"""


# -- the world, independently ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def s_world(tmp_path_factory) -> Path:
    from demo.extras import ensure_extras
    from demo.world import ensure_world

    world = Path(ensure_world(tmp_path_factory.getbasetemp() / "world_S_extras", "S", S_TODAY, SEED))
    ensure_extras(world)
    return world


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _csv(path: Path, encoding: str = "utf-8", delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def _package_waiting(base: Path, name: str, stage: str) -> Callable[[], bool]:
    """True once a load package sits in `stage` ("normalize/extracted" or "load/normalized")."""
    folder = base / "pipelines" / f"kill_{name}" / stage
    return lambda: folder.is_dir() and any(folder.iterdir())


# -- HTTP sources: a slowed demo server ------------------------------------------------------------


def _amocrm(world_dir: Path, tmp: Path) -> Setup:
    from demo.amocrm_portal import AmoCRMPortal

    portal = AmoCRMPortal(world_dir, rate_limit=None)
    portal.delay = 0.15
    portal.start()
    deals = _json(world_dir / "bitrix24" / "deals.json")
    activities = [a for a in _json(world_dir / "bitrix24" / "activities.json") if a.get("OWNER_TYPE_ID") == "2"]
    expected = {
        "leads": ("id", {(int(d["ID"]),) for d in deals}),
        "notes": ("id", {(int(a["ID"]),) for a in activities if a.get("PROVIDER_TYPE_ID") == "CALL"}),
        "tasks": ("id", {(int(a["ID"]),) for a in activities if a.get("PROVIDER_TYPE_ID") == "TASK"}),
    }

    def fast() -> None:
        portal.delay = 0.0

    return Setup(portal.base_url, lambda: len(portal.requests) >= 8, expected, fast, portal.stop)


def _ads(world_dir: Path, delay: float, **kwargs: Any):
    from demo.ads_portal import AdsPortal

    portal = AdsPortal(world_dir, **kwargs)
    portal.delay = delay
    portal.start()
    return portal


def _direct(world_dir: Path, tmp: Path) -> Setup:
    portal = _ads(world_dir, 0.0, retry_in=1, offline_polls=2)  # offline mode: queued, building, then ready
    stats = _json(world_dir / "extras" / "direct_stats.json")
    expected = {"campaign_stats": ("cast(date as varchar), campaign_id", {(r["Date"], r["CampaignId"]) for r in stats})}
    due = lambda: any(p == "/json/v5/reports" for _, p, _ in portal.requests)  # noqa: E731 - waiting for retryIn
    return Setup(portal.url, due, expected, stop=portal.stop)


def _vk(world_dir: Path, tmp: Path) -> Setup:
    portal = _ads(world_dir, 0.8)
    stats = _json(world_dir / "extras" / "vk_stats.json")
    expected = {"campaign_stats": ("cast(date as varchar), campaign_id", {(r["date"], r["id"]) for r in stats})}
    due = lambda: any(p.endswith("day.json") for _, p, _ in portal.requests)  # noqa: E731 - first window asked

    def fast() -> None:
        portal.delay = 0.0

    return Setup(portal.url, due, expected, fast, portal.stop)


def _cbr(world_dir: Path, tmp: Path) -> Setup:
    portal = _ads(world_dir, 0.03)
    rates = _csv(world_dir / "cbr_rates.csv")
    expected = {"rates": ("cast(date as varchar), char_code", {(r["date"], r["char_code"]) for r in rates})}

    def fast() -> None:
        portal.delay = 0.0

    return Setup(portal.url, lambda: len(portal.requests) >= 40, expected, fast, portal.stop)


# -- file sources: a large export file --------------------------------------------------------------


def _onec(world_dir: Path, tmp: Path) -> Setup:
    folder = tmp / "onec"
    shutil.copytree(world_dir / "extras" / "onec", folder)
    header = "invoice_number;invoice_date;deal_id;company_id;counterparty;amount;currency;status\r\n"
    lines = [
        f"СЧ-99-{n:06d};{1 + n % 28:02d}.05.2025;{1 + n % 900};;ООО «Тест»;{n % 997},50;RUB;Выставлен\r\n"
        for n in range(BIG)
    ]
    (folder / "invoices_big.csv").write_bytes((header + "".join(lines)).encode("cp1251"))
    invoices = [r for p in sorted(folder.glob("invoices*.csv")) for r in _csv(p, "cp1251", ";")]
    payments = _csv(folder / "payments.csv", "cp1251", ";")
    expected = {
        "invoices": ("invoice_number", {(r["invoice_number"],) for r in invoices}),
        "payments": ("payment_number", {(r["payment_number"],) for r in payments}),
    }
    return Setup(str(folder), _package_waiting(tmp, "onec", "load/normalized"), expected)


def _telephony(world_dir: Path, tmp: Path) -> Setup:
    folder = tmp / "telephony"
    shutil.copytree(world_dir / "extras" / "telephony", folder)
    with (folder / "calls_2025-01.csv").open("w", newline="", encoding="utf-8") as fh:
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
                f"big{n:07d}",
                f"2025-01-{1 + n % 28:02d}T10:{n % 60:02d}:00+03:00",
                "in",
                "answered" if n % 3 else "missed",
                0 if n % 3 == 0 else 30 + n % 300,
                1 + n % 20,
                f"+7 900 {n % 1000:03d}-{n % 100:02d}-{n % 97:02d}",
                "",
            ]
            for n in range(BIG)
        )
    calls: list[dict] = []
    for path in sorted(folder.iterdir()):
        calls += _csv(path) if path.suffix == ".csv" else _json(path)
    expected = {"calls": ("call_id", {(c["call_id"],) for c in calls})}
    return Setup(str(folder), _package_waiting(tmp, "telephony", "normalize/extracted"), expected)


EXPORT_MAPPING = """
name: kill-test
defaults: {date_format: "%d.%m.%Y", currency: RUB, delimiter: ";"}
entities:
  deals:
    file: deals*.csv
    fields:
      deal_id: ID
      title: Name
      status: {column: Stage, map: {Won: won, Lost: lost, Open: open}}
      amount: Sum
      created_at: Created
"""


def _export(world_dir: Path, tmp: Path) -> Setup:
    folder = tmp / "export"
    folder.mkdir()
    (folder / "mapping.yaml").write_text(EXPORT_MAPPING, encoding="utf-8")
    stages = ("Won", "Lost", "Open")
    (folder / "deals.csv").write_text(
        "ID;Name;Stage;Sum;Created\n"
        + "".join(
            f"{n};Сделка {n};{stages[n % 3]};{n % 1000},50;{1 + n % 28:02d}.03.2025\n" for n in range(1, BIG + 1)
        ),
        encoding="utf-8",
    )
    deals = _csv(folder / "deals.csv", delimiter=";")
    expected = {"deals": ("deal_id", {(r["ID"],) for r in deals})}
    return Setup(str(folder), _package_waiting(tmp, "export", "normalize/extracted"), expected)


def _plan(world_dir: Path, tmp: Path) -> Setup:
    folder = tmp / "plan"
    folder.mkdir()
    with (folder / "plan.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["month", "manager_id", "pipeline_id", "amount_rub", "deal_count", "bonus_threshold_pct", "bonus_rub"]
        )
        writer.writerows(
            [f"{2000 + m // 12}-{1 + m % 12:02d}", manager, 0, 100000 + manager, 3, 100, 5000]
            for m in range(BIG // 100)
            for manager in range(1, 101)
        )
    rows = _csv(folder / "plan.csv")
    expected = {
        "plan": (
            "month, manager_id, pipeline_id",
            {(r["month"], int(r["manager_id"]), int(r["pipeline_id"])) for r in rows},
        )
    }
    return Setup(str(folder), _package_waiting(tmp, "plan", "load/normalized"), expected)


SETUPS: dict[str, Callable[[Path, Path], Setup]] = {
    "amocrm": _amocrm,
    "direct": _direct,
    "vk": _vk,
    "cbr": _cbr,
    "onec": _onec,
    "telephony": _telephony,
    "export": _export,
    "plan": _plan,
}


@pytest.fixture
def setup(request, s_world, tmp_path) -> Iterator[Setup]:
    bed = SETUPS[request.param](s_world, tmp_path)
    try:
        yield bed
    finally:
        bed.stop()


def _keys(wh: Warehouse, dataset: str, table: str, columns: str) -> list[tuple]:
    return [tuple(r) for r in wh.query(f"select {columns} from {dataset}.{table}").rows()]


@pytest.mark.parametrize("setup", list(SETUPS), indirect=True)
def test_a_load_killed_part_way_and_rerun_has_every_row_exactly_once(setup, s_world, tmp_path, request):
    name = request.node.callspec.params["setup"]
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, name, setup.where, str(s_world), str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while not setup.due() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    alive = child.poll() is None
    if alive:
        os.kill(child.pid, signal.SIGKILL)
    output = child.communicate(timeout=30)[0].decode(errors="replace")
    assert alive and setup.due(), f"the load was not caught part-way: {output[-2000:]}"
    assert child.returncode == -signal.SIGKILL and "finished" not in output

    setup.fast()
    pipe, wh = pipeline(name, str(tmp_path))
    pipe.run(build_source(name, setup.where, str(s_world)))

    dataset = DATASETS[name]
    for table, (columns, world_keys) in setup.expected.items():
        keys = _keys(wh, dataset, table, columns)
        assert len(keys) == len(set(keys)), f"{table}: {len(keys) - len(set(keys))} duplicated rows"
        assert set(keys) == world_keys, (
            f"{table}: {len(world_keys - set(keys))} missing, {len(set(keys) - world_keys)} unexpected"
        )
