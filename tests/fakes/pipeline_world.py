"""A pipeline's deals leaving one stage, made by hand (mart_stage_exits' columns), for the pipeline
anomaly tests and benchmarks/pipeline_anomalies.py.

Pipeline 1 "Повторные продажи", stage "Согласование условий" → "Счёт выставлен": managers 1-9 about
1.5 exits a weekday each, LONE (the busiest) about 4; 85 % move on. A fall over the last `fall_days`
days: "spread", every manager's deals move on at `fall_share` (a price list everyone sends);
"lone", LONE's deals all die while the others' go on as usual (one person's collapse).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

PIPELINE, LONE = 1, 10
MANAGERS = range(1, 11)
USUAL_SHARE = 0.85


def pipeline_exits(
    days: list[date], seed: int, fall: str | None = None, fall_days: int = 4, fall_share: float = 0.5
) -> pl.DataFrame:
    """Exits on each of `days` (weekdays, in order); the fall, if any, over the last `fall_days`."""
    if fall not in (None, "spread", "lone"):
        raise ValueError(f"fall must be 'spread', 'lone' or None, not {fall!r}")
    rng = np.random.default_rng(seed)
    falling = set(days[-fall_days:]) if fall else set()
    rows, deal = [], 100_000
    for d in days:
        for m in MANAGERS:
            for _ in range(int(rng.poisson(4.0 if m == LONE else 1.5))):
                deal += 1
                p = USUAL_SHARE
                if d in falling and fall == "spread":
                    p = fall_share
                if d in falling and fall == "lone" and m == LONE:
                    p = 0.0
                rows.append(
                    {
                        "deal_id": deal,
                        "entry_number": 2,
                        "manager_id": m,
                        "pipeline_id": PIPELINE,
                        "pipeline_name": "Повторные продажи",
                        "stage_id": "C1:TERMS",
                        "stage_name": "Согласование условий",
                        "stage_sort": 20,
                        "next_stage_name": "Счёт выставлен",
                        "exited_day": d,
                        "advanced": bool(rng.random() < p),
                    }
                )
    return pl.DataFrame(rows)


def pipeline_share(exits: pl.DataFrame, through: date, n: int = 40) -> float:
    """The share (%) of the pipeline's last `n` deals leaving the stage up to `through` that moved on."""
    last = exits.filter(pl.col("exited_day") <= through).sort("exited_day", "deal_id").tail(n)
    return 100 * sum(last["advanced"].to_list()) / n
