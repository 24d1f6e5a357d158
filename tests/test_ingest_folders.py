"""Export-folder sources between two runs (1C, telephony, CRM export, plan sheet): a new file and a
changed file arrive, and a column nobody declared appears.

A user drops the next export beside the old ones, or the accounting system rewrites last month's
file; the rerun must bring exactly the new and the changed documents, never a duplicate. Expected
figures come from the files themselves, read here with the csv/json modules.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import dlt
import pytest

from assets.ingest.export.source import crm_export_source
from assets.ingest.files.source import plan_source
from assets.ingest.onec.source import onec_source
from assets.ingest.telephony.source import telephony_source
from resources.warehouse import Warehouse

S_TODAY = date(2025, 6, 15)
SEED = 7


@pytest.fixture(scope="module")
def s_world(tmp_path_factory) -> Path:
    from demo.extras import ensure_extras
    from demo.world import ensure_world

    world = Path(ensure_world(tmp_path_factory.getbasetemp() / "world_S_extras", "S", S_TODAY, SEED))
    ensure_extras(world)
    return world


def _pipe(tmp_path: Path, name: str, dataset: str) -> tuple[dlt.Pipeline, Warehouse]:
    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    return dlt.pipeline(
        pipeline_name=name,
        destination=wh.dlt_destination(),
        dataset_name=dataset,
        pipelines_dir=str(tmp_path / "pipelines"),
    ), wh


def _csv(path: Path, encoding: str = "utf-8", delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def _write_1c(path: Path, rows: list[dict[str, str]]) -> None:
    """As 1C writes it: windows-1251, `;`, CRLF."""
    with path.open("w", encoding="cp1251", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=";", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def _loaded(pipe: dlt.Pipeline) -> dict[str, int]:
    counts = pipe.last_trace.last_normalize_info.row_counts
    return {t: n for t, n in counts.items() if not t.startswith("_dlt")}


def _no_duplicates(wh: Warehouse, table: str, key: str) -> int:
    n, distinct = wh.query(f"select count(*), count(distinct {key}) from {table}").rows()[0]
    assert n == distinct, f"{table}: {n - distinct} duplicated rows"
    return n


# ---------------------------------------------------------------------------------------------- 1C


def test_onec_a_new_file_and_a_changed_file_bring_exactly_their_documents(tmp_path, s_world):
    folder = tmp_path / "onec"
    shutil.copytree(s_world / "extras" / "onec", folder)
    invoices = _csv(folder / "invoices.csv", "cp1251", ";")
    payments = _csv(folder / "payments.csv", "cp1251", ";")
    pipe, wh = _pipe(tmp_path, "onec", "raw_onec")
    pipe.run(onec_source(export_dir=str(folder)))

    # next month's invoices arrive as a new file; the payments file is rewritten with one amount
    # corrected and one payment added
    new_invoices = [
        {**invoices[0], "invoice_number": "СЧ-25-900001", "amount": "1000,00"},
        {**invoices[1], "invoice_number": "СЧ-25-900002", "amount": "2500,50"},
    ]
    _write_1c(folder / "invoices_2025-07.csv", new_invoices)
    corrected = {**payments[3], "amount": "777,77"}
    added = {**payments[-1], "payment_number": "ПП-900001", "amount": "10,00"}
    _write_1c(folder / "payments.csv", payments[:3] + [corrected] + payments[4:] + [added])
    pipe.run(onec_source(export_dir=str(folder)))

    # only the new file and the changed file were read again
    assert _loaded(pipe) == {"invoices": 2, "payments": len(payments) + 1}
    assert _no_duplicates(wh, "raw_onec.invoices", "invoice_number") == len(invoices) + 2
    assert _no_duplicates(wh, "raw_onec.payments", "payment_number") == len(payments) + 1
    got = dict(
        wh.query(
            "select payment_number, amount from raw_onec.payments where payment_number in (?, ?)",
            [corrected["payment_number"], "ПП-900001"],
        ).rows()
    )
    assert got == {corrected["payment_number"]: Decimal("777.77"), "ПП-900001": Decimal("10")}
    total = wh.query("select sum(amount) from raw_onec.invoices").rows()[0][0]
    assert total == sum(Decimal(r["amount"].replace(",", ".")) for r in invoices + new_invoices)


def test_onec_a_new_column_becomes_a_new_column(tmp_path, s_world):
    folder = tmp_path / "onec"
    shutil.copytree(s_world / "extras" / "onec", folder)
    pipe, wh = _pipe(tmp_path, "onec", "raw_onec")
    pipe.run(onec_source(export_dir=str(folder)))
    invoices = _csv(folder / "invoices.csv", "cp1251", ";")
    _write_1c(
        folder / "invoices_2025-07.csv",
        [{**invoices[0], "invoice_number": "СЧ-25-900003", "manager_comment": "Оплата частями"}],
    )
    pipe.run(onec_source(export_dir=str(folder)))
    assert wh.query(
        "select invoice_number, manager_comment from raw_onec.invoices where manager_comment is not null"
    ).rows() == [("СЧ-25-900003", "Оплата частями")]
    assert _no_duplicates(wh, "raw_onec.invoices", "invoice_number") == len(invoices) + 1


# --------------------------------------------------------------------------------------- telephony


def test_telephony_a_new_file_and_a_changed_file_bring_exactly_their_calls(tmp_path, s_world):
    folder = tmp_path / "telephony"
    shutil.copytree(s_world / "extras" / "telephony", folder)
    json_file = next(folder.glob("*.json"))
    csv_calls = [c for p in sorted(folder.glob("*.csv")) for c in _csv(p)]
    json_calls = json.loads(json_file.read_text(encoding="utf-8"))
    pipe, wh = _pipe(tmp_path, "telephony", "raw_telephony")
    pipe.run(telephony_source(export_dir=str(folder), phone_hash_salt="s"))

    # the PBX writes the next day's file, and rewrites the current month's with one call's outcome
    # corrected (it was still ringing) and one call added
    header = list(csv_calls[0])
    new_calls = [{**csv_calls[0], "call_id": f"new{n}", "started_at": f"2025-06-16T1{n}:00:00+03:00"} for n in range(3)]
    with (folder / "calls_2025-06-16.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(new_calls)
    missed = next(c for c in json_calls if c["status"] == "answered")
    json_calls = [{**c, "status": "missed", "duration_sec": 0} if c is missed else c for c in json_calls]
    json_calls.append({**json_calls[-1], "call_id": "late1"})
    json_file.write_text(json.dumps(json_calls, ensure_ascii=False), encoding="utf-8")
    pipe.run(telephony_source(export_dir=str(folder), phone_hash_salt="s"))

    assert _loaded(pipe) == {"calls": 3 + len(json_calls)}
    assert _no_duplicates(wh, "raw_telephony.calls", "call_id") == len(csv_calls) + 3 + len(json_calls)
    assert wh.query(
        "select answered, duration_sec from raw_telephony.calls where call_id = ?", [missed["call_id"]]
    ).rows() == [(False, 0)]
    missed_all = wh.query("select count(*) from raw_telephony.calls where not answered").rows()[0][0]
    assert missed_all == sum(c["status"] == "missed" for c in csv_calls + new_calls + json_calls)


def test_telephony_an_undeclared_column_loads_the_calls_but_is_not_stored(tmp_path):
    """Telephony rows are built field by field so no number in clear can slip through a new column."""
    folder = tmp_path / "tel"
    folder.mkdir()
    (folder / "calls_1.csv").write_text(
        "call_id,started_at,direction,status,duration_sec,manager_id,client_phone,recording_url,second_phone\n"
        "a1,2025-06-02T10:00:00+03:00,in,answered,60,3,+7 999 111-22-33,,+7 999 000-00-01\n",
        encoding="utf-8",
    )
    pipe, wh = _pipe(tmp_path, "telephony", "raw_telephony")
    pipe.run(telephony_source(export_dir=str(folder), phone_hash_salt="x"))
    calls = wh.query("select * from raw_telephony.calls")
    assert calls.height == 1 and "second_phone" not in calls.columns
    assert "000-00-01" not in " ".join(str(v) for v in calls.rows()[0])


# ------------------------------------------------------------------------------------- CRM export

EXPORT_MAPPING = """
name: folder-test
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


