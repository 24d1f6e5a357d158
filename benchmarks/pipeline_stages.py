"""Wall-clock of the main job (`make run`'s command) by stage, on a fresh warehouse and Dagster home.

Runs the same CLI command as `make run` in a subprocess, then reads the step timings back from that
run's Dagster event log. Prints one line per stage and the total; nothing is asserted.

    .venv/bin/python -m benchmarks.pipeline_stages --size M --today 2026-11-23
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance

ROOT = Path(__file__).resolve().parent.parent
STAGE_OF_STEP = {
    "bitrix24_raw": "ingest (dlt: demo world + portal → raw_bitrix24)",
    "plan_raw": "ingest (dlt: plan sheet)",
    "cbr_raw": "ingest (dlt: CBR rates, XML_daily)",
    "direct_raw": "ingest (dlt: Yandex.Direct reports)",
    "vk_raw": "ingest (dlt: VK Ads statistics)",
    "onec_raw": "ingest (dlt: 1C export files)",
    "telephony_raw": "ingest (dlt: telephony export files)",
    "warehouse_dbt": "transform (dbt build)",
    "forecast_month_end": "ml: forecast (Prophet + CatBoost)",
    "manager_anomalies": "ml: anomalies (IForest)",
    "insights": "insights",
    "report_site": "report (Evidence)",
}


def step_seconds(home: Path) -> dict[str, float]:
    """Seconds per step of the latest run in `home`, from STEP_START/STEP_SUCCESS events."""
    instance = DagsterInstance.from_config(str(home))
    run = instance.get_runs(limit=1)[0]
    starts: dict[str, float] = {}
    out: dict[str, float] = {}
    kinds = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
    for entry in instance.all_logs(run.run_id, of_type=kinds):
        step = entry.step_key
        assert step is not None, "STEP_* events always name their step"
        if entry.dagster_event_type == DagsterEventType.STEP_START:
            starts[step] = entry.timestamp
        else:
            out[step] = entry.timestamp
    return {k: out[k] - starts[k] for k in out if k in starts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default=os.environ.get("DEMO_SIZE", "M"), choices=["S", "M", "L"])
    parser.add_argument("--today", required=True)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="rop-bench-"))
    (work / "home").mkdir()
    shutil.copy(ROOT / "deploy" / "local" / "dagster.yaml", work / "home" / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(work / "home"),
        "DATA_DIR": str(work / "data"),
        "DEMO_SIZE": args.size,
        "DEMO_TODAY": args.today,
    }
    cmd = [
        str(Path(sys.executable).parent / "dagster"),
        "asset",
        "materialize",
        "-m",
        "definitions",
        "--select",
        "*",
        "--partition",
        args.today,
    ]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    total = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        print(f"run failed after {total:.1f} s")
        return 1
    steps = step_seconds(work / "home")
    by_stage: dict[str, float] = defaultdict(float)
    order = list(STAGE_OF_STEP)
    for step, seconds in sorted(steps.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99):
        by_stage[STAGE_OF_STEP.get(step, step)] += seconds
    print(f"world {args.size}, today {args.today}")
    for stage, seconds in by_stage.items():
        print(f"  {stage:<52} {seconds:7.1f} s")
    overhead = total - sum(steps.values())
    print(f"  {'process start, definitions load, run bookkeeping':<52} {overhead:7.1f} s")
    print(f"  {'total (wall clock)':<52} {total:7.1f} s")
    if args.keep:
        print(f"data kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
