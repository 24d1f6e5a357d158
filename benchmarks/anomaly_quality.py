"""Anomaly quality on the demo world's ground truth: precision and recall per kind and overall, per
event and per day, and how many days a week the head of sales would get a false alert.

The world's marts are built by dbt (benchmarks/anomaly_world.py); every working day of its history
(after the first 120 days, so every subject has a history) is scored as the asset scores it, and the
flags are compared with anomalies_truth.csv:
- per day: a flagged (day, subject) is right when the truth has an anomaly of that subject that day;
  recall per day is the share of the truth's (day, subject) rows flagged;
- per event: an injected event (a day, or the days of a burnout month / budget overrun) is found
  when any of its days is flagged for its subject; an alarm is a run of flags of one subject with
  gaps of at most 2 working days, right when any of its days is in the truth for that subject.
  An alarm's kind is read from the KPI that flagged it, so precision is given per kind too;
- false-alert days per week: working days with at least one wrong flag, per 5 working days.
The pipelines (their stage conversions) are scored too; the world injects no pipeline-wide fall, so
a pipeline flag is a wrong alarm, and their count is printed on its own.

Detectors compared on the same KPI deviations: the product's robust z-score (assets/anomalies/model),
pyod's Isolation Forest and ECOD (the managers' and channels' day KPIs, without stage conversions)
fitted each day on the trailing 60 working days of the subject type's deviation vectors (their own
contamination threshold, 1 %), and, with --legacy PATH, the model
this replaced (a copy of its model.py: IForest over manager-day habits, fixed 2 % quantile).

    .venv/bin/python -m benchmarks.anomaly_quality [--size M] [--today 2026-11-23] [--detectors robust_z,iforest,ecod]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

CACHE = Path(__file__).resolve().parent.parent / "data" / "benchmarks"
WARMUP_DAYS = 120  # calendar days from the world's start before scoring begins
KIND_OF_METRIC = {
    ("activities_total", 1): "zero_activity",
    ("activities_total", 10): "burnout",
    ("calls_out", 1): "zero_activity",
    ("lost_count", 1): "lost_spike",
    ("median_response_minutes", 1): "response_blowout",
    ("avg_deal_rub", 1): "big_win",
    ("stage_conversion", 1): "stage_conversion_drop",
    ("leads", 1): "no_leads",
    ("spend_rub", 8): "budget_overrun",
    ("spend_rub", 1): "cpa_spike",
    ("cpl_rub", 1): "cpa_spike",
    ("cpl_rub", 8): "budget_overrun",
}
KINDS = [
    "zero_activity",
    "burnout",
    "lost_spike",
    "big_win",
    "stage_conversion_drop",
    "response_blowout",
    "no_leads",
    "cpa_spike",
    "budget_overrun",
]


def load(path: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The marts the asset reads (mart_manager_daily, mart_channel, mart_stage_exits), through the
    product's Warehouse."""
    from resources.warehouse import Warehouse

    warehouse = Warehouse(url=f"duckdb:///{path}")
    return (
        warehouse.query("select * from marts.mart_manager_daily"),
        warehouse.query("select * from marts.mart_channel"),
        warehouse.query("select * from marts.mart_stage_exits"),
    )


def robust_z(daily: pl.DataFrame, channels: pl.DataFrame, exits: pl.DataFrame, days: list[date]) -> pl.DataFrame:
    from assets.anomalies.model import score_days

    return score_days(daily, channels, days, exits)