def test_export_a_new_file_a_changed_row_and_a_removed_row(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    mapping = tmp_path / "m.yaml"
    mapping.write_text(EXPORT_MAPPING, encoding="utf-8")
    (folder / "deals_2025-05.csv").write_text(
        "ID;Name;Stage;Sum;Created\n1;Альфа;Open;100;01.05.2025\n2;Бета;Open;200;02.05.2025\n3;Гамма;Won;300;03.05.2025\n",
        encoding="utf-8",
    )
    pipe, wh = _pipe(tmp_path, "export", "raw_export")
    pipe.run(crm_export_source(export_dir=str(folder), mapping_file=str(mapping)))
    assert wh.query("select count(*) from raw_export.deals").rows()[0][0] == 3

    # the next export: deal 2 won (a later file wins on the key), deal 4 new; deal 3 removed from the
    # CRM, so gone from the rewritten May file
    (folder / "deals_2025-06.csv").write_text(
        "ID;Name;Stage;Sum;Created\n2;Бета;Won;250;02.05.2025\n4;Дельта;Open;400;01.06.2025\n", encoding="utf-8"
    )
    (folder / "deals_2025-05.csv").write_text(
        "ID;Name;Stage;Sum;Created\n1;Альфа;Open;100;01.05.2025\n2;Бета;Open;200;02.05.2025\n", encoding="utf-8"
    )
    pipe.run(crm_export_source(export_dir=str(folder), mapping_file=str(mapping)))
    rows = wh.query(
        "select deal_id, status, cast(amount as double), source_file from raw_export.deals order by deal_id"
    ).rows()
    assert rows == [
        ("1", "open", 100.0, "deals_2025-05.csv"),
        ("2", "won", 250.0, "deals_2025-06.csv"),
        ("4", "open", 400.0, "deals_2025-06.csv"),
    ]


# ------------------------------------------------------------------------------------------ plan


def test_plan_a_new_column_becomes_a_new_column(tmp_path, s_world):
    plan = tmp_path / "plan.csv"
    rows = _csv(s_world / "plan.csv")
    with plan.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*rows[0], "region"])
        writer.writeheader()
        writer.writerows({**r, "region": "Урал" if n == 0 else ""} for n, r in enumerate(rows))
    pipe, wh = _pipe(tmp_path, "plan", "raw_plan")
    pipe.run(plan_source(plan_file=str(plan)))
    assert wh.query("select month, manager_id, region from raw_plan.plan where region is not null").rows() == [
        (rows[0]["month"], int(rows[0]["manager_id"]), "Урал")
    ]
    assert wh.query("select count(*) from raw_plan.plan").rows()[0][0] == len(rows)
