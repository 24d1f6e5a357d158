"""The world on disk: Bitrix24 answers as JSON under `bitrix24/`, the CSV sheets, `world_meta.json`.

Written byte-for-byte the same for the same world (compact JSON one record a line, minimal CSV
quoting, `\n` line ends), so a world folder can be compared and cached by its content.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the model imports this module to write itself
    from demo.world.model import World

ENTITY_FILES = (
    "users",
    "departments",
    "categories",
    "statuses",
    "leads",
    "deals",
    "activities",
    "companies",
    "stage_history_deals",
    "stage_history_leads",
    "calls",
    "tasks",
)
PLAN_COLUMNS = ("month", "manager_id", "pipeline_id", "amount_rub", "deal_count", "bonus_threshold_pct", "bonus_rub")
RATE_COLUMNS = ("date", "char_code", "nominal", "value")
ANOMALY_COLUMNS = ("day", "manager_id", "metric", "description", "kind", "subject_type", "subject_id", "event")
META_FILE = "world_meta.json"


def write_world(world: World, out_dir: Path) -> Path:
    """Write every file of `world` into `out_dir` (created)."""
    out_dir = Path(out_dir)
    (out_dir / "bitrix24").mkdir(parents=True, exist_ok=True)
    for name in ENTITY_FILES:
        rows = getattr(world, name)
        body = "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in rows) + "\n]\n"
        (out_dir / "bitrix24" / f"{name}.json").write_text(body if rows else "[]\n", encoding="utf-8")
    write_csv(out_dir / "plan.csv", PLAN_COLUMNS, world.plan)
    write_csv(out_dir / "cbr_rates.csv", RATE_COLUMNS, [{**r, "value": f"{r['value']:.4f}"} for r in world.rates])
    write_csv(out_dir / "anomalies_truth.csv", ANOMALY_COLUMNS, world.anomalies)
    (out_dir / META_FILE).write_text(json.dumps(world.meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return out_dir


def write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Comma-separated, quoted only where a value needs it (as a spreadsheet export would)."""

    def cell(v: Any) -> str:
        s = "" if v is None else str(v)
        return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s

    lines = [",".join(columns)] + [",".join(cell(r[c]) for c in columns) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_meta(world_dir: Path) -> dict[str, Any] | None:
    """The world's `world_meta.json`, or None when the folder holds no finished world."""
    path = Path(world_dir) / META_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def read_world_fields(world_dir: Path) -> dict[str, Any]:
    """Everything `World(...)` needs, read back from a written world (CSV values typed again)."""
    world_dir = Path(world_dir)
    meta = json.loads((world_dir / META_FILE).read_text(encoding="utf-8"))
    ents = {n: json.loads((world_dir / "bitrix24" / f"{n}.json").read_text(encoding="utf-8")) for n in ENTITY_FILES}

    def read_csv(name: str) -> list[dict[str, str]]:
        with open(world_dir / name, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    plan = [
        {
            "month": r["month"],
            "manager_id": int(r["manager_id"]),
            "pipeline_id": int(r["pipeline_id"]),
            "amount_rub": int(r["amount_rub"]),
            "deal_count": int(r["deal_count"]),
            "bonus_threshold_pct": int(r["bonus_threshold_pct"]),
            "bonus_rub": int(r["bonus_rub"]),
        }
        for r in read_csv("plan.csv")
    ]
    rates = [
        {"date": r["date"], "char_code": r["char_code"], "nominal": int(r["nominal"]), "value": float(r["value"])}
        for r in read_csv("cbr_rates.csv")
    ]
    anomalies = [
        {**r, "manager_id": int(r["manager_id"]) if r["manager_id"] else None} for r in read_csv("anomalies_truth.csv")
    ]
    return dict(
        size=meta["size"],
        seed=meta["seed"],
        today=date.fromisoformat(meta["today"]),
        start=date.fromisoformat(meta["start"]),
        timezone=meta["timezone"],
        plan=plan,
        rates=rates,
        anomalies=anomalies,
        **ents,
    )
