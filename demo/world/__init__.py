"""The demo world: a seeded, deterministic generator of a sales company (docs/ARCHITECTURE.md "The demo world").

Why it exists: the product must run end to end on a machine with nothing configured, and the tests
need data whose true figures (and injected anomalies) are known. `generate()` builds the company in
memory; `World.write()` / `ensure_world()` lay it out as the files the demo portal serves
(Bitrix24-shaped JSON) plus the plan sheet, CBR rates and the anomalies' ground truth.

The parts, each readable alone: `base` (Moscow time, seeded streams), `sizes`, `reference` (pipelines,
stages, sources, names), `calendar`, `fx` (CBR rates), `org` (departments, managers), `absences`,
`deals`, `anomalies`, `activities`, `plan`, `records` + `history` (Bitrix24 shapes), `model` (World),
`files` (the folder layout), `generator` (the order the parts run in). The same (size, today, seed)
gives byte-identical files.
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import date
from pathlib import Path

from demo.world.base import DAY, GENERATOR_VERSION, MSK, TIMEZONE, TZ_SUFFIX, WARMUP_DAYS, format_ts, parse_ts
from demo.world.files import ENTITY_FILES, META_FILE, read_meta, read_world_fields
from demo.world.generator import generate
from demo.world.model import World
from demo.world.reference import (
    EXTRA_SOURCES,
    JUNK_REASONS,
    LEAD_STATUSES,
    LOST_REASONS,
    PIPELINES,
    PRODUCTS,
    SOURCES,
    stage_id,
)
from demo.world.sizes import SIZES, Size, SizeSpec

__all__ = [
    "DAY",
    "ENTITY_FILES",
    "EXTRA_SOURCES",
    "GENERATOR_VERSION",
    "JUNK_REASONS",
    "LEAD_STATUSES",
    "LOST_REASONS",
    "MSK",
    "PIPELINES",
    "PRODUCTS",
    "SIZES",
    "SOURCES",
    "TIMEZONE",
    "TZ_SUFFIX",
    "WARMUP_DAYS",
    "Size",
    "SizeSpec",
    "World",
    "ensure_world",
    "format_ts",
    "generate",
    "load_world",
    "parse_ts",
    "stage_id",
]


def ensure_world(out_dir: Path, size: Size = "M", today: date | None = None, seed: int = 42) -> Path:
    """Return `out_dir` holding the world for (size, today, seed), generating it if absent.

    Written atomically (a sibling temp dir renamed into place), so concurrent callers and
    interrupted runs never leave a half-written world behind.
    """
    out_dir = Path(out_dir)
    today = today or date.today()
    meta = read_meta(out_dir)
    if meta is not None:
        if (meta.get("size"), meta.get("seed"), meta.get("today"), meta.get("generator_version")) == (
            size,
            seed,
            today.isoformat(),
            GENERATOR_VERSION,
        ):
            return out_dir
        shutil.rmtree(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        generate(size, today, seed).write(tmp)
        try:
            os.rename(tmp, out_dir)
        except OSError:
            if not (out_dir / META_FILE).exists():  # lost a race only if the winner finished
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def load_world(world_dir: Path) -> World:
    """Read a written world back into memory (typed CSV values)."""
    return World(**read_world_fields(world_dir))
