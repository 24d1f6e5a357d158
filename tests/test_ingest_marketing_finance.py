"""The non-CRM sources (ads, CBR, telephony, 1C, plan) against the demo ads server and the demo export files (S world):
CBR (XML_daily), Yandex.Direct (Reports API), VK Ads, 1C exports, telephony exports, the plan sheet.

Full loads match the demo world; ad statistics reload a look-back window so a revised day is updated,
never duplicated; 201/202 + retryIn, 429 and 5xx are waited out; malformed records land in the
source's quarantine table with their position; a wrong currency or a missing column fails clearly;
no token, salt or phone number reaches a log line or the warehouse.
"""

from __future__ import annotations

import csv
import json
import logging
import subprocess
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import dlt
import pytest
from dagster_dlt import DagsterDltResource

from assets.ingest.cbr.source import cbr_source
from assets.ingest.direct.source import DirectFormatError, direct_source, parse_report
from assets.ingest.onec.source import onec_source
from assets.ingest.telephony.source import hash_phone, telephony_source
from assets.ingest.vk.source import vk_source
from demo.ads_portal import AdsPortal
from demo.extras import ensure_extras
from demo.world import load_world
from resources.warehouse import Warehouse
from tests.support.dbt import dbt

S_TODAY = date(2025, 6, 15)
SEED = 7


@pytest.fixture(scope="module")
def s_world(tmp_path_factory) -> Path:
    from demo.world import ensure_world

    world = Path(ensure_world(tmp_path_factory.getbasetemp() / "world_S_extras", "S", S_TODAY, SEED))
    ensure_extras(world)
    return world


@pytest.fixture()
def portal(s_world):
    p = AdsPortal(s_world, retry_in=2)
    p.start()
    yield p
    p.stop()


def Sleeps():  # noqa: N802 - reads like the recorder it returns
    """A fake `sleep` recording its waits (a function: dlt copies other source arguments)."""
    calls: list[float] = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)

    sleep.calls = calls
    return sleep


def _pipe(tmp_path: Path, name: str, dataset: str) -> tuple[dlt.Pipeline, Warehouse]:
    wh = Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    return dlt.pipeline(
        pipeline_name=name,
        destination=wh.dlt_destination(),
        dataset_name=dataset,
        pipelines_dir=str(tmp_path / "pipelines"),
    ), wh


