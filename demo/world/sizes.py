"""How big a world is: S for tests, M for `make run`, L (ten times M) for benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Size = Literal["S", "M", "L"]


@dataclass(frozen=True)
class SizeSpec:
    """History length, departments (kind, name, managers) and rate multipliers."""

    months_back: int
    departments: tuple[tuple[str, str, int], ...]
    deal_scale: float
    lead_scale: float
    activity_scale: float
    hire_fire: bool
    zero_activity_anomalies: int
    lost_spikes: int
    big_wins: int
    cpa_spikes: int
    budget_overruns: int
    no_lead_days: int
    response_blowouts: int
    conversion_drops: int


_M_DEPARTMENTS = (
    ("new", "Отдел продаж «Москва»", 9),
    ("new", "Отдел продаж «Регионы»", 8),
    ("corp", "Отдел корпоративных продаж и тендеров", 7),
)

SIZES: dict[str, SizeSpec] = {
    "S": SizeSpec(
        months_back=4,
        departments=(("new", "Отдел продаж «Москва»", 3), ("corp", "Отдел корпоративных продаж и тендеров", 2)),
        deal_scale=1.5,
        lead_scale=1.5,
        activity_scale=1.0,
        hire_fire=False,
        zero_activity_anomalies=2,
        lost_spikes=1,
        big_wins=1,
        cpa_spikes=1,
        budget_overruns=1,
        no_lead_days=1,
        response_blowouts=1,
        conversion_drops=1,
    ),
    "M": SizeSpec(
        months_back=24,
        departments=_M_DEPARTMENTS,
        deal_scale=1.0,
        lead_scale=1.0,
        activity_scale=1.0,
        hire_fire=True,
        zero_activity_anomalies=8,
        lost_spikes=3,
        big_wins=3,
        cpa_spikes=3,
        budget_overruns=2,
        no_lead_days=3,
        response_blowouts=3,
        conversion_drops=1,
    ),
    "L": SizeSpec(
        months_back=24,
        departments=tuple((k, f"{n} №{g}", c) for g in range(1, 11) for (k, n, c) in _M_DEPARTMENTS),
        deal_scale=1.0,
        lead_scale=1.0,
        activity_scale=1.0,
        hire_fire=True,
        zero_activity_anomalies=40,
        lost_spikes=15,
        big_wins=15,
        cpa_spikes=15,
        budget_overruns=10,
        no_lead_days=15,
        response_blowouts=15,
        conversion_drops=5,
    ),
}


def size_spec(size: str) -> SizeSpec:
    """The spec of `size`, or a clear error naming the allowed ones."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    return SIZES[size]
