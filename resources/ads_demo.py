"""The demo stand-in for the ad cabinets and the CBR: `demo.ads_portal.AdsPortal` over the demo world.

Used by the direct, vk_ads and cbr resources in demo mode only; each run starts its own server on an
ephemeral 127.0.0.1 port and stops it when its block ends.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from resources.source_files import ensure_demo_world


def demo_world_dir(fields: Any) -> Path:
    return ensure_demo_world(fields.demo_dir, fields.demo_size, fields.demo_today, fields.demo_seed)


def world_dates(world_dir: Path) -> tuple[date, date]:
    """(first day, last day) of the demo world."""
    meta = json.loads((world_dir / "world_meta.json").read_text(encoding="utf-8"))
    return date.fromisoformat(meta["start"]), date.fromisoformat(meta["today"])


@contextlib.contextmanager
def serve_demo_ads(world_dir: Path, **kwargs: Any) -> Iterator[Any]:
    from demo.ads_portal import AdsPortal  # only needed in demo mode

    portal = AdsPortal(world_dir, **kwargs)
    portal.start()
    try:
        yield portal
    finally:
        portal.stop()