def _extras_json(world: Path, name: str) -> list[dict]:
    return json.loads((world / "extras" / name).read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------- CBR


def test_cbr_full_load_matches_the_world_and_weekends_add_nothing(tmp_path, s_world, portal):
    world = load_world(s_world)
    pipe, wh = _pipe(tmp_path, "cbr", "raw_cbr")
    pipe.run(cbr_source(base_url=portal.url, start_date=world.start - timedelta(days=30), end_date=world.today))
    got = {
        (d.isoformat(), c): (n, v)
        for d, c, n, v in wh.query("select date, char_code, nominal, value from raw_cbr.rates").rows()
    }
    assert len(got) == len(world.rates)  # one row per published day x currency, weekend answers deduplicated
    for r in world.rates:
        nominal, value = got[(r["date"], r["char_code"])]
        assert nominal == r["nominal"] and Decimal(str(value)) == Decimal(f"{r['value']:.4f}")

    before = len(portal.requests)
    pipe.run(cbr_source(base_url=portal.url, start_date=world.start - timedelta(days=30), end_date=world.today))
    assert len(portal.requests) - before <= 4  # incremental: only the last few days are asked again
    assert wh.query("select count(*) as n from raw_cbr.rates")["n"][0] == len(world.rates)


def test_cbr_rates_file_adds_history_and_names_a_bad_cell(tmp_path):
    """A closed network's rates file (CBR_RATES_FILE): same table, merged on date + char_code."""
    from assets.ingest.cbr.source import cbr_source
    from assets.ingest.guard import describe_error

    first = tmp_path / "rates_1.csv"
    first.write_text(
        'date,char_code,nominal,value\n2026-01-12,USD,1,"78,50"\n2026-01-12,KZT,100,15.1\n', encoding="utf-8"
    )
    second = tmp_path / "rates_2.csv"
    second.write_text("date,char_code,nominal,value\n2026-01-12,USD,1,78.6\n2026-01-13,usd,1,79\n", encoding="utf-8")
    pipe, wh = _pipe(tmp_path, "cbr_file", "raw_cbr")
    pipe.run(cbr_source(base_url="file", start_date=date(2026, 1, 1), rates_file=str(first)))
    pipe.run(cbr_source(base_url="file", start_date=date(2026, 1, 1), rates_file=str(second)))
    got = wh.query(
        "select cast(date as varchar) as d, char_code, nominal, cast(value as double) as v "
        "from raw_cbr.rates order by 1, 2"
    ).rows()
    assert got == [("2026-01-12", "KZT", 100, 15.1), ("2026-01-12", "USD", 1, 78.6), ("2026-01-13", "USD", 1, 79.0)]

    bad = tmp_path / "rates_bad.csv"
    bad.write_text("date,char_code,nominal,value\n2026-01-14,USD,1,-3\n", encoding="utf-8")
    with pytest.raises(Exception) as err:
        pipe.run(cbr_source(base_url="file", start_date=date(2026, 1, 1), rates_file=str(bad)))
    assert "rates_bad.csv, line 2, column value" in str(err.value)
    # what the run reports (assets/ingest/guard.py): the root cause's first line, and nothing lost
    assert describe_error(err.value).startswith("SourceFileError: ") and "column value" in describe_error(err.value)
    assert wh.query("select count(*) as n from raw_cbr.rates")["n"][0] == 3


def test_cbr_malformed_value_is_quarantined_and_the_rest_loads(tmp_path, s_world, portal):
    world = load_world(s_world)
    bad_day = world.rates[-1]["date"]
    portal.malformed_cbr_day = bad_day
    start = date.fromisoformat(bad_day) - timedelta(days=3)
    pipe, wh = _pipe(tmp_path, "cbr", "raw_cbr")
    pipe.run(cbr_source(base_url=portal.url, start_date=start, end_date=date.fromisoformat(bad_day)))
    q = wh.query("select position, reason from raw_cbr.quarantine").rows()
    assert len(q) == 1 and "CharCode=" in q[0][0] and "not a positive number" in q[0][1]
    codes_on_bad_day = {r["char_code"] for r in world.rates if r["date"] == bad_day}
    loaded = wh.query(f"select count(*) as n from raw_cbr.rates where date = '{bad_day}'")["n"][0]
    assert loaded == len(codes_on_bad_day) - 1


def test_cbr_retries_5xx_and_429(tmp_path, s_world, portal):
    world = load_world(s_world)
    portal.fail_next("/scripts/XML_daily.asp", 2, status=503)
    portal.fail_next("/scripts/XML_daily.asp", 1, status=429, headers={"Retry-After": "3"})
    sleeps = Sleeps()
    pipe, wh = _pipe(tmp_path, "cbr", "raw_cbr")
    pipe.run(
        cbr_source(base_url=portal.url, start_date=world.today - timedelta(days=6), end_date=world.today, sleep=sleeps)
    )
    assert 3.0 in sleeps.calls and len(sleeps.calls) == 3
    assert wh.query("select count(*) as n from raw_cbr.rates")["n"][0] > 0


# --------------------------------------------------------------------------------- Yandex.Direct


def _direct(portal: AdsPortal, start: date, end: date, sleeps, **kw) -> object:
    return direct_source(
        base_url=portal.url,
        token=portal.direct_token,
        client_login=portal.direct_login,
        start_date=start,
        end_date=end,
        sleep=sleeps,
        **kw,
    )


def test_direct_full_load_waits_out_201_202_with_retry_in(tmp_path, s_world, portal):
    world = load_world(s_world)
    expected = _extras_json(s_world, "direct_stats.json")
    sleeps = Sleeps()
    pipe, wh = _pipe(tmp_path, "direct", "raw_direct")
    pipe.run(_direct(portal, world.start, world.today, sleeps))
    assert sleeps.calls == [2.0, 2.0]  # 201 queued, 202 building, each honoured with retryIn, then 200
    statuses = [p for m, p, _ in portal.requests if p == "/json/v5/reports"]
    assert len(statuses) == 3
    got = wh.query(
        "select count(*) as n, sum(cost) as cost, sum(clicks) as clicks, min(currency) as cur, "
        "max(currency) as cur2 from raw_direct.campaign_stats"
    ).rows()[0]
    assert got[0] == len(expected)
    assert Decimal(str(got[1])) == sum(Decimal(str(r["Cost"])) for r in expected)
    assert got[2] == sum(r["Clicks"] for r in expected)
    assert got[3] == got[4] == "RUB"  # the login's currency (clients.get), kept on every row
    headers = next(h for m, p, h in portal.requests if p == "/json/v5/reports")
    assert headers["returnmoneyinmicros"] == "false" and headers["client-login"] == portal.direct_login


def test_direct_incremental_look_back_updates_a_revised_day(tmp_path, s_world, portal):
    world = load_world(s_world)
    portal.offline_polls = 0
    portal.visible_until = world.today - timedelta(days=3)
    sleeps = Sleeps()
    pipe, wh = _pipe(tmp_path, "direct", "raw_direct")
    pipe.run(_direct(portal, world.start, world.today, sleeps, lookback_days=7))
    n_first = wh.query("select count(*) as n from raw_direct.campaign_stats")["n"][0]

    revised_day = (world.today - timedelta(days=5)).isoformat()
    portal.revise_direct(revised_day, 70100002, Cost=12345.67, Clicks=999)
    portal.visible_until = None
    pipe.run(_direct(portal, world.start, world.today, sleeps, lookback_days=7))
    last_body = portal.requests[-1]
    rows = wh.query(
        "select count(*) as n, count(distinct (date, campaign_id)) as d from raw_direct.campaign_stats"
    ).rows()
    assert rows[0][0] == rows[0][1] == len(_extras_json(s_world, "direct_stats.json"))
    assert rows[0][0] > n_first
    cost, clicks = wh.query(
        f"select cost, clicks from raw_direct.campaign_stats where date = '{revised_day}' and campaign_id = 70100002"
    ).rows()[0]
    assert Decimal(str(cost)) == Decimal("12345.67") and clicks == 999
    assert last_body[1] == "/json/v5/reports"


def test_direct_429_and_5xx_are_retried(tmp_path, s_world, portal):
    world = load_world(s_world)
    portal.offline_polls = 0
    portal.fail_next("/json/v5/reports", 1, status=500)
    portal.fail_next("/json/v5/reports", 1, status=429, headers={"Retry-After": "4"})
    sleeps = Sleeps()
    pipe, wh = _pipe(tmp_path, "direct", "raw_direct")
    pipe.run(_direct(portal, world.today - timedelta(days=9), world.today, sleeps))
    assert 4.0 in sleeps.calls and len(sleeps.calls) == 2
    assert wh.query("select count(*) as n from raw_direct.campaign_stats")["n"][0] == 10 * 4


def test_direct_malformed_tsv_line_is_quarantined_with_its_line(tmp_path, s_world, portal):
    world = load_world(s_world)
    portal.offline_polls = 0
    day = world.today - timedelta(days=2)
    portal.malformed_direct_row = (day.isoformat(), 70100003)
    pipe, wh = _pipe(tmp_path, "direct", "raw_direct")
    pipe.run(_direct(portal, day - timedelta(days=1), day, Sleeps()))
    ((position, reason, raw),) = wh.query("select position, reason, raw from raw_direct.quarantine").rows()
    assert position.startswith("report rop_campaign_days_") and position.endswith(
        "line 8"
    )  # header, 4 rows of the day before, 3rd campaign
    assert "Cost 'n/a' is not a number" == reason and "70100003" in raw
    assert wh.query("select count(*) as n from raw_direct.campaign_stats")["n"][0] == 7


def test_direct_wrong_currency_and_missing_column_fail_clearly(tmp_path, s_world, portal):
    world = load_world(s_world)
    portal.offline_polls = 0
    portal.direct_currency = "YND_FIXED"
    pipe, _ = _pipe(tmp_path, "direct", "raw_direct")
    with pytest.raises(Exception) as err:
        pipe.run(_direct(portal, world.today, world.today, Sleeps()))
    assert "'YND_FIXED', not a supported currency" in str(err.value)
    with pytest.raises(DirectFormatError, match=r"column\(s\) Cost missing"):
        list(
            parse_report(
                "Date\tCampaignId\tCampaignName\tImpressions\tClicks\n2025-06-01\t1\tx\t1\t1\n", "r", "RUB", None
            )
        )


def test_direct_secrets_never_reach_logs_or_errors(tmp_path, s_world, portal, caplog):
    world = load_world(s_world)
    portal.offline_polls = 1
    secret = "s3cr3t-direct-token-value"
    portal.direct_token = secret
    caplog.set_level(logging.DEBUG)
    pipe, _ = _pipe(tmp_path, "direct", "raw_direct")
    pipe.run(
        direct_source(
            base_url=portal.url,
            token=secret,
            client_login=portal.direct_login,
            start_date=world.today,
            end_date=world.today,
            sleep=Sleeps(),
        )
    )
    with pytest.raises(Exception) as err:
        pipe.run(
            direct_source(
                base_url=portal.url,
                token=secret + "-wrong",
                client_login=portal.direct_login,
                start_date=world.today - timedelta(days=30),
                end_date=world.today,
                sleep=Sleeps(),
            )
        )
    assert "error_code 53" in str(err.value)
    assert secret not in caplog.text and secret not in str(err.value) and secret not in repr(err.value)


# ---------------------------------------------------------------------------------------- VK Ads


def test_vk_full_load_in_92_day_windows_and_revised_day(tmp_path, s_world, portal):
    world = load_world(s_world)
    expected = _extras_json(s_world, "vk_stats.json")
    pipe, wh = _pipe(tmp_path, "vk", "raw_vk")
    pipe.run(
        vk_source(
            base_url=portal.url, token=portal.vk_token, start_date=world.start, end_date=world.today, sleep=Sleeps()
        )
    )
    days = (world.today - world.start).days + 1
    stat_calls = [p for _, p, _ in portal.requests if p.endswith("day.json")]
    assert len(stat_calls) == -(-days // 92)
    got = wh.query("select count(*) as n, sum(spent) as spent, min(currency) as cur from raw_vk.campaign_stats").rows()[
        0
    ]
    assert got[0] == len(expected) and got[2] == "RUB"
    assert Decimal(str(got[1])) == sum(Decimal(f"{r['spent']:.2f}") for r in expected)

    day = (world.today - timedelta(days=1)).isoformat()
    portal.revise_vk(day, 5200001, spent=777.77)
    portal.fail_next("/api/v2/statistics", 1, status=429, headers={"Retry-After": "1"})
    pipe.run(
        vk_source(
            base_url=portal.url, token=portal.vk_token, start_date=world.start, end_date=world.today, sleep=Sleeps()
        )
    )
    assert wh.query("select count(*) as n from raw_vk.campaign_stats")["n"][0] == len(expected)
    spent = wh.query(f"select spent from raw_vk.campaign_stats where date = '{day}' and campaign_id = 5200001")
    assert Decimal(str(spent["spent"][0])) == Decimal("777.77")


# ------------------------------------------------------------------------------------------ 1C


def _csv_rows(path: Path) -> list[dict]:
    with path.open(encoding="cp1251", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def test_onec_export_folder_loads_invoices_and_payments(tmp_path, s_world):
    onec = s_world / "extras" / "onec"
    invoices, payments = _csv_rows(onec / "invoices.csv"), _csv_rows(onec / "payments.csv")
    pipe, wh = _pipe(tmp_path, "onec", "raw_onec")
    pipe.run(onec_source(export_dir=str(onec)))
    got = wh.query("select count(*) as n, sum(amount) as total from raw_onec.invoices").rows()[0]
    assert got[0] == len(invoices)
    assert Decimal(str(got[1])) == sum(Decimal(r["amount"].replace(",", ".")) for r in invoices)
    n_pay, with_deal = wh.query("select count(*), count(deal_id) from raw_onec.payments").rows()[0]
    assert n_pay == len(payments) and with_deal == sum(1 for r in payments if r["deal_id"])
    info = pipe.run(onec_source(export_dir=str(onec)))  # unchanged files: nothing read again
    assert wh.query("select count(*) as n from raw_onec.invoices")["n"][0] == len(invoices)
    assert not any(
        p.jobs["completed_jobs"]
        and any(j.job_file_info.table_name in ("invoices", "payments") for j in p.jobs["completed_jobs"])
        for p in info.load_packages
    )


def test_onec_xlsx_bad_rows_quarantined_and_missing_column_fails(tmp_path):
    from openpyxl import Workbook

    folder = tmp_path / "onec"
    folder.mkdir()
    wb = Workbook()
    ws = wb.active
    ws.append(["invoice_number", "invoice_date", "deal_id", "company_id", "amount", "currency"])
    ws.append(["СЧ-1", date(2025, 6, 2), 10, None, 1500.5, "руб."])
    ws.append(["СЧ-2", "03.06.2025", None, 77, "2 000,00", "USD"])
    ws.append(["СЧ-3", "03.06.2025", 11, None, "100", "XYZ"])  # unknown currency
    ws.append(["СЧ-4", "03.06.2025", None, None, "100", "RUB"])  # no CRM link
    wb.save(folder / "invoices_2025-06.xlsx")
    (folder / "payments.csv").write_bytes(
        "payment_number;payment_date;amount;currency;deal_id\n"
        "ПП-1;05.06.2025;1500,50;RUB;10\nПП-2;31.02.2025;1;RUB;10\n".encode("cp1251")
    )
    pipe, wh = _pipe(tmp_path, "onec", "raw_onec")
    pipe.run(onec_source(export_dir=str(folder)))
    assert wh.query("select invoice_number, currency, amount from raw_onec.invoices order by 1").rows() == [
        ("СЧ-1", "RUB", Decimal("1500.5")),
        ("СЧ-2", "USD", Decimal("2000")),
    ]
    q = dict(wh.query("select position, reason from raw_onec.quarantine").rows())
    assert "currency 'XYZ' is not a known code" in q["invoices_2025-06.xlsx:4"]
    assert "neither deal_id nor company_id" in q["invoices_2025-06.xlsx:5"]
    assert "payment_date" in q["payments.csv:3"]
    assert wh.query("select count(*) as n from raw_onec.payments")["n"][0] == 1

    (folder / "payments_more.csv").write_text(
        "payment_number;amount;currency;deal_id\nПП-9;1;RUB;1\n", encoding="utf-8"
    )
    with pytest.raises(Exception, match=r"payments_more.csv lacks column\(s\) payment_date"):
        pipe.run(onec_source(export_dir=str(folder)))


# ------------------------------------------------------------------------------------ telephony


def test_telephony_calls_load_with_phones_hashed_on_arrival(tmp_path, s_world, caplog):
    folder = s_world / "extras" / "telephony"
    raw_calls = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as fh:
                raw_calls += list(csv.DictReader(fh))
        else:
            raw_calls += json.loads(path.read_text(encoding="utf-8"))
    assert {p.suffix for p in folder.iterdir()} == {".csv", ".json"}
    caplog.set_level(logging.DEBUG)
    salt = "pepper-salt-123"
    pipe, wh = _pipe(tmp_path, "telephony", "raw_telephony")
    pipe.run(telephony_source(export_dir=str(folder), phone_hash_salt=salt))
    rows = wh.query("select call_id, client_phone_hash, answered, direction, duration_sec from raw_telephony.calls")
    assert rows.height == len(raw_calls)
    by_id = {r[0]: r for r in rows.rows()}
    sample = raw_calls[0]
    assert by_id[sample["call_id"]][1] == hash_phone(sample["client_phone"], salt)
    assert hash_phone("+7 (912) 345-67-89", salt) == hash_phone("89123456789", salt) == hash_phone("9123456789", salt)
    assert sum(1 for r in rows.rows() if not r[2]) == sum(1 for c in raw_calls if c["status"] == "missed")
    dump = " ".join(str(v) for row in wh.query("select * from raw_telephony.calls").rows() for v in row)
    assert sample["client_phone"] not in dump and "+7 9" not in dump  # raw numbers never stored
    assert salt not in caplog.text and sample["client_phone"] not in caplog.text


def test_telephony_bad_row_quarantined_without_the_number(tmp_path):
    folder = tmp_path / "tel"
    folder.mkdir()
    (folder / "calls_1.csv").write_text(
        "call_id,started_at,direction,status,duration_sec,manager_id,client_phone,recording_url\n"
        "a1,2025-06-02T10:00:00+03:00,in,answered,60,3,+7 999 111-22-33,http://r/a1.mp3\n"
        "a2,2025-06-02 10:05:00,sideways,answered,60,3,+7 999 444-55-66,\n",
        encoding="utf-8",
    )
    pipe, wh = _pipe(tmp_path, "telephony", "raw_telephony")
    pipe.run(telephony_source(export_dir=str(folder), phone_hash_salt="x"))
    assert str(wh.query("select started_at from raw_telephony.calls")["started_at"][0]).startswith(
        "2025-06-02 07:00:00"
    )
    ((position, reason, raw),) = wh.query("select position, reason, raw from raw_telephony.quarantine").rows()
    assert position == "calls_1.csv:3" and "direction 'sideways'" in reason
    assert "444-55-66" not in raw and "<removed>" in raw


# ------------------------------------------------------------------------------------ Dagster


def test_assets_materialize_the_demo_world_and_report_unconfigured_sources(tmp_path, monkeypatch):
    from assets.ingest.cbr.assets import cbr_raw
    from assets.ingest.direct.assets import direct_raw
    from assets.ingest.onec.assets import onec_raw
    from assets.ingest.telephony.assets import telephony_raw
    from assets.ingest.vk.assets import vk_raw
    from resources.cbr import CBRRates
    from resources.direct import YandexDirect
    from resources.export_folders import OneCExport, TelephonyExport
    from resources.vk_ads import VKAds

    for var in (
        "BITRIX24_WEBHOOK_URL",
        "AMOCRM_BASE_URL",
        "CRM_EXPORT_DIR",
        "DIRECT_TOKEN",
        "VK_ADS_TOKEN",
        "ONEC_EXPORT_DIR",
        "TELEPHONY_EXPORT_DIR",
        "PHONE_HASH_SALT",
        "CBR_API_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    demo = {"demo_size": "S", "demo_today": S_TODAY.isoformat(), "demo_seed": SEED}
    resources = {
        "dlt": DagsterDltResource(),
        "warehouse": Warehouse(url=f"duckdb:///{tmp_path / 'wh.duckdb'}"),
        "cbr": CBRRates(**demo),
        "direct": YandexDirect(demo_retry_in=0, **demo),
        "vk_ads": VKAds(**demo),
        "onec": OneCExport(**demo),
        "telephony": TelephonyExport(**demo),
    }
    assets = [cbr_raw, direct_raw, vk_raw, onec_raw, telephony_raw]
    result = dg.materialize(assets, resources=resources)
    assert result.success
    mats = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert mats == {
        "raw_cbr/rates",
        "raw_direct/campaign_stats",
        "raw_vk/campaign_stats",
        "raw_onec/invoices",
        "raw_onec/payments",
        "raw_telephony/calls",
    }

    # Production mode (a CRM configured) with none of these configured: absent from the graph; an asset
    # run anyway (definitions loaded under other settings) is a reported failure, never a silent skip.
    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", "https://portal.example/rest/1/abc/")
    monkeypatch.setenv("CBR_API_URL", "off")
    from assets.ingest import build_defs

    assert {spec.tags["source"] for a in build_defs().assets for spec in a.specs} == {"bitrix24"}
    instance = dg.DagsterInstance.ephemeral()
    # (a warehouse of its own: the demo's one above refuses a real company's run)
    resources["warehouse"] = Warehouse(url=f"duckdb:///{tmp_path / 'company.duckdb'}")
    stale = dg.materialize([direct_raw, vk_raw, onec_raw, telephony_raw], resources=resources, instance=instance)
    assert stale.success  # the checks (not part of this selection) are what fail the run
    mats = {e.asset_key.to_user_string(): e.materialization.metadata for e in stale.get_asset_materialization_events()}
    assert all(m["refreshed"].value is False for m in mats.values()) and len(mats) == 5
    status = dict(
        resources["warehouse"].query("select source, error from ops.source_status where status = 'failed'").rows()
    )
    for source, setting in (
        ("direct", "DIRECT_TOKEN"),
        ("vk", "VK_ADS_TOKEN"),
        ("onec", "ONEC_EXPORT_DIR"),
        ("telephony", "TELEPHONY_EXPORT_DIR"),
    ):
        assert f"({setting} unset)" in status[source]


def test_telephony_outside_demo_needs_a_salt(tmp_path, monkeypatch):
    from resources.export_folders import TelephonyExport

    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", "https://portal.example/rest/1/abc/")
    monkeypatch.setenv("TELEPHONY_EXPORT_DIR", str(tmp_path))
    monkeypatch.delenv("PHONE_HASH_SALT", raising=False)
    with pytest.raises(ValueError, match="PHONE_HASH_SALT is not set"):
        TelephonyExport().salt()


# ------------------------------------------------------------------------------------ plan sheet


def test_plan_template_xlsx_reads_like_the_csv_template():
    from assets.ingest.files.source import PLAN_COLUMNS, PLAN_KEY, PLAN_REQUIRED, read_typed_csv

    here = Path(__file__).resolve().parent.parent / "assets" / "ingest" / "files"
    as_csv = read_typed_csv(here / "plan_template.csv", PLAN_COLUMNS, PLAN_REQUIRED, PLAN_KEY, "plan")
    as_xlsx = read_typed_csv(here / "plan_template.xlsx", PLAN_COLUMNS, PLAN_REQUIRED, PLAN_KEY, "plan")
    assert as_csv == as_xlsx and len(as_csv) >= 3


# ------------------------------------------------------------------------------------ dbt staging

STAGING = [
    "stg_direct__campaign_stats",
    "stg_vk__campaign_stats",
    "stg_onec__invoices",
    "stg_onec__payments",
    "stg_telephony__calls",
]


def _dbt_build(wh: Warehouse, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return dbt(wh, tmp_path, "build", "--select", *STAGING, timeout=600)


def test_staging_models_build_and_test_over_loaded_and_over_absent_raw_tables(tmp_path, s_world, portal):
    world = load_world(s_world)
    absent = Warehouse(url=f"duckdb:///{tmp_path / 'empty.duckdb'}")
    done = _dbt_build(absent, tmp_path / "a")  # a company without these sources: empty, typed views
    assert done.returncode == 0, done.stdout[-3000:]
    portal.offline_polls = 0
    pipe, wh = _pipe(tmp_path, "direct", "raw_direct")
    pipe.run(_direct(portal, world.start, world.today, Sleeps()))
    for name, dataset, source in (
        (
            "vk",
            "raw_vk",
            vk_source(base_url=portal.url, token=portal.vk_token, start_date=world.start, end_date=world.today),
        ),
        ("onec", "raw_onec", onec_source(export_dir=str(s_world / "extras" / "onec"))),
        (
            "telephony",
            "raw_telephony",
            telephony_source(export_dir=str(s_world / "extras" / "telephony"), phone_hash_salt="s"),
        ),
    ):
        dlt.pipeline(
            pipeline_name=name,
            destination=wh.dlt_destination(),
            dataset_name=dataset,
            pipelines_dir=str(tmp_path / "pipelines"),
        ).run(source)
    done = _dbt_build(wh, tmp_path / "b")
    assert done.returncode == 0, done.stdout[-3000:]
    n = {m: wh.query(f"select count(*) as n from staging.{m}")["n"][0] for m in STAGING}
    assert n["stg_direct__campaign_stats"] == len(_extras_json(s_world, "direct_stats.json"))
    assert n["stg_vk__campaign_stats"] == len(_extras_json(s_world, "vk_stats.json"))
    assert n["stg_onec__invoices"] > 0 and n["stg_onec__payments"] > 0 and n["stg_telephony__calls"] > 0
    answered = wh.query("select count(*) as n from staging.stg_telephony__calls where is_answered")["n"][0]
    assert 0 < answered < n["stg_telephony__calls"]


# ------------------------------------------------------------------------------------ settings

MY_SETTINGS = (
    "DIRECT_TOKEN",
    "DIRECT_CLIENT_LOGIN",
    "DIRECT_API_URL",
    "VK_ADS_TOKEN",
    "VK_ADS_API_URL",
    "VK_ADS_CURRENCY",
    "CBR_API_URL",
    "ONEC_EXPORT_DIR",
    "TELEPHONY_EXPORT_DIR",
    "PHONE_HASH_SALT",
    "INGEST_START_DATE",
    "ADS_LOOKBACK_DAYS",
    "PLAN_FILE",
)


def test_new_settings_are_documented_and_secrets_do_not_print():
    from resources.settings import load_settings

    root = Path(__file__).resolve().parent.parent
    env_example = (root / ".env.example").read_text(encoding="utf-8")
    readme = (root / "README.md").read_text(encoding="utf-8")
    for name in MY_SETTINGS:
        assert f"\n{name}=" in env_example and f"`{name}`" in readme, name
    settings = load_settings(
        {
            "DIRECT_TOKEN": "tok-1",
            "VK_ADS_TOKEN": "tok-2",
            "PHONE_HASH_SALT": "salt-3",
            "ADS_LOOKBACK_DAYS": "10",
            "INGEST_START_DATE": "2025-01-01",
        }
    )
    assert settings.ads_lookback_days == 10 and settings.ingest_start_date == date(2025, 1, 1)
    shown = repr(settings) + str(settings.model_dump())
    assert not any(secret in shown for secret in ("tok-1", "tok-2", "salt-3"))


# ------------------------------------------------------------------ error bursts with a timeout


def test_direct_a_burst_of_a_timeout_500_and_429_is_ridden_out(tmp_path, s_world, portal):
    world = load_world(s_world)
    portal.offline_polls = 0
    portal.slow_next("/json/v5/clients", 1.5)  # clients.get answers after the read timeout below
    portal.fail_next("/json/v5/reports", 1, status=500)
    portal.fail_next("/json/v5/reports", 1, status=429, headers={"Retry-After": "2"})
    sleeps = Sleeps()
    pipe, wh = _pipe(tmp_path, "direct", "raw_direct")
    pipe.run(_direct(portal, world.today - timedelta(days=9), world.today, sleeps, read_timeout=0.5))
    assert len(sleeps.calls) == 3 and 2.0 in sleeps.calls  # one retry per refusal, Retry-After honoured
    expected = {
        (r["Date"], r["CampaignId"])
        for r in _extras_json(s_world, "direct_stats.json")
        if r["Date"] >= (world.today - timedelta(days=9)).isoformat()
    }
    got = wh.query("select cast(date as varchar), campaign_id from raw_direct.campaign_stats").rows()
    assert sorted(got) == sorted(expected)


def test_vk_a_burst_of_a_timeout_500_503_and_429_is_ridden_out(tmp_path, s_world, portal):
    world = load_world(s_world)
    portal.slow_next("/api/v2/campaigns", 1.5)
    portal.fail_next("/api/v2/statistics", 1, status=500)
    portal.fail_next("/api/v2/statistics", 1, status=503)
    portal.fail_next("/api/v2/statistics", 1, status=429, headers={"Retry-After": "2"})
    sleeps = Sleeps()
    pipe, wh = _pipe(tmp_path, "vk", "raw_vk")
    pipe.run(
        vk_source(
            base_url=portal.url,
            token=portal.vk_token,
            start_date=world.start,
            end_date=world.today,
            sleep=sleeps,
            read_timeout=0.5,
        )
    )
    assert len(sleeps.calls) == 4 and 2.0 in sleeps.calls
    assert wh.query("select count(*) as n from raw_vk.campaign_stats")["n"][0] == len(
        _extras_json(s_world, "vk_stats.json")
    )


def test_cbr_a_timeout_and_a_500_are_ridden_out(tmp_path, s_world, portal):
    world = load_world(s_world)
    portal.slow_next("/scripts/XML_daily.asp", 1.5)
    portal.fail_next("/scripts/XML_daily.asp", 1, status=500)
    sleeps = Sleeps()
    pipe, wh = _pipe(tmp_path, "cbr", "raw_cbr")
    first = world.today - timedelta(days=6)
    pipe.run(cbr_source(base_url=portal.url, start_date=first, end_date=world.today, sleep=sleeps, read_timeout=0.5))
    assert len(sleeps.calls) == 2
    published = {r["date"] for r in world.rates if first.isoformat() <= r["date"] <= world.today.isoformat()}
    expected = sum(1 for r in world.rates if r["date"] in published)
    assert wh.query("select count(*) as n from raw_cbr.rates where date >= ?", [first])["n"][0] == expected


def test_vk_a_malformed_value_is_quarantined_and_the_rest_loads(tmp_path, s_world, portal):
    world = load_world(s_world)
    day = (world.today - timedelta(days=2)).isoformat()
    portal.revise_vk(day, 5200002, clicks="n/a")
    pipe, wh = _pipe(tmp_path, "vk", "raw_vk")
    pipe.run(
        vk_source(
            base_url=portal.url,
            token=portal.vk_token,
            start_date=world.today - timedelta(days=6),
            end_date=world.today,
            sleep=Sleeps(),
        )
    )
    ((source, position, reason, raw),) = wh.query("select source, position, reason, raw from raw_vk.quarantine").rows()
    assert source == "vk" and "id=5200002" in position and "clicks 'n/a' is not a number" in reason and day in raw
    loaded = set(wh.query("select cast(date as varchar), campaign_id from raw_vk.campaign_stats").rows())
    expected = {
        (r["date"], r["id"])
        for r in _extras_json(s_world, "vk_stats.json")
        if r["date"] >= (world.today - timedelta(days=6)).isoformat()
    }
    assert loaded == expected - {(day, 5200002)}
