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
    TODAY,
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
    # every Maven sale goes to an account that bought before, so every agent's repeat share is the
    # same 100 %: «Апселл-Гуру» would go to all 30 and single nobody out
    months = run.warehouse.query(
        "select month, count(*) as ranked, min(repeat_share_pct) as lo, max(repeat_share_pct) as hi, "
        "count(*) filter (where is_upsell_guru) as gurus from marts.mart_manager_ranking group by month"
    ).to_dicts()
    level = [m for m in months if m["ranked"] > 1 and m["lo"] == m["hi"]]
    assert level and all(m["gurus"] == 0 for m in level), level[:3]


@pytest.mark.datasets
def test_pages_read_on_a_company_without_calls_or_anomalies(maven_only):
    """No telephony, no calls in the export, no anomaly on the day: tables the site exports empty. Their
    date columns once reached the browser as numbers (Evidence wrote all-null dates as DOUBLE), and the
    anomalies and calls pages failed in DuckDB ("TIMESTAMP -> DOUBLE", strftime(DOUBLE))."""
    from tests.browser import WIDE_TABLES_PROBE, serve_dir, stray_spaces, visit

    run = maven_only
    assert run.one("select count(*) as n from ml.manager_anomalies where is_anomaly")["n"] == 0
    from tests.support.datasets import require_datasets

    with (require_datasets(MAVEN) / MAVEN / "sales_pipeline.csv").open(newline="", encoding="utf-8") as fh:
        deals = list(csv.DictReader(fh))
    ids = {r["opportunity_id"] for r in deals}
    # the agent with the most open deals (no stage closed): his page must list them
    open_by_agent: dict[str, int] = {}
    for r in deals:
        if r["deal_stage"] in ("Prospecting", "Engaging"):
            open_by_agent[r["sales_agent"]] = open_by_agent.get(r["sales_agent"], 0) + 1
    agent = max(open_by_agent, key=lambda a: (open_by_agent[a], a))
    # the last month with lost deals, and how many: the funnel page opens on it
    lost_months: dict[str, int] = {}
    for r in deals:
        if r["deal_stage"] == "Lost" and r["close_date"]:
            lost_months[r["close_date"][:7]] = lost_months.get(r["close_date"][:7], 0) + 1
    last_lost = max(lost_months)

    slugs = (
        "",
        "anomalii",
        "zvonki",
        "prognoz",
        "sdelki",
        "nezabudka",
        "voronka",
        "stendap",
        "plan-fakt",
        "komanda",
        "finansy",
        "istochniki",
    )
    with serve_dir(run.tmp / "data" / "site") as url:
        pages = {slug: visit(url + slug, probe=WIDE_TABLES_PROBE) for slug in slugs}
        pages["agent"] = visit(url + "menedzher/" + agent.replace(" ", "%20"), probe=WIDE_TABLES_PROBE)
    for slug, page in pages.items():
        assert page.console_errors == [], (slug, page.console_errors[:3])
        assert page.probed == [], (slug, "columns hidden behind a sideways scroll at 1280 px", page.probed)
        assert stray_spaces(page.text) == [], (slug, "a space before punctuation", stray_spaces(page.text))
        assert "01.01.1970" not in page.text, (slug, "a missing date shown as the Unix epoch")
    # nobody was scored on the day (the export's managers stopped in 2017): not "no anomalies"
    assert run.one(f"select count(*) as n from ml.manager_anomalies where as_of_day = date '{TODAY}'")["n"] == 0
    assert "Сегодня аномалий не найдено" not in pages["anomalii"].text + pages[""].text
    assert "модель никого не оценивала" in pages["anomalii"].text
    assert "Сегодня модель никого не оценивала" in pages[""].text
    assert "Звонков пока нет" in pages["zvonki"].text
    # no plan sheet: no "plan of 0 ₽", no "100 % due by today", no bonus; the actual alone
    for slug in ("", "plan-fakt", "stendap", "agent"):
        text = pages[slug].text
        assert "плана нет" in text, slug
        for plan_word in ("План месяца", "Должно быть к сегодня", "Премия", "Осталось до плана"):
            assert plan_word not in text, (slug, plan_word)
    # no leads in the export: no "0 new leads"; no telephony: no "norm met on 0 days"
    assert "Новых лидов" not in pages[""].text
    assert "Звонков в данных нет" in pages["agent"].text and "Норма —" not in pages["agent"].text
    assert "Звонков и задач в данных нет" in pages["komanda"].text and "Дней с нормой" not in pages["komanda"].text
    assert "Пропущено и не перезвонили" not in pages["zvonki"].text  # not "0 missed" without any call
    # no 1C and no leads: no payment figures, and the reconciliation's CRM leads are a dash, never 0
    assert "Оплат из 1С нет" in pages["finansy"].text and "Платежей" not in pages["finansy"].text
    months = re.findall(r"^\d{2}\.\d{4}\t(.*)$", pages["finansy"].text, flags=re.M)
    assert months and all(row.split("\t")[1] == "-" for row in months), months[:3]
    assert "Лид → сделка" not in pages["istochniki"].text and "(none)" not in pages["istochniki"].text
    # his open deals are listed by their export ids (they have no title and no amount), with no
    # dead "Открыть" link (the export has no CRM address) and no "0 ₽" sum
    agent_deals = re.findall(r"Сделка № (\S+)", pages["agent"].text)
    assert agent_deals and set(agent_deals) <= ids, pages["agent"].text[:2000]
    assert "Открытых сделок нет" not in pages["agent"].text
    assert f"Сделок в работе\n{open_by_agent[agent]}" in re.sub(
        r"[ \t\u00a0]*\n+[ \t\u00a0]*", "\n", pages["agent"].text
    )
    assert "Открыть" not in pages["agent"].text and "Открыть" not in pages["sdelki"].text
    assert "Суммы у открытых сделок в CRM не указаны" in pages["agent"].text
    # an export without stage history still has its lost deals: the funnel page shows the last
    # month's, counted from the CSV
    funnel = re.sub(r"\s+", " ", pages["voronka"].text)
    assert f"{last_lost[5:]}.{last_lost[:4]}" in funnel
    assert f"Не указана {lost_months[last_lost]} " in funnel, funnel[-600:]
    assert "проигранных сделок нет" not in funnel
    # the export names no deal: the deal and forgotten lists name each by the export's own id
    # (what the company's CRM shows), never by the warehouse's surrogate number
    for slug in ("sdelki", "nezabudka"):
        named = re.findall(r"Сделка № (\S+)", pages[slug].text)
        assert named and set(named) <= ids, (slug, named[:5])
    # and so does the morning's advice on the largest forgotten deal
    advice = " ".join(run.warehouse.query("select text from ml.insights")["text"].to_list())
    named = re.findall(r"сделка № (\S+) ", advice)
    assert named and set(named) <= ids, advice
