"""The scopes' 80 % interval and P(plan) learned from their own past errors (assets/forecast/scope_intervals.py),
on hand-made errors whose answers are worked out here.

Two departments, A (id 1) and B (id 2), missed by these relative errors (actual / forecast − 1):
A: +0.1, −0.1, +0.1, −0.1 (sum of |e| 0.4, sum 0, 4 months); B: +0.5, +0.3 (sum of |e| 0.8, sum 0.8, 2 months).
The kind's mean |e| is 1.2 / 6 = 0.2. Scales, drawn towards it with 6 months' weight: A (0.4 + 6 × 0.2) /
(4 + 6) = 0.16, B (0.8 + 1.2) / (2 + 6) = 0.25, a department never seen 0.2. Shifts (own bias, 2 months
towards none): A 0 / 6 = 0, B 0.8 / 4 = 0.2, a new one 0.
Each error less its shift, over its scale, both without it: A's +0.1: scale (0.4 − 0.1 + 1.2) / 9 = 1/6,
shift −0.1 / 5 = −0.02: (0.1 + 0.02) × 6 = 0.72 (−0.1: −0.72); B's 0.5: scale (0.8 − 0.5 + 1.2) / 7 =
0.214286, shift 0.3 / 3 = 0.1: 0.4 / 0.214286 = 1.866667; B's 0.3: scale (0.8 − 0.3 + 1.2) / 7 = 0.242857,
shift 0.5 / 3: (0.3 − 0.166667) / 0.242857 = 0.549020.
Pooled: −0.72, −0.72, 0.549020, 0.72, 0.72, 1.866667. Six errors: the conformal level 0.9 × 7 / 6 is
past 1, so the interval spans the smallest and the largest: −0.72 and 1.866667.
A forecast at 1 000 (500 to date): [1 000 × (1 − 0.16 × 0.72); 1 000 × (1 + 0.16 × 1.866667)] =
[884.8; 1 298.67]; B at 1 000 with 900 to date: low 1 000 × (1 + 0.2 − 0.25 × 0.72) = 1 020 is above the
forecast, which stays inside: [1 000; 1 000 × (1.2 + 0.466667)] = [1 000; 1 666.67]; a new department C:
[856; 1 373.33].
P(plan) of A: the month would end at 1 000 × (1 + 0.16 r) = 884.8 (2×), 1 087.84, 1 115.2 (2×), 1 298.67:
a plan of 1 100 is reached in 3 of 6, 1 080 in 4 of 6; 400 is already reached (to date 500): 1.
"""

from datetime import date

import numpy as np
import polars as pl
import pytest

from assets.forecast.scope_intervals import LEARNED, SHARED, KindErrors, apply, learn, probability, relative_errors

AS_OF = date(2025, 10, 15)
MONTHS = [date(2025, m, 1) for m in (6, 7, 8, 9)]


def _errors() -> pl.DataFrame:
    rows = [("department", 1, m, e) for m, e in zip(MONTHS, (0.1, -0.1, 0.1, -0.1))]
    rows += [("department", 2, m, e) for m, e in zip(MONTHS[2:], (0.5, 0.3))]
    rows += [("manager", 11, m, 0.5) for m in MONTHS]  # 4 manager-months: too few to learn from
    return pl.DataFrame(rows, schema=["scope_type", "scope_id", "month", "error"], orient="row")


def _today(scope_id: int, mtd: float, plan: float | None = None, kind: str = "department") -> dict:
    return {
        "scope_type": kind,
        "scope_id": scope_id,
        "plan_rub": plan,
        "actual_mtd_rub": mtd,
        "forecast_rub": 1000.0,
        "forecast_low_rub": 990.0,  # the company's interval shared out, as allocate gives it
        "forecast_high_rub": 1010.0,
        "prob_reach_plan": None,
    }


def test_scales_and_pooled_shape_by_hand() -> None:
    learned = learn(_errors())
    assert set(learned) == {"department"}  # 4 manager-months are under MIN_ERRORS
    kind = learned["department"]
    assert kind.kind_scale == pytest.approx(0.2)
    assert (kind.scale(1), kind.scale(2), kind.scale(3)) == (
        pytest.approx(0.16),
        pytest.approx(0.25),
        pytest.approx(0.2),
    )
    assert (kind.shift(1), kind.shift(2), kind.shift(3)) == (0.0, pytest.approx(0.2), 0.0)
    assert sorted(kind.standardised) == pytest.approx([-0.72, -0.72, 0.549020, 0.72, 0.72, 1.866667], abs=1e-6)
    assert kind.bounds() == (pytest.approx(-0.72), pytest.approx(1.866667))


