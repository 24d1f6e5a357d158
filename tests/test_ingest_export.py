"""The CRM-export source on the three public datasets (../shared/datasets/) and on broken files.

Every expected figure is computed here independently from the CSV files with the csv module, never
through the code under test.
"""

from __future__ import annotations

import csv
from collections import Counter
from decimal import Decimal
from pathlib import Path

import dagster as dg
import dlt
import pytest
from dagster_dlt import DagsterDltResource

from assets.ingest.export.assets import export_raw
from assets.ingest.export.mapping import MappingError, load_mapping
from assets.ingest.export.reader import ExportFileError, read_entity
from assets.ingest.export.source import crm_export_source
from resources.crm_export import SHIPPED_MAPPINGS, CrmExport
from resources.warehouse import Warehouse
from tests.support import datasets as ds
from tests.support.datasets import datasets_dir, require_datasets

# the DATASETS_DIR setting (default ../shared/datasets/ beside the project); see tests/support/datasets.py
DATASETS = datasets_dir()
MAVEN = DATASETS / ds.MAVEN
SUPERSTORE = DATASETS / ds.SUPERSTORE
OLIST = DATASETS / ds.OLIST


@pytest.fixture(scope="module")
def datasets() -> Path:
    return require_datasets(ds.MAVEN, ds.SUPERSTORE, ds.OLIST)


