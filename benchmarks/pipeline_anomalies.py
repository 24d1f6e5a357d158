"""A pipeline's stage-conversion anomalies: how deep and how long a pipeline-wide fall must be to be
found, that one manager's collapse alone does not flag the pipeline, and what the pipelines add on
the M world (where the truth has no pipeline-wide fall, so every pipeline flag is a false alarm).

Hand-made worlds (tests/fakes/pipeline_world.py: one pipeline, 10 managers, about 17 deals a
weekday leaving the stage, 85 % moving on), 20 seeds each:
- spread: for the last 4 or 8 weekdays every manager's deals move on at 70 / 60 / 50 %; found when
  the pipeline is flagged on any day of the fall; beside it, how many managers' own stage
  conversions (their last 15 deals) cross the manager threshold in those days;
- lone: the busiest manager (about a quarter of the deals) loses every deal for 4 days, the rest as usual;
- steady: the 20 weekdays before the fall, any flag is a false alarm.
Each with the pipeline KPI as given (the model's by default) and the same KPI without its gate (the
share without the worst manager), to show what the gate costs and buys. The M world
(benchmarks/anomaly_world.py, built by anomaly_quality.py and cached) is scored over the same 429
working days as anomaly_quality, every subject, and evaluated by its `evaluate`.

    .venv/bin/python -m benchmarks.pipeline_anomalies [--seeds 20] [--no-m] [--window 40] [--z 4] [--gate-z 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl

CACHE = Path(__file__).resolve().parent.parent / "data" / "benchmarks"
AS_OF = date(2025, 10, 15)


def weekdays(through: date, n_days: int = 160) -> list[date]:
    return [d for d in (through - timedelta(days=k) for k in range(n_days - 1, -1, -1)) if d.weekday() < 5]


@dataclasses.dataclass(frozen=True)
class Variant:
    """The pipeline KPI as scored: the window of deals, its threshold, its gate's (None: no gate)."""

    window: int
    z_min: float | None
    gate_z: float | None

    def kpis(self) -> tuple:
        from assets.anomalies.model import KPIS

        return tuple(
            dataclasses.replace(
                k,
                share_of=self.window,
                z_min=self.z_min,
                gate=k.gate if self.gate_z is not None else None,
                gate_z=self.gate_z if self.gate_z is not None else k.gate_z,
            )
            if k.subject_type == "pipeline"
            else k
            for k in KPIS
        )


VARIANTS: dict[str, Variant] = {}


def variants() -> dict[str, Variant]:
    return VARIANTS


def score_pipelines(exits: pl.DataFrame, days: list[date], variant: Variant) -> pl.DataFrame:
    """The pipeline rows on `days`, as score_days writes them."""
    from assets.anomalies.kpis import history_start
    from assets.anomalies.model import HISTORY_NEEDED, score_panel
    from assets.anomalies.pipelines import pipeline_panel, pipeline_stage_panel

    pipelines = pipeline_panel(exits, history_start(days[0], HISTORY_NEEDED), days[-1])
    stages = pipeline_stage_panel(exits, pipelines, variant.window)
    return score_panel(pipelines, "pipeline", days, stages, variant.kpis())


def managers_crossing(exits: pl.DataFrame, days: list[date]) -> int:
    """Managers whose own stage conversion flags on any of `days` (the manager KPI, their last 15 deals)."""
    from assets.anomalies.model import score_days

    daily = exits.group_by("exited_day", "manager_id").agg(pl.len().alias("activities_total"))
    daily = daily.select(
        pl.col("exited_day").alias("day"),
        "manager_id",
        pl.format("Менеджер {}", "manager_id").alias("manager_name"),
        pl.col("activities_total").cast(pl.Int64) * 10,
        pl.lit(0).alias("lost_count"),
    )
    out = score_days(daily, None, days, exits)
    hit = out.filter(
        (pl.col("subject_type") == "manager") & pl.col("is_anomaly") & (pl.col("top_metric") == "stage_conversion")
    )
    return hit["subject_id"].n_unique()


