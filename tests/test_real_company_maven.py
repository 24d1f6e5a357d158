"""A real company with the Maven CRM export folder alone (public data in dollars, rates from a file).

One module per configuration so that parallel workers (`make test`) take them side by side; what they
share (the run, the assertions, the S world) is in tests/support/real_company.py.
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal

import pytest

from tests.support.datasets import MAVEN
from tests.support.real_company import (
    USD_RUB,
    Run,
    assert_no_demo_world,
    assert_whole_graph_built,
    whole_run,
)

pytestmark = pytest.mark.slow  # the whole graph: not in `make test-fast`


@pytest.fixture(scope="module")
def maven_only(tmp_path_factory: pytest.TempPathFactory) -> Run:
    from tests.support.datasets import require_datasets

    maven = require_datasets("maven_crm_sales_opportunities") / "maven_crm_sales_opportunities"
    tmp = tmp_path_factory.mktemp("maven_only")
    # A closed network: the dollar's rate comes from the company's rates file, not the CBR's site.
    rates = tmp / "rates.csv"
    rates.write_text(f"date,char_code,nominal,value\n2016-01-04,USD,1,{USD_RUB}\n", encoding="utf-8")
    env = {"CRM_EXPORT_DIR": str(maven), "CRM_EXPORT_MAPPING": "maven_crm", "CBR_RATES_FILE": str(rates)}
    return whole_run(tmp, env)


@pytest.mark.datasets
def test_maven_export_only_builds_everything_from_the_files_alone(maven_only):
    from tests.support.datasets import require_datasets

    run = maven_only
    assert run.result.success, f"failed steps: {run.failed_steps()}"
    assert_whole_graph_built(run, "raw_export/deals")
    assert_no_demo_world(run, "raw_export", cbr=True)
    with (
        require_datasets("maven_crm_sales_opportunities") / "maven_crm_sales_opportunities" / "sales_pipeline.csv"
    ).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    won = [r for r in rows if r["deal_stage"] == "Won"]
    won_usd = sum(Decimal(r["close_value"]) for r in won)
    got = run.one("select count(*) as n, sum(amount) as usd, sum(amount_rub) as rub from marts.mart_deals where is_won")
    assert (got["n"], Decimal(str(got["usd"]))) == (len(won), won_usd)
    assert Decimal(str(got["rub"])) == won_usd * USD_RUB
    revenue = run.one("select sum(won_rub) as rub from marts.mart_revenue_daily")
    assert Decimal(str(revenue["rub"])) == won_usd * USD_RUB
    assert run.one("select count(*) as n from marts.mart_deals")["n"] == len(rows)
    # each deal keeps the export's own id, the one the company's CRM shows, beside the warehouse's key
    numbers = run.warehouse.query("select deal_number from marts.mart_deals")["deal_number"].to_list()
    assert sorted(numbers) == sorted(r["opportunity_id"] for r in rows)


@pytest.mark.datasets
def test_pages_read_on_a_company_without_calls_or_anomalies(maven_only):
    """No telephony, no calls in the export, no anomaly on the day: tables the site exports empty. Their
    date columns once reached the browser as numbers (Evidence wrote all-null dates as DOUBLE), and the
    anomalies and calls pages failed in DuckDB ("TIMESTAMP -> DOUBLE", strftime(DOUBLE))."""
    from tests.browser import serve_dir, visit

    run = maven_only
    assert run.one("select count(*) as n from ml.manager_anomalies where is_anomaly")["n"] == 0
    with serve_dir(run.tmp / "data" / "site") as url:
        pages = {slug: visit(url + slug) for slug in ("", "anomalii", "zvonki", "prognoz", "sdelki", "nezabudka")}
    for slug, page in pages.items():
        assert page.console_errors == [], (slug, page.console_errors[:3])
    assert "Сегодня аномалий не найдено" in pages["anomalii"].text
    assert "Звонков пока нет" in pages["zvonki"].text
    # the export names no deal: the deal and forgotten lists name each by the export's own id
    # (what the company's CRM shows), never by the warehouse's surrogate number
    from tests.support.datasets import require_datasets

    with (require_datasets(MAVEN) / MAVEN / "sales_pipeline.csv").open(newline="", encoding="utf-8") as fh:
        ids = {r["opportunity_id"] for r in csv.DictReader(fh)}
    for slug in ("sdelki", "nezabudka"):
        named = re.findall(r"Сделка № (\S+)", pages[slug].text)
        assert named and set(named) <= ids, (slug, named[:5])
    # and so does the morning's advice on the largest forgotten deal
    advice = " ".join(run.warehouse.query("select text from ml.insights")["text"].to_list())
    named = re.findall(r"сделка № (\S+) ", advice)
    assert named and set(named) <= ids, advice