def pyod_detector(name: str, daily: pl.DataFrame, channels: pl.DataFrame, days: list[date]) -> pl.DataFrame:
    """The same KPI deviations (signed z per KPI) as vectors; a pyod model per day and subject type,
    fitted on the trailing 60 working days, flags by its own 1 % contamination threshold."""
    import numpy as np
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest

    from assets.anomalies.kpis import channel_panel, history_start, manager_panel
    from assets.anomalies.model import HISTORY_NEEDED, KPIS, kpi_scores

    start = history_start(days[0], HISTORY_NEEDED + 60)
    out = []
    for subject_type, panel in (
        ("manager", manager_panel(daily, start, days[-1])),
        ("channel", channel_panel(channels, start, days[-1])),
    ):
        kpis = [k for k in KPIS if k.subject_type == subject_type and k.panel == "daily"]
        long = pl.concat([kpi_scores(panel, k) for k in kpis], how="vertical_relaxed").with_columns(
            pl.format("{}_{}", "metric", "window_days").alias("feature")
        )
        wide = long.pivot(on="feature", index=["day", "subject_id"], values="z").fill_null(0.0).sort("day")
        feats = [c for c in wide.columns if c not in ("day", "subject_id")]
        top = long.sort("severity", descending=True).group_by("day", "subject_id").first()
        all_days = wide["day"].unique().sort().to_list()
        x_all = wide.select(feats).to_numpy()
        day_col = wide["day"].to_numpy()
        for day in days:
            k = all_days.index(day) if day in all_days else -1
            if k < 20:
                continue
            train = (day_col >= np.datetime64(all_days[max(0, k - 60)])) & (day_col <= np.datetime64(day))
            today = day_col == np.datetime64(day)
            model = (
                IForest(n_estimators=100, contamination=0.01, random_state=0, n_jobs=1)
                if name == "iforest"
                else ECOD(contamination=0.01)
            )
            model.fit(x_all[train])
            flags = model.decision_function(x_all[today]) > model.threshold_
            out.append(
                wide.filter(pl.col("day") == day)
                .select(pl.col("day").alias("as_of_day"), "subject_id")
                .with_columns(pl.lit(subject_type).alias("subject_type"), pl.Series("is_anomaly", flags))
            )
        if out:
            out[-1] = out[-1]
        tops = top.select(
            pl.col("day").alias("as_of_day"), "subject_id", pl.col("metric").alias("top_metric"), "window_days"
        )
        out = [
            o.join(tops, on=["as_of_day", "subject_id"], how="left") if "top_metric" not in o.columns else o
            for o in out
        ]
    return pl.concat(out, how="vertical_relaxed")