def hand_made(seeds: int) -> None:
    from tests.fakes.pipeline_world import pipeline_exits

    days = weekdays(AS_OF)
    cases = [("spread", span, share) for span in (4, 8) for share in (0.7, 0.6, 0.5)] + [("lone", 4, 0.0)]
    print(f"\nhand-made worlds, {seeds} seeds each: share of worlds where the pipeline is flagged")
    print(f"{'fall':34} " + "  ".join(f"{name:>30}" for name in variants()) + "  managers crossing")
    steady = {name: 0 for name in variants()}
    for fall, span, share in cases:
        found = {name: 0 for name in variants()}
        crossing = 0
        for seed in range(seeds):
            exits = pipeline_exits(days, 1000 + seed, fall, span, share)
            for name, variant in variants().items():
                found[name] += bool(score_pipelines(exits, days[-span:], variant)["is_anomaly"].any())
                if fall == "spread" and span == 4 and share == 0.7:  # the 20 days before a fall: steady
                    before = days[-span - 20 : -span]
                    steady[name] += bool(score_pipelines(exits, before, variant)["is_anomaly"].any())
            crossing += managers_crossing(exits, days[-span:])
        label = (
            f"{fall} to {round(share * 100)} % for {span} days" if fall == "spread" else "one manager loses all, 4 days"
        )
        cells = "  ".join(f"{found[name] / seeds:30.2f}" for name in variants())
        print(f"{label:34} {cells}  {crossing / seeds:.1f} a world")
    cells = "  ".join(f"{steady[name] / seeds:30.2f}" for name in variants())
    print(f"{'steady 20 days (false alarm)':34} {cells}")


def m_world() -> None:
    """Every subject scored as the asset does, with each variant's pipeline KPI, against the truth."""
    from assets.anomalies.kpis import working_days
    from assets.anomalies.model import score_days
    from benchmarks.anomaly_quality import WARMUP_DAYS, evaluate, load
    from benchmarks.anomaly_world import build
    from demo.world import generate

    today = date(2026, 11, 23)
    path = build(CACHE, "M", today)
    world = generate("M", today, 42)
    daily, channels, exits = load(path)
    days = working_days(date.fromordinal(world.start.toordinal() + WARMUP_DAYS), today)
    others = score_days(daily, channels, days, exits).filter(pl.col("subject_type") != "pipeline")
    print(f"\nM world, {len(days)} working days ({days[0]} .. {days[-1]}); no pipeline-wide fall in its truth")
    for name, variant in variants().items():
        pipelines = score_pipelines(exits, days, variant)
        result = evaluate(pl.concat([others, pipelines], how="vertical_relaxed"), world.anomalies, days)
        flags = pipelines.filter(pl.col("is_anomaly"))
        listed = ", ".join(f"{d} pipeline {s}" for d, s in flags.select("as_of_day", "subject_id").iter_rows())
        print(
            f"{name:28} per event: precision {result['event_precision']:.2f}, recall {result['event_recall']:.2f}"
            f" | false-alert days a week {result['false_alert_days_per_week']:.2f} | {flags.height} pipeline flags"
            f" ({listed or '-'})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--no-m", action="store_true", help="skip the M world")
    parser.add_argument("--window", type=int, default=40, help="the pipeline's last deals (the model: 40)")
    parser.add_argument("--z", type=float, default=4.0, help="the pipeline KPI's threshold (the model: 4)")
    parser.add_argument("--gate-z", type=float, default=3.0, help="its gate's threshold (the model: 3)")
    args = parser.parse_args()
    VARIANTS[f"gated, {args.window} deals, {args.z:g}σ/{args.gate_z:g}σ"] = Variant(args.window, args.z, args.gate_z)
    VARIANTS["the same without the gate"] = Variant(args.window, args.z, None)
    started = time.perf_counter()
    hand_made(args.seeds)
    if not args.no_m:
        m_world()
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
