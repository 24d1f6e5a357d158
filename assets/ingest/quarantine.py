"""Malformed records go to a `quarantine` table beside the source's tables, and the load goes on.

Each row names the source, the position (file:line, report day, URL …), the reason and the raw text,
so the on-call can read `<dataset>.quarantine` and fix the input. Routed from inside the resource
with a dlt table variant (append), so it needs no extra asset.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import dlt

log = logging.getLogger(__name__)

QUARANTINE_TABLE = "quarantine"
QUARANTINE_COLUMNS = ("source", "position", "reason", "raw", "quarantined_at")


def quarantined(source: str, position: str, reason: str, raw: Any) -> Any:
    """A dlt item bound for `<dataset>.quarantine` (log one warning line too)."""
    log.warning("%s: quarantined %s: %s", source, position, reason)
    row = {
        "source": source,
        "position": position,
        "reason": reason,
        "raw": None if raw is None else str(raw)[:2000],
        "quarantined_at": datetime.now(UTC),
    }
    return dlt.mark.with_hints(
        row,
        # columns={} / primary_key=[] drop the resource's own column hints and key from this variant
        dlt.mark.make_hints(table_name=QUARANTINE_TABLE, write_disposition="append", columns={}, primary_key=[]),
        create_table_variant=True,
    )
