"""A real company with amoCRM alone (the demo amoCRM portal as its account).

One module per configuration so that parallel workers (`make test`) take them side by side; what they
share (the run, the assertions, the S world) is in tests/support/real_company.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.support.real_company import (
    SEED,
    TODAY,
    Run,
    assert_no_demo_world,
    assert_whole_graph_built,
    whole_run,
)

pytestmark = pytest.mark.slow  # the whole graph: not in `make test-fast`


@pytest.fixture(scope="module")
def amocrm_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, Any]]:
    from demo.amocrm_portal import DEFAULT_TOKEN, AmoCRMPortal
    from demo.world import generate

    portal = AmoCRMPortal(world=generate("S", TODAY, SEED), rate_limit=None)
    portal.start()
    try:
        env = {"AMOCRM_BASE_URL": portal.base_url, "AMOCRM_ACCESS_TOKEN": DEFAULT_TOKEN, "CBR_API_URL": "off"}
        yield whole_run(tmp_path_factory.mktemp("amocrm_only"), env), portal
    finally:
        portal.stop()


def test_amocrm_only_builds_everything_from_the_crm_alone(amocrm_only):
    from demo.amocrm_portal import WON

    run, portal = amocrm_only
    assert run.result.success, f"failed steps: {run.failed_steps()}"
    assert_whole_graph_built(run, "raw_amocrm/leads")
    assert_no_demo_world(run, "raw_amocrm")
    won = [lead for lead in portal.leads.values() if lead["status_id"] == WON]
    got = run.one("select count(*) as n, sum(amount_rub) as rub from marts.mart_deals where is_won")
    assert got["n"] == len(won)
    assert Decimal(str(got["rub"])) == sum(Decimal(lead["price"]) for lead in won)
    assert run.one("select count(*) as n from marts.mart_deals")["n"] == len(portal.leads)