def _rows(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


def _load(tmp_path: Path, export_dir: Path, mapping: str) -> Warehouse:
    """Load with a plain dlt pipeline into a fresh DuckDB file; returns the warehouse to query."""
    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    pipeline = dlt.pipeline(
        pipeline_name="export_test",
        destination=wh.dlt_destination(),
        dataset_name="raw_export",
        pipelines_dir=str(tmp_path / "dlt"),
    )
    mapping_path = SHIPPED_MAPPINGS / f"{mapping}.yaml" if "/" not in mapping else Path(mapping)
    pipeline.run(crm_export_source(export_dir=str(export_dir), mapping_file=str(mapping_path)))
    return wh


def _one(wh: Warehouse, sql: str):
    return wh.query(sql).rows()[0]


@pytest.mark.datasets
def test_maven_crm_through_the_dagster_asset(datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    result = dg.materialize(
        [export_raw],
        resources={
            "dlt": DagsterDltResource(),
            "warehouse": wh,
            "crm_export": CrmExport(export_dir=str(MAVEN), mapping="maven_crm"),  # a shipped mapping by name
        },
    )
    assert result.success
    keys = {
        e.event_specific_data.materialization.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
    }
    assert {"raw_export/deals", "raw_export/managers"} <= keys

    pipeline = _rows(MAVEN / "sales_pipeline.csv")
    won = [r for r in pipeline if r["deal_stage"] == "Won"]
    assert _one(wh, "select count(*), count(distinct deal_id) from raw_export.deals") == (len(pipeline), len(pipeline))
    n_won, won_sum = _one(wh, "select count(*), sum(amount) from raw_export.deals where status = 'won'")
    assert n_won == len(won) == 4238
    assert won_sum == sum(Decimal(r["close_value"]) for r in won)
    assert _one(wh, "select count(*) from raw_export.deals where status = 'lost'")[0] == sum(
        r["deal_stage"] == "Lost" for r in pipeline
    )
    # GTXPro in the pipeline is the product GTX Pro of products.csv.
    products = {r["product"] for r in _rows(MAVEN / "products.csv")}
    loaded = {p for (p,) in wh.query("select distinct product from raw_export.deals").rows()}
    assert loaded <= products and "GTXPro" not in loaded
    assert _one(wh, "select count(*) from raw_export.deals where product = 'GTX Pro'")[0] == sum(
        r["product"] in ("GTXPro", "GTX Pro") for r in pipeline
    )
    # 1,425 opportunities with no account load, with a null account.
    assert (
        _one(wh, "select count(*) from raw_export.deals where account is null")[0]
        == sum(not r["account"].strip() for r in pipeline)
        == 1425
    )
    # Open deals: empty dates are nulls, not errors; nothing quarantined.
    assert (
        _one(wh, "select count(*) from raw_export.deals where created_at is null")[0]
        == sum(not r["engage_date"] for r in pipeline)
        > 0
    )
    assert _one(wh, "select count(*) from raw_export.deals where status = 'open' and closed_at is not null")[0] == 0
    # Agents with no deals are still managers.
    teams = _rows(MAVEN / "sales_teams.csv")
    assert _one(wh, "select count(*) from raw_export.managers")[0] == len(teams)
    idle = {r["sales_agent"] for r in teams} - {r["sales_agent"] for r in pipeline}
    assert idle and _one(
        wh, "select count(*) from raw_export.managers where manager_name in (" + ",".join(f"'{a}'" for a in idle) + ")"
    )[0] == len(idle)


@pytest.mark.datasets
def test_superstore_windows_1252_crlf_and_us_dates(datasets, tmp_path):
    raw = (SUPERSTORE / "sample_superstore.csv").read_bytes()
    assert b"\r\n" in raw  # the trap is really there
    rows = _rows(SUPERSTORE / "sample_superstore.csv", encoding="cp1252")
    wh = _load(tmp_path, SUPERSTORE, "superstore")
    # the file's dates are the company's (Moscow) days: stored as that midnight in UTC
    n, total, first, last = _one(
        wh,
        "select count(*), sum(amount), min(created_at at time zone 'Europe/Moscow')::date,"
        " max(created_at at time zone 'Europe/Moscow')::date from raw_export.deals",
    )
    # a row per order line: the 9,994 lines are the 5,009 orders' deals, each the total of its lines
    assert len(rows) == 9994 and n == len({r["Order ID"] for r in rows}) == 5009
    assert total == sum(Decimal(r["Sales"]) for r in rows)
    assert (str(first), str(last)) == ("2014-01-03", "2017-12-30")
    biggest = Counter(r["Order ID"] for r in rows).most_common(1)[0][0]
    lines = [r for r in rows if r["Order ID"] == biggest]
    amount, quantity, pipeline = _one(
        wh, f"select amount, quantity, pipeline from raw_export.deals where deal_id = '{biggest}'"
    )
    assert amount == sum(Decimal(r["Sales"]) for r in lines) and quantity == sum(int(r["Quantity"]) for r in lines)
    assert pipeline == lines[0]["Segment"]
    # Names keep their accents (cp1252) and lose their non-breaking spaces.
    names = {p for (p,) in wh.query("select distinct product from raw_export.deals").rows()}
    assert not any("\u00a0" in p for p in names)
    assert any("é" in p for p in names)
    assert any("Konftel 250 Conference phone - Charcoal black" in p.split("; ") for p in names)
    accounts = {a for (a,) in wh.query("select distinct account from raw_export.deals").rows()}
    assert "Roy Französisch" in accounts
    assert (
        wh.query(
            "select count(*) as n from information_schema.tables "
            "where table_schema = 'raw_export' and table_name = 'quarantine'"
        )["n"][0]
        == 0
    )


@pytest.mark.datasets
def test_olist_blank_origins_and_closed_deals(datasets, tmp_path):
    leads = _rows(OLIST / "olist_marketing_qualified_leads_dataset.csv")
    deals = _rows(OLIST / "olist_closed_deals_dataset.csv")
    wh = _load(tmp_path, OLIST, "olist")
    assert _one(wh, "select count(*) from raw_export.leads")[0] == len(leads) == 8000
    by_origin = dict(wh.query("select source, count(*) from raw_export.leads group by 1").rows())
    expected = Counter(r["origin"].strip() or "unknown" for r in leads)
    assert by_origin == dict(expected) and expected["unknown"] > 0
    assert _one(wh, "select count(*), count(amount) from raw_export.deals where status = 'won'") == (len(deals), 0)
    # Every closed deal points at its lead.
    assert _one(wh, "select count(*) from raw_export.deals d join raw_export.leads l using (lead_id)")[0] == len(
        {r["mql_id"] for r in deals} & {r["mql_id"] for r in leads}
    )


BROKEN_MAPPING = """
name: broken
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


def test_bad_rows_are_quarantined_with_file_line_and_reason(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "deals.csv").write_text(
        "ID;Name;Stage;Sum;Created\n"
        "1;Alpha;Won;1\u00a0000,50;01.02.2025\n"  # line 2: fine (NBSP thousands, decimal comma)
        "2;Beta;Won;12;31.02.2025\n"  # line 3: no such date
        ";Gamma;Lost;5;01.02.2025\n"  # line 4: blank key
        "4;Delta;Maybe;5;01.02.2025\n"  # line 5: unknown status
        "5;Eps;Open;;\n"  # line 6: fine (open, no sum, no date)
        "6;Zeta;Won;7;01.02.2025;extra\n"  # line 7: one field too many
        "1;Alpha again;Won;9;01.02.2025\n"  # line 8: duplicate key
        "7;Eta;Lost;abc;01.02.2025\n",  # line 9: not a number
        encoding="utf-8",
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(BROKEN_MAPPING, encoding="utf-8")
    wh = _load(tmp_path, export, str(mapping))
    assert wh.query("select deal_id, amount, currency, status from raw_export.deals order by deal_id").rows() == [
        ("1", Decimal("1000.5"), "RUB", "won"),
        ("5", None, "RUB", "open"),
    ]
    bad = wh.query("select file, line, reason from raw_export.quarantine order by line").rows()
    assert [(f, line) for f, line, _ in bad] == [("deals.csv", n) for n in (3, 4, 5, 7, 8, 9)]
    reasons = [r for _, _, r in bad]
    assert "Created" in reasons[0] and "31.02.2025" in reasons[0]
    assert reasons[1] == "blank deal_id"
    assert "Maybe" in reasons[2]
    assert "6 fields" in reasons[3]
    assert "duplicate deal_id '1' (first at line 2)" == reasons[4]
    assert "Sum" in reasons[5] and "abc" in reasons[5]

    # The export is fixed and reloaded: the quarantine describes the files as they are now.
    (export / "deals.csv").write_text("ID;Name;Stage;Sum;Created\n1;Alpha;Won;10;01.02.2025\n", encoding="utf-8")
    wh = _load(tmp_path, export, str(mapping))
    assert wh.query("select count(*) as n from raw_export.deals")["n"][0] == 1
    assert wh.query("select count(*) as n from raw_export.quarantine")["n"][0] == 0


ORDER_LINES_MAPPING = """
name: shop
defaults: {date_format: "%d.%m.%Y", currency: RUB, delimiter: ";"}
entities:
  deals:
    file: orders.csv
    lines: Line
    fields:
      deal_id: Order
      status: {const: won}
      pipeline: Segment
      product: Product
      amount: Sum
      quantity: Qty
      created_at: Ordered
      closed_at: Paid
      currency: {column: Currency, default: null}
"""


def test_an_orders_lines_are_one_deal(tmp_path):
    """A shop's export has a row per order line: the order is the deal, its amount the lines' total."""
    export = tmp_path / "export"
    export.mkdir()
    (export / "orders.csv").write_text(
        "Line;Order;Segment;Product;Sum;Qty;Ordered;Paid;Currency\n"
        "1;A-1;Retail;Chair;100,10;2;03.02.2025;05.02.2025;\n"  # line 2
        "2;A-1;Retail;Desk;50,05;1;03.02.2025;07.02.2025;\n"  # line 3: same order, paid later
        "3;B-7;Corporate;Lamp;20;4;04.02.2025;04.02.2025;\n"  # line 4: an order of one line
        "4;A-1;Retail;Chair;9,85;1;02.02.2025;05.02.2025;\n"  # line 5: a second chair, ordered a day earlier
        "2;A-1;Retail;Desk;50,05;1;03.02.2025;07.02.2025;\n"  # line 6: line 2 exported twice
        "5;A-1;Corporate;Pen;1;1;03.02.2025;05.02.2025;\n"  # line 7: a second pipeline for one order
        "6;A-1;Retail;Pen;1;1;03.02.2025;05.02.2025;USD\n",  # line 8: a second currency for one order
        encoding="utf-8",
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(ORDER_LINES_MAPPING, encoding="utf-8")
    wh = _load(tmp_path, export, str(mapping))
    rows = wh.query(
        "select deal_id, pipeline, product, amount, quantity, currency, source_line,"
        " cast(created_at at time zone 'Europe/Moscow' as date) as ordered,"
        " cast(closed_at at time zone 'Europe/Moscow' as date) as paid from raw_export.deals order by deal_id"
    ).rows()
    assert [r[:7] for r in rows] == [
        ("A-1", "Retail", "Chair; Desk", Decimal("160"), Decimal("4"), "RUB", 2),  # 100.10 + 50.05 + 9.85
        ("B-7", "Corporate", "Lamp", Decimal("20"), Decimal("4"), "RUB", 4),
    ]
    assert [(str(r[7]), str(r[8])) for r in rows] == [("2025-02-02", "2025-02-07"), ("2025-02-04", "2025-02-04")]
    bad = wh.query("select line, reason from raw_export.quarantine order by line").rows()
    assert [line for line, _ in bad] == [6, 7, 8]
    assert bad[0][1] == "duplicate Line '2' (first at line 3)"
    assert bad[1][1].startswith("pipeline 'Corporate' differs from 'Retail' of deal_id 'A-1' (its first line is 2)")
    assert bad[2][1].startswith("currency 'USD' differs from 'RUB'")
    # a line id column the file does not have stops the load, naming it
    (export / "orders.csv").write_text("Order;Segment;Product;Sum;Qty;Ordered;Paid;Currency\n", encoding="utf-8")
    with pytest.raises(ExportFileError, match=r"columns \['Line'\] are not in the header"):
        read_entity(load_mapping(mapping).entities["deals"], export, "x")


def test_whole_file_problems_name_the_file_and_the_fix(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    mapping = tmp_path / "m.yaml"
    mapping.write_text(BROKEN_MAPPING, encoding="utf-8")
    spec = load_mapping(mapping).entities["deals"]
    with pytest.raises(ExportFileError, match="no file matches 'deals\\*.csv'"):
        read_entity(spec, export, "x")
    (export / "deals.csv").write_text("ID;Title;Stage\n1;a;Won\n", encoding="utf-8")
    with pytest.raises(ExportFileError, match=r"columns \['Created', 'Name', 'Sum'\] are not in the header"):
        read_entity(spec, export, "x")
    (export / "deals.csv").write_bytes("ID;Name;Stage;Sum;Created\n1;Кофе;Won;1;01.02.2025\n".encode("cp1251"))
    with pytest.raises(ExportFileError, match="not utf-8 text.*set `encoding:`"):
        read_entity(spec, export, "x")
    bad = tmp_path / "bad.yaml"
    bad.write_text("entities: {leads: {file: x.csv, fields: {lead_id: id}}}", encoding="utf-8")
    with pytest.raises(MappingError, match="entity `deals` is required"):
        load_mapping(bad)
    bad.write_text("entities: {deals: {file: x.csv, fields: {deal_id: id, colour: c, status: {const: won}}}}")
    with pytest.raises(MappingError, match="unknown fields \\['colour'\\]"):
        load_mapping(bad)


def test_every_shipped_mapping_is_valid():
    names = sorted(p.stem for p in SHIPPED_MAPPINGS.glob("*.yaml"))
    assert names == ["maven_crm", "olist", "superstore"]
    for name in names:
        assert "deals" in load_mapping(SHIPPED_MAPPINGS / f"{name}.yaml").entities


XLSX_MAPPING = """
name: xlsx-check
defaults: {date_format: "%d.%m.%Y", currency: RUB, delimiter: ";"}
entities:
  deals:
    file: deals*.EXT
    fields:
      deal_id: ID
      title: Name
      status: {column: Stage, map: {Won: won, Lost: lost, Open: open}}
      amount: Sum
      created_at: Created
"""
XLSX_CSV = (
    "ID;Name;Stage;Sum;Created\n"
    "1;Альфа;Won;1000,50;01.02.2025\n"
    "2;Beta;Lost;12;03.02.2025\n"
    "3;Gamma;Maybe;5;04.02.2025\n"  # quarantined: unknown status
    "4;Delta;Open;;\n"
)  # open, no sum, no date


def _as_xlsx(csv_path: Path, xlsx_path: Path, typed: bool) -> None:
    """Save the CSV as a workbook, as a user would: as text, or with numbers and dates typed as Excel does."""
    from datetime import datetime

    from openpyxl import Workbook

    def cell(text: str) -> object:
        if not typed or not text:
            return text or None
        for parse in (int, lambda s: float(s.replace(",", ".")), lambda s: datetime.strptime(s, "%d.%m.%Y")):
            try:
                return parse(text)
            except ValueError:
                pass
        return text

    wb = Workbook()
    with csv_path.open(encoding="utf-8", newline="") as fh:
        for n, record in enumerate(csv.reader(fh, delimiter=";")):
            wb.active.append(record if n == 0 else [cell(v) for v in record])
    wb.save(xlsx_path)


@pytest.mark.parametrize("typed", [False, True], ids=["text-cells", "typed-cells"])
def test_an_xlsx_export_loads_the_same_raw_rows_as_its_csv(tmp_path, typed):
    exports = {}
    for ext in ("csv", "xlsx"):
        folder = tmp_path / ext
        folder.mkdir()
        (tmp_path / f"m_{ext}.yaml").write_text(XLSX_MAPPING.replace("EXT", ext), encoding="utf-8")
        exports[ext] = folder
    (exports["csv"] / "deals.csv").write_text(XLSX_CSV, encoding="utf-8")
    _as_xlsx(exports["csv"] / "deals.csv", exports["xlsx"] / "deals.xlsx", typed)

    got = {}
    for ext, folder in exports.items():
        wh = _load(tmp_path / f"wh_{ext}", folder, str(tmp_path / f"m_{ext}.yaml"))
        deals = wh.query(
            "select * exclude (source_file, _dlt_load_id, _dlt_id) from raw_export.deals order by deal_id"
        ).rows()
        quarantine = wh.query("select entity, line, reason, record from raw_export.quarantine").rows()
        files = {f for (f,) in wh.query("select distinct source_file from raw_export.deals").rows()}
        got[ext] = deals, quarantine, files
    assert got["xlsx"][0] == got["csv"][0]  # every canonical column, typed the same
    assert got["csv"][2] == {"deals.csv"} and got["xlsx"][2] == {"deals.xlsx"}
    # the same row quarantined for the same reason at the same line; a typed date cell has no
    # original text, so its raw record shows the date as ISO
    assert (
        [q[:3] for q in got["xlsx"][1]]
        == [q[:3] for q in got["csv"][1]]
        == [("deals", 4, "status 'Maybe' is not one of ('open', 'won', 'lost') (map it in the mapping)")]
    )
    assert '"Created": "2025-02-04"' in got["xlsx"][1][0][3] if typed else got["xlsx"][1] == got["csv"][1]
    summary = [
        (r[0], r[1], str(r[2]))
        for r in _load(tmp_path / "again", exports["xlsx"], str(tmp_path / "m_xlsx.yaml"))
        .query("select deal_id, status, amount from raw_export.deals order by deal_id")
        .rows()
    ]
    assert summary == [("1", "won", "1000.5000"), ("2", "lost", "12.0000"), ("4", "open", "None")]


ZONE_MAPPING = """
entities:
  deals:
    file: deals.csv
    delimiter: ";"
    date_format: ["%d.%m.%Y %H:%M", "%d.%m.%Y"]
    fields: {deal_id: ID, status: {const: won}, closed_at: Won, amount: Sum, currency: Cur}
"""


def _zone_export(tmp_path: Path, mapping_text: str) -> tuple[Path, Path]:
    export = tmp_path / "export"
    export.mkdir(exist_ok=True)
    # a late win on the last evening of January, a bare date, and a time with its own offset
    (export / "deals.csv").write_text(
        "ID;Won;Sum;Cur\n1;31.01.2025 23:30;100;USD\n2;01.02.2025;50;RUB\n3;2025-01-31T23:30:00+00:00;7;\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "zone.yaml"
    mapping.write_text(mapping_text, encoding="utf-8")
    return export, mapping


def test_times_without_an_offset_are_the_companys_wall_clock(tmp_path):
    """A CRM exports local time: 23:30 on 31 January in Moscow is 20:30 UTC and stays in January; the
    mapping's `timezone:` overrides the company's; an explicit offset is kept; a bad zone is named."""
    from datetime import UTC, datetime

    export, mapping = _zone_export(tmp_path, ZONE_MAPPING)
    rows = {r["deal_id"]: r["closed_at"] for r in read_entity(load_mapping(mapping).entities["deals"], export, "x")[0]}
    assert rows == {
        "1": datetime(2025, 1, 31, 20, 30, tzinfo=UTC),  # Moscow is UTC+3
        "2": datetime(2025, 1, 31, 21, 0, tzinfo=UTC),  # midnight of 1 February in Moscow
        "3": datetime(2025, 1, 31, 23, 30, tzinfo=UTC),
    }
    spec = load_mapping(mapping, company_timezone="Asia/Novosibirsk").entities["deals"]  # UTC+7
    assert read_entity(spec, export, "x")[0][0]["closed_at"] == datetime(2025, 1, 31, 16, 30, tzinfo=UTC)
    zoned = tmp_path / "zoned"
    zoned.mkdir()
    export, mapping = _zone_export(zoned, ZONE_MAPPING.replace("    file:", "    timezone: UTC\n    file:"))
    spec = load_mapping(mapping, company_timezone="Asia/Novosibirsk").entities["deals"]
    assert read_entity(spec, export, "x")[0][0]["closed_at"] == datetime(2025, 1, 31, 23, 30, tzinfo=UTC)
    mapping.write_text(ZONE_MAPPING.replace("    file:", "    timezone: Mars/Olympus\n    file:"), encoding="utf-8")
    with pytest.raises(MappingError, match="entities.deals: timezone 'Mars/Olympus' is not an IANA zone"):
        load_mapping(mapping)


def test_span_gives_the_business_days_and_writes_one_fixed_rate(tmp_path, capsys):
    """What `make load-dataset` reads before the run: first and last business day (Moscow), the
    currencies with an amount, and a rates file the CBR source reads (one row a foreign currency)."""
    from datetime import date

    from assets.ingest.cbr.source import cbr_source
    from assets.ingest.export.span import EmptyExport, export_span, main

    export, mapping = _zone_export(tmp_path, ZONE_MAPPING)
    span = export_span(export, load_mapping(mapping))
    # deal 3 (23:30 UTC) is 1 February in Moscow, as is deal 2; deal 1 is 31 January
    assert (span.first_day, span.last_day, span.currencies) == (date(2025, 1, 31), date(2025, 2, 1), ("RUB", "USD"))
    rates = tmp_path / "data" / "rates.csv"
    assert main([str(export), str(mapping), "--rates-out", str(rates), "--rub-per-unit", "92,5"]) == 0
    assert capsys.readouterr().out.strip() == "first=2025-01-31 last=2025-02-01 currencies=RUB,USD"
    assert rates.read_text(encoding="utf-8").splitlines() == ["date,char_code,nominal,value", "2025-01-31,USD,1,92.5"]
    loaded = list(cbr_source(base_url="", start_date=date(2025, 1, 1), rates_file=str(rates)))
    assert [(r["char_code"], float(r["value"])) for r in loaded] == [("USD", 92.5)]

    with pytest.raises(SystemExit):  # a rate must be a positive number
        main([str(export), str(mapping), "--rates-out", str(rates), "--rub-per-unit", "-1"])
    (export / "deals.csv").write_text("ID;Won;Sum;Cur\n1;;10;RUB\n", encoding="utf-8")
    with pytest.raises(EmptyExport, match="no row of the export has a date"):
        export_span(export, load_mapping(mapping))
    assert main([str(tmp_path / "nowhere"), str(mapping)]) == 1
    assert "no file matches" in capsys.readouterr().err