def test_a_larger_pool_is_read_at_the_conformal_levels() -> None:
    """19 errors −9 … 9: the upper level 0.9 × 20 / 19 = 0.947368, i.e. position 17.0526 of 0 … 18 in
    the sorted pool: 8.0526; the lower one mirrored: −8.0526 (the plain 10th / 90th percentiles are ±7.2)."""
    kind = KindErrors(1.0, {}, {}, {}, np.arange(-9.0, 10.0), 19)
    assert kind.bounds() == (pytest.approx(-8.052632, abs=1e-6), pytest.approx(8.052632, abs=1e-6))


def test_intervals_and_probabilities_by_hand() -> None:
    scoped = pl.DataFrame(
        [_today(1, 500.0, 1100.0), _today(2, 900.0), _today(3, 0.0), _today(11, 0.0, kind="manager")],
        schema_overrides={"plan_rub": pl.Float64, "prob_reach_plan": pl.Float64},  # as allocate types them
    )
    rows = {(r["scope_type"], r["scope_id"]): r for r in apply(scoped, learn(_errors())).iter_rows(named=True)}
    a, b, c = rows[("department", 1)], rows[("department", 2)], rows[("department", 3)]
    assert (a["forecast_low_rub"], a["forecast_high_rub"]) == (pytest.approx(884.8), pytest.approx(1298.67, abs=0.01))
    assert (b["forecast_low_rub"], b["forecast_high_rub"]) == (1000.0, pytest.approx(1666.67, abs=0.01))
    assert (c["forecast_low_rub"], c["forecast_high_rub"]) == (pytest.approx(856.0), pytest.approx(1373.33, abs=0.01))
    assert a["prob_reach_plan"] == pytest.approx(0.5) and b["prob_reach_plan"] is None
    assert (a["interval_method"], a["interval_months"], b["interval_months"], c["interval_months"]) == (
        LEARNED,
        4,
        2,
        0,
    )
    manager = rows[("manager", 11)]  # not learned: allocate's interval stays, and says so
    assert (manager["forecast_low_rub"], manager["forecast_high_rub"], manager["interval_method"]) == (
        990.0,
        1010.0,
        SHARED,
    )


def test_probability_reads_the_pooled_errors() -> None:
    r = np.array([-0.72, -0.72, 0.549020, 0.72, 0.72, 1.866667])
    assert probability(1000.0, 500.0, 1080.0, 0.16, r) == pytest.approx(4 / 6)
    # B's shift: 1 000 × (1.2 + 0.25 r) = 1 020 (2×), 1 337.3, 1 380 (2×), 1 666.7: a plan of 1 300, 4 of 6
    assert probability(1000.0, 900.0, 1300.0, 0.25, r, shift=0.2) == pytest.approx(4 / 6)
    assert probability(1000.0, 500.0, 400.0, 0.16, r) == 1.0  # the month to date has reached it
    assert probability(1000.0, 500.0, None, 0.16, r) is None


def test_errors_only_of_ended_months_at_the_same_horizon() -> None:
    """As of 15 October: September's forecasts of the 13th and 17th (900 and 1 100 against an actual of
    1 000: +11.1 % and −9.1 %, averaged); not the 18th (3 days away), not October (not ended), not
    September 2024 (over 12 months back), not a forecast of 0 (no relative error). August's
    forecast of 500 for a department with no revenue row: it made nothing, −100 %."""
    past = pl.DataFrame(
        [
            (date(2025, 9, 13), date(2025, 9, 1), "department", 1, 900.0),
            (date(2025, 9, 17), date(2025, 9, 1), "department", 1, 1100.0),
            (date(2025, 9, 18), date(2025, 9, 1), "department", 1, 5000.0),
            (date(2025, 10, 14), date(2025, 10, 1), "department", 1, 5000.0),
            (date(2024, 9, 15), date(2024, 9, 1), "department", 1, 5000.0),
            (date(2025, 9, 15), date(2025, 9, 1), "department", 2, 0.0),
            (date(2025, 8, 15), date(2025, 8, 1), "department", 3, 500.0),
        ],
        schema=["as_of_day", "month", "scope_type", "scope_id", "forecast_rub"],
        orient="row",
    )
    actuals = pl.DataFrame(
        {
            "month": [date(2025, 9, 1), date(2025, 9, 1), date(2024, 9, 1), date(2025, 10, 1)],
            "scope_type": ["department"] * 4,
            "scope_id": [1, 2, 1, 1],
            "actual_rub": [1000.0, 300.0, 1.0, 1.0],
        }
    )
    got = {(r["scope_id"], r["month"]): r["error"] for r in relative_errors(past, actuals, AS_OF).iter_rows(named=True)}
    assert set(got) == {(1, date(2025, 9, 1)), (3, date(2025, 8, 1))}
    assert got[(1, date(2025, 9, 1))] == pytest.approx((1000 / 900 - 1 + 1000 / 1100 - 1) / 2)
    assert got[(3, date(2025, 8, 1))] == -1.0
