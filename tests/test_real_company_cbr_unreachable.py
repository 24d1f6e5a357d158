"""A real company with Bitrix24 and the CBR address unreachable: the run fails for the CBR alone.

It is also the Bitrix24-only company (no plan sheet, no ads, 1C or telephony): one whole-graph run
checks both, since a run with the CBR switched off instead differs only in the CBR's step (the amoCRM
module checks that a source switched off leaves the run green).

One module per configuration so that parallel workers (`make test`) take them side by side; what they
share (the run, the assertions, the S world) is in tests/support/real_company.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.real_company import (
    Run,
    _free_port,
    assert_no_demo_world,
    assert_revenue_is_the_portals_won_rubles,
    assert_whole_graph_built,
    whole_run,
    world_dir,  # noqa: F401 - a fixture
)

pytestmark = pytest.mark.slow  # the whole graph: not in `make test-fast`


@pytest.fixture(scope="module")
def bitrix24_cbr_unreachable(tmp_path_factory: pytest.TempPathFactory, world_dir: Path) -> Iterator[tuple[Run, Any]]:
    from dagster import build_sensor_context

    from demo.portal import DemoPortal
    from tests.fakes.fake_telegram import FakeTelegram

    def tell_oncall(defs: Any, instance: Any) -> None:
        sensor = defs.resolve_sensor_def("asset_check_failures_to_oncall")
        with build_sensor_context(
            instance=instance, definitions=defs, resources={"telegram": defs.resources["telegram"]}
        ) as context:
            sensor(context)

    portal = DemoPortal(world_dir, rate_limit=None)
    with portal as url:
        with FakeTelegram() as tg:
            env = {
                "BITRIX24_WEBHOOK_URL": url,
                "CBR_API_URL": f"http://127.0.0.1:{_free_port()}",  # nobody listens
                "TELEGRAM_BOT_TOKEN": "123456:real-company-token",
                "TELEGRAM_CHAT_ID": "1001",
                "TELEGRAM_ONCALL_CHAT_ID": "2002",
                "TELEGRAM_API_URL": tg.url,
            }
            run = whole_run(tmp_path_factory.mktemp("cbr_unreachable"), env, after=tell_oncall)
            run.oncall = tg.to("2002")
            yield run, portal


def test_unreachable_cbr_fails_the_run_for_cbr_alone_and_the_rest_builds(bitrix24_cbr_unreachable):
    run, portal = bitrix24_cbr_unreachable
    assert not run.result.success, "a configured source that failed must not leave the run green"
    assert run.failed_steps() == ["raw_cbr__rates_source_refreshed"]
    assert_whole_graph_built(run, "raw_bitrix24/deals")
    assert_no_demo_world(run, "raw_bitrix24", cbr=True)
    checks = {
        (e.event_specific_data.asset_key.to_user_string(), e.event_specific_data.check_name): e.event_specific_data
        for e in run.result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    cbr = checks[("raw_cbr/rates", "source_refreshed")]
    assert not cbr.passed and "127.0.0.1" in cbr.metadata["error"].value
    assert checks[("raw_bitrix24/deals", "source_refreshed")].passed
    errors = [k for k, c in checks.items() if not c.passed and c.severity.value == "ERROR"]
    assert errors == [("raw_cbr/rates", "source_refreshed")]
    # what follows from it is a warning, not a second failure: deals in dollars have no ruble amount yet
    warnings = {k for k, c in checks.items() if not c.passed and c.severity.value == "WARN"}
    assert warnings <= {("deal", "not_null_deal_amount_rub")}
    status = dict(run.warehouse.query("select source, status from ops.source_status").rows())
    assert status == {"bitrix24": "ok", "cbr": "failed"}
    # on-call hears once, about the CBR alone, with the error's first line
    oncall_errors = [m.visible_text for m in run.oncall if "Серьёзность: ERROR" in m.visible_text]
    assert len(oncall_errors) == 1, [m.visible_text for m in run.oncall]
    assert "raw_cbr/rates / source_refreshed" in oncall_errors[0] and "127.0.0.1" in oncall_errors[0]
    # the site, opened in Chromium, says the CBR is stale
    from tests.browser import serve_dir, visit

    with serve_dir(run.tmp / "data" / "site") as url:
        page = visit(url, wait_for_text="Источники данных")
    assert "Не обновились источники: Курсы ЦБ" in " ".join(page.text.split()), page.text[-1500:]
    assert not page.foreign_requests
    assert_revenue_is_the_portals_won_rubles(run, portal)
    plan = run.one("select count(*) as n, sum(plan_rub) as plan from marts.mart_plan_fact")
    assert plan["n"] > 0 and not plan["plan"], "no plan sheet: plan-fact shows actuals without a plan"
