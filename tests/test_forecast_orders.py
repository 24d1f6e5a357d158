"""The orders part (expected orders still to come × mean order value) on hand-made shops worked out by hand.

Shop 1: two orders every day since 1 January 2023, one of 50 ₽ and one of 150 ₽ (mean 100 ₽). As of
15 June 2025 (30-day month): 15 days to come × 2 orders × 100 ₽ = 3 000 ₽.

Shop 2: on weekdays 3 orders a day, on Saturdays and Sundays 1, every order 200 ₽. As of 10 March 2025:
21 days to come (11–31 March), of which 15 weekdays and 6 weekend days (15, 16, 22, 23, 29, 30):
(15 × 3 + 6 × 1) = 51 orders × 200 ₽ = 10 200 ₽.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from assets.forecast.model import Parts, orders_remaining
from assets.forecast.orders import estimate

D = date


def _shop(first: date, last: date, orders_on: dict[int, list[float]]) -> pl.DataFrame:
    """Won orders, each its own deal created and won the same day; `orders_on[weekday]` their amounts."""
    rows = []
    day = first
    while day <= last:
        for amount in orders_on[day.weekday()]:
            rows.append((len(rows) + 1, 1, day, day, True, amount))
        day += timedelta(days=1)
    return pl.DataFrame(
        rows,
        schema=["deal_id", "pipeline_id", "created_day", "closed_day", "is_won", "amount_rub"],
        orient="row",
    )


def test_even_shop_two_orders_a_day_of_100_on_average() -> None:
    deals = _shop(D(2023, 1, 1), D(2025, 6, 30), {k: [50.0, 150.0] for k in range(7)})
    found = estimate(deals, D(2025, 6, 15))
    assert found is not None
    assert found.mean_order_rub == pytest.approx(100.0)
    assert found.remaining_orders == pytest.approx(30.0, rel=1e-6)
    assert found.month_multiplier == pytest.approx(1.0)
    assert found.remaining_rub == pytest.approx(3000.0, rel=1e-6)


def test_weekday_profile_is_learned() -> None:
    week = {k: [200.0] * (3 if k < 5 else 1) for k in range(7)}
    deals = _shop(D(2022, 1, 1), D(2025, 3, 31), week)
    found = estimate(deals, D(2025, 3, 10))
    assert found is not None
    # the ridge pulls each weekday's coefficient a little towards Monday's: within 1 %
    assert found.remaining_orders == pytest.approx(51.0, rel=0.01)
    assert found.remaining_rub == pytest.approx(10200.0, rel=0.01)


def test_nothing_after_the_as_of_day_is_read() -> None:
    """A flood of big orders after the as-of day, and lost deals, change nothing."""
    deals = _shop(D(2023, 1, 1), D(2025, 6, 15), {k: [50.0, 150.0] for k in range(7)})
    later = pl.DataFrame(
        {
            "deal_id": [10_001, 10_002, 10_003],
            "pipeline_id": [1, 1, 1],
            "created_day": [D(2025, 6, 16), D(2025, 6, 20), D(2025, 6, 1)],
            "closed_day": [D(2025, 6, 16), D(2025, 6, 20), D(2025, 6, 10)],
            "is_won": [True, True, False],  # the third is lost before the as-of day: not an order
            "amount_rub": [1e6, 1e6, 1e6],
        }
    )
    with_later = pl.concat([deals, later])
    assert orders_remaining(with_later, D(2025, 6, 15)) == pytest.approx(orders_remaining(deals, D(2025, 6, 15)))
    assert orders_remaining(with_later, D(2025, 6, 15)) == pytest.approx(3000.0, rel=1e-6)


def test_too_little_history_or_no_deals_gives_no_part() -> None:
    deals = _shop(D(2025, 6, 1), D(2025, 6, 30), {k: [100.0] for k in range(7)})
    assert estimate(deals, D(2025, 6, 15)) is None  # 15 days of orders
    assert orders_remaining(None, D(2025, 6, 15)) is None  # a company without a deals mart
    assert estimate(_shop(D(2023, 1, 1), D(2025, 6, 30), {k: [100.0] for k in range(7)}), D(2025, 6, 30)) is None


def test_the_part_joins_the_weighed_parts() -> None:
    import numpy as np

    parts = Parts(
        as_of_day=D(2025, 6, 15),
        mtd_rub=1000.0,
        history_days=900,
        remaining_days=15,
        prophet_rub=900.0,
        prophet_totals=np.full(10, 900.0),
        catboost_rub=1100.0,
        pipeline=None,
        orders_rub=3000.0,
    )
    assert parts.components() == {"prophet": 900.0, "catboost": 1100.0, "orders": 3000.0}