def legacy(path: Path, daily: pl.DataFrame, days: list[date]) -> pl.DataFrame:
    """The replaced model (a copy of its model.py at `path`): manager rows only, its own flag."""
    spec = importlib.util.spec_from_file_location("legacy_anomalies", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = [module.score_day(daily, day) for day in days]
    frame = pl.concat([r for r in rows if r.height], how="vertical_relaxed")
    return frame.select(
        "as_of_day",
        pl.lit("manager").alias("subject_type"),
        pl.col("manager_id").cast(pl.Utf8).alias("subject_id"),
        "is_anomaly",
        "top_metric",
        pl.lit(1, dtype=pl.Int64).alias("window_days"),
    )


def evaluate(flags: pl.DataFrame, truth: list[dict[str, Any]], days: list[date]) -> dict[str, Any]:
    """Per-day and per-event precision and recall (overall and per kind), false-alert days a week."""
    scored = set(days)
    truth = [t for t in truth if date.fromisoformat(t["day"]) in scored]
    truth_days = {(date.fromisoformat(t["day"]), t["subject_type"], str(t["subject_id"])): t for t in truth}
    flagged = flags.filter(pl.col("is_anomaly"))
    hits = [((r["as_of_day"], r["subject_type"], str(r["subject_id"])), r) for r in flagged.iter_rows(named=True)]
    day_tp = sum(1 for key, _ in hits if key in truth_days)
    found_days = {key for key, _ in hits if key in truth_days}
    events: dict[str, list[tuple[date, str, str]]] = defaultdict(list)
    kind_of_event: dict[str, str] = {}
    for key, t in truth_days.items():
        events[t["event"]].append(key)
        kind_of_event[t["event"]] = t["kind"]
    found_events = {e for e, keys in events.items() if any(k in found_days for k in keys)}
    # alarms: runs of one subject's flags with gaps of at most 2 working days
    index = {d: i for i, d in enumerate(sorted(scored))}
    by_subject: dict[tuple[str, str], list[tuple[int, dict]]] = defaultdict(list)
    for key, row in hits:
        by_subject[(key[1], key[2])].append((index[key[0]], row))
    alarms: list[tuple[bool, str]] = []
    for (stype, sid), items in by_subject.items():
        items.sort(key=lambda x: x[0])
        run: list[tuple[int, dict]] = []
        for item in [*items, (10**9, {})]:
            if run and item[0] - run[-1][0] > 3:
                right = any((sorted(scored)[i], stype, sid) in truth_days for i, _ in run)
                first = run[0][1]
                kind = KIND_OF_METRIC.get((str(first.get("top_metric")), int(first.get("window_days") or 1)), "other")
                alarms.append((right, kind))
                run = []
            run.append(item)
    wrong_days = {key[0] for key, _ in hits if key not in truth_days}
    per_kind = {}
    for kind in KINDS:
        kind_events = [e for e in events if kind_of_event[e] == kind]
        kind_days = [k for k, t in truth_days.items() if t["kind"] == kind]
        kind_alarms = [right for right, k in alarms if k == kind]
        per_kind[kind] = {
            "events": len(kind_events),
            "event_recall": _ratio(sum(e in found_events for e in kind_events), len(kind_events)),
            "day_recall": _ratio(sum(k in found_days for k in kind_days), len(kind_days)),
            "alarms": len(kind_alarms),
            "alarm_precision": _ratio(sum(kind_alarms), len(kind_alarms)),
        }
    return {
        "flags": len(hits),
        "day_precision": _ratio(day_tp, len(hits)),
        "day_recall": _ratio(len(found_days), len(truth_days)),
        "events": len(events),
        "event_recall": _ratio(len(found_events), len(events)),
        "alarms": len(alarms),
        "event_precision": _ratio(sum(right for right, _ in alarms), len(alarms)),
        "false_alert_days_per_week": len(wrong_days) / (len(scored) / 5),
        "alert_days_share": len({key[0] for key, _ in hits}) / len(scored),
        "per_kind": per_kind,
        "wrong_by_metric": _count(
            f"{r.get('top_metric')}/{r.get('window_days')}" for key, r in hits if key not in truth_days
        ),
        "pipeline_flags": sum(1 for key, _ in hits if key[1] == "pipeline"),
        "pipeline_wrong_days": len({key[0] for key, _ in hits if key[1] == "pipeline" and key not in truth_days}),
    }


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for i in items:
        out[i] += 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _fmt(x: float | None) -> str:
    return "  –  " if x is None else f"{x:5.2f}"


def report(name: str, result: dict[str, Any], seconds: float) -> None:
    print(
        f"\n== {name} ({seconds:.0f} s): {result['flags']} flags, {result['alarms']} alarms, {result['events']} events"
    )
    print(
        f"per event: precision {_fmt(result['event_precision'])}, recall {_fmt(result['event_recall'])} | "
        f"per day: precision {_fmt(result['day_precision'])}, recall {_fmt(result['day_recall'])} | "
        f"false-alert days a week {result['false_alert_days_per_week']:.2f}, "
        f"days with any alert {100 * result['alert_days_share']:.0f} %"
    )
    print(f"{'kind':18} events  event recall  day recall  alarms  alarm precision")
    for kind, k in result["per_kind"].items():
        print(
            f"{kind:18} {k['events']:6}  {_fmt(k['event_recall']):>12}  {_fmt(k['day_recall']):>10}  "
            f"{k['alarms']:6}  {_fmt(k['alarm_precision']):>15}"
        )
    print("wrong flags by KPI/window:", result["wrong_by_metric"])
    print(
        f"pipeline flags: {result['pipeline_flags']} (wrong days {result['pipeline_wrong_days']}; the world injects "
        "no pipeline-wide fall, so every one would be a false alarm)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M", choices=["S", "M", "L"])
    parser.add_argument("--today", default="2026-11-23")
    parser.add_argument("--detectors", default="robust_z,iforest,ecod")
    parser.add_argument("--legacy", type=Path, help="a copy of the replaced assets/anomalies/model.py")
    args = parser.parse_args()

    from benchmarks.anomaly_world import build
    from demo.world import generate

    today = date.fromisoformat(args.today)
    started = time.perf_counter()
    path = build(CACHE, args.size, today)
    world = generate(args.size, today, 42)
    print(f"world {args.size} through {today}: warehouse {path.name} ({time.perf_counter() - started:.0f} s)")
    daily, channels, exits = load(path)
    from assets.anomalies.kpis import working_days

    days = working_days(date.fromordinal(world.start.toordinal() + WARMUP_DAYS), today)
    print(f"scored working days: {len(days)} ({days[0]} .. {days[-1]})")
    runs: list[tuple[str, Any]] = []
    for name in args.detectors.split(","):
        if name == "robust_z":
            runs.append((name, lambda: robust_z(daily, channels, exits, days)))
        elif name in ("iforest", "ecod"):
            runs.append((name, lambda name=name: pyod_detector(name, daily, channels, days)))
    if args.legacy:
        runs.append(("legacy (IForest, 2 % quantile)", lambda: legacy(args.legacy, daily, days)))
    for name, run in runs:
        t0 = time.perf_counter()
        flags = run()
        report(name, evaluate(flags, world.anomalies, days), time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
