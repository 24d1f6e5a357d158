"""A real company with Bitrix24 alone (the demo portal as its portal; CBR off, no plan sheet).

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
    assert_no_demo_world,
    assert_revenue_is_the_portals_won_rubles,
    assert_whole_graph_built,
    whole_run,
    world_dir,  # noqa: F401 - a fixture
)

pytestmark = pytest.mark.slow  # the whole graph: not in `make test-fast`


@pytest.fixture(scope="module")
def bitrix24_only(tmp_path_factory: pytest.TempPathFactory, world_dir: Path) -> Iterator[tuple[Run, Any]]:
    from demo.portal import DemoPortal

    portal = DemoPortal(world_dir, rate_limit=None)
    with portal as url:
        yield (
            whole_run(tmp_path_factory.mktemp("bitrix24_only"), {"BITRIX24_WEBHOOK_URL": url, "CBR_API_URL": "off"}),
            portal,
        )


def test_bitrix24_only_builds_everything_from_the_crm_alone(bitrix24_only):
    run, portal = bitrix24_only
    assert run.result.success, f"failed steps: {run.failed_steps()}"
    assert_whole_graph_built(run, "raw_bitrix24/deals")
    assert_no_demo_world(run, "raw_bitrix24")
    assert_revenue_is_the_portals_won_rubles(run, portal)
    plan = run.one("select count(*) as n, sum(plan_rub) as plan from marts.mart_plan_fact")
    assert plan["n"] > 0 and not plan["plan"], "no plan sheet: plan-fact shows actuals without a plan"
    status = run.warehouse.query("select source, status from ops.source_status order by source")
    assert status.rows() == [("bitrix24", "ok")]
