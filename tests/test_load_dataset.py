"""`make load-dataset DATASET=superstore`, the README's command, run as a person runs it.

The public orders end on 30 December 2017: the product must analyse them as of that day (the ML
partition, the forecast, the report), not as of the calendar's today when they have no sale at all,
and turn their dollars into rubles at the fixed rate it says it used; its pages must read without a
manager in the data. Every expected figure comes from the CSV through the csv module.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from tests.support import datasets as ds
from tests.support.datasets import require_datasets

pytestmark = [pytest.mark.slow, pytest.mark.datasets]

ROOT = Path(__file__).resolve().parents[1]
RATE = Decimal("2.5")
CENT = Decimal("0.01")


def rub(sales: Decimal) -> Decimal:
    """An order's rubles as the warehouse keeps money: the amount to the cent, its rubles to the kopeck."""
    return (sales.quantize(CENT, ROUND_HALF_UP) * RATE).quantize(CENT, ROUND_HALF_UP)


def load_dataset(root: Path, data: Path, dataset: str, *make_vars: str) -> subprocess.CompletedProcess:
    """`make load-dataset DATASET=…` as a person runs it, into `data` (its Dagster home beside it); must pass."""
    env = {
        **os.environ,
        "DATASETS_DIR": str(root),
        "DATA_DIR": str(data),
        "DAGSTER_HOME": str(data.parent / "dagster_home"),
    }
    for name in ("CBR_RATES_FILE", "AS_OF_START_DATE", "TODAY", "CBR_API_URL"):
        env.pop(name, None)
    proc = subprocess.run(
        ["make", "--no-print-directory", "load-dataset", f"DATASET={dataset}", *make_vars],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    return proc


def test_superstore_is_analysed_as_of_its_own_last_day(tmp_path: Path) -> None:
    root = require_datasets(ds.SUPERSTORE)
    # a row per order line; the deal is the order, its amount the total of its lines (rounded once)
    lines: dict[str, list[dict[str, str]]] = {}
    with (root / ds.SUPERSTORE / "sample_superstore.csv").open(encoding="cp1252", newline="") as fh:
        for r in csv.DictReader(fh):
            lines.setdefault(r["Order ID"], []).append(r)
    orders = [
        (datetime.strptime(rs[0]["Order Date"], "%m/%d/%Y").date(), rub(sum(Decimal(r["Sales"]) for r in rs)))
        for rs in lines.values()
    ]
    last = max(day for day, _ in orders)
    month_to_date = sum(amount for day, amount in orders if day.replace(day=1) == last.replace(day=1))
    data = tmp_path / "data"
    proc = load_dataset(root, data, "superstore", f"DATASET_RUB_PER_UNIT={RATE}")
    assert (
        f"superstore: 2014-01-03 … {last.isoformat()}, as of {last.isoformat()}; "
        f"amounts in USD at a fixed {RATE} ₽ per unit (DATASET_RUB_PER_UNIT)"
    ) in proc.stdout
    assert (data / "site" / "index.html").is_file()
    # a shop's orders name no manager: the team page says so instead of loading for ever
    from tests.browser import serve_dir, visit

    with serve_dir(data / "site") as url:
        team = visit(url + "komanda", wait_for_text="Менеджеров в данных нет")
        forecast = visit(url + "prognoz", wait_for_text="Прогноз выручки на конец месяца")
        plan_fact = visit(url + "plan-fakt", wait_for_text="Динамика по месяцам")
        director = visit(url)
        standup = visit(url + "stendap")
        anomalies = visit(url + "anomalii")
    for page in (director, standup, anomalies):
        assert page.console_errors == [], page.console_errors[:3]
    # no plan sheet: the actual alone, never "a plan of 0 ₽"
    for page in (director, plan_fact, standup):
        assert "плана нет" in page.text and "План месяца" not in page.text
    # the month against the same days of the month before, from the CSV: one sign, the arrow's
    previous = last.replace(month=last.month - 1)
    before = sum(amount for day, amount in orders if day.replace(day=1) == previous.replace(day=1) and day <= previous)
    change = f"{abs(month_to_date / before - 1) * 100:.1f}".replace(".", ",")
    flat = " ".join(director.text.replace("\u00a0", " ").split())
    assert f"{'▼' if month_to_date < before else '▲'} {change} %" in flat, flat[:800]
    assert "▼ -" not in flat
    assert "Без менеджера" in director.text and "Менеджеров в данных нет" in standup.text
    # 30.12.2017 is a Saturday: nobody was scored, which is not "no anomalies"
    assert "модель никого не оценивала" in anomalies.text and "аномалий не найдено" not in anomalies.text
    assert team.console_errors == [] and "Загрузка" not in team.text
    # the month's sales, under a named group rather than "null"
    assert plan_fact.console_errors == [] and "Без отдела" in plan_fact.text and "Без менеджера" in plan_fact.text
    assert "null" not in plan_fact.text.split()
    assert forecast.console_errors == [] and "30.12.2017" in forecast.text

    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    try:
        (revenue,) = con.execute("select sum(won_rub) from marts.mart_revenue_daily").fetchone()
        assert Decimal(str(revenue)).quantize(CENT) == sum(amount for _, amount in orders)
        (as_of, actual_mtd) = con.execute(
            "select as_of_day, actual_mtd_rub from ml.forecast_month_end where coalesce(scope, 'company') = 'company'"
        ).fetchone()
        assert as_of == last == date(2017, 12, 30)
        assert Decimal(str(actual_mtd)).quantize(CENT) == month_to_date
        # every order is closed and no lead exists: the morning advice has nothing to say about either
        (open_deals,) = con.execute("select count(*) from marts.mart_deals where not is_closed").fetchone()
        assert open_deals == 0
        # a deal is an order, not an order line: 5,009 orders, the last month's as many as its orders
        deals, december = con.execute(
            "select count(*), count(*) filter (where closed_month = date '2017-12-01') from marts.mart_deals"
        ).fetchone()
        assert deals == len(orders) and december == sum(day.replace(day=1) == last.replace(day=1) for day, _ in orders)
        advice = " ".join(r for (r,) in con.execute("select text from ml.insights").fetchall())
        assert advice and "забыт" not in advice.lower() and "лид" not in advice.lower(), advice
    finally:
        con.close()


def test_olist_without_amounts_says_so_and_names_its_reps(tmp_path: Path) -> None:
    """Olist's 842 won deals carry no amount and name their sales rep by a hex id; their creation date is
    not in the file. The site must say that the rubles are missing (not report a month of 0 ₽ and a
    forecast of 0 ₽ as news), name a rep by the file's id, and leave an unknown date blank."""
    root = require_datasets(ds.OLIST)
    with (root / ds.OLIST / "olist_closed_deals_dataset.csv").open(encoding="utf-8", newline="") as fh:
        deals = list(csv.DictReader(fh))
    last = max(datetime.strptime(r["won_date"][:10], "%Y-%m-%d").date() for r in deals)
    month_reps = {r["sr_id"] for r in deals if r["won_date"][:7] == last.isoformat()[:7]}
    data = tmp_path / "data"
    load_dataset(root, data, "olist")
    from tests.browser import serve_dir, visit

    with serve_dir(data / "site") as url:
        director = visit(url, wait_for_text="Отчёт на")
        plan_fact = visit(url + "plan-fakt", wait_for_text="Динамика по месяцам")
        forecast = visit(url + "prognoz", wait_for_text="Прогноз")
        deals_page = visit(url + "sdelki", wait_for_text="Сделок в работе")
    assert len(deals) == 842  # under a thousand: no digit grouping in the sentence below
    for page in (director, forecast):
        assert page.console_errors == [], page.console_errors[:3]
        assert "Ни у одной выигранной сделки в данных нет суммы" in page.text, page.text[:1500]
        assert f"Выиграно сделок за всё время: {len(deals)}." in page.text, page.text[:1500]
    # the reps of the last month, by the file's own id
    assert {f"ID {rep}" for rep in month_reps} <= {cell.strip() for cell in re.split(r"[\t\n]", plan_fact.text)}
    assert not re.search(r"ID \d{12,}", plan_fact.text + director.text)  # never the warehouse's surrogate
    assert "01.01.1970" not in deals_page.text and "выиграна" in deals_page.text
    assert "Search Failed" not in deals_page.text  # a null first date once made the table's query an array
    # the morning advice says what is missing instead of a forecast of 0 ₽
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    try:
        advice = " ".join(r for (r,) in con.execute("select text from ml.insights").fetchall())
    finally:
        con.close()
    assert "ни у одной нет суммы" in advice and "Прогноз на конец месяца — 0" not in advice, advice
