"""dlt source for a telephony (or call-tracking) export folder, plain dlt, no Dagster.

Format (an example file: calls_example.csv beside this one). The folder holds `calls*.csv` (header
row, `,` or `;`, UTF-8 or windows-1251), `calls*.json` (a list of objects, or {"calls": [...]}) or
`calls*.xlsx`, with these fields:

    call_id*       the PBX's unique id of the call
    started_at*    ISO 8601 with offset (2026-07-01T09:21:36+03:00); a time without offset is read in
                   the company's time zone; DD.MM.YYYY HH:MM:SS is accepted
    direction*     in | out (also incoming/outgoing, inbound/outbound, входящий/исходящий)
    status*        answered | missed (also busy, no_answer, failed, cancelled -> not answered)
    duration_sec*  talk time in seconds (0 for a missed call)
    manager_id     the CRM user id of the manager (or `manager`: a name/extension, kept as text)
    client_phone*  the client's number in any notation; HASHED ON ARRIVAL, never stored or logged:
                   sha256("<PHONE_HASH_SALT>:<digits>") with Russian 8XXXXXXXXXX / 10-digit forms
                   normalised to 7XXXXXXXXXX, so the same client hashes alike across sources
    recording_url  link to the recording (optional)

Table `calls` (dataset raw_telephony): call_id, started_at (UTC), direction, status, answered,
duration_sec, manager_id, manager, client_phone_hash, recording_url, source_file — merged on call_id.
Only new or changed files are read on a rerun. A bad row goes to raw_telephony.quarantine (file and
line/index, reason, the row with the phone number removed); a missing column stops the load.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dlt
from dlt.common.schema import TTableSchemaColumns
from dlt.sources import DltResource

from assets.ingest.exportfiles import ExportFileError, blank, changed_files, read_header_and_rows, to_int
from assets.ingest.quarantine import quarantined
from resources.settings import DEFAULT_TIMEZONE

PATTERNS = ("calls*.csv", "calls*.json", "calls*.xlsx")
REQUIRED = ("call_id", "started_at", "direction", "status", "duration_sec", "client_phone")
DIRECTIONS = {
    "in": "in",
    "incoming": "in",
    "inbound": "in",
    "входящий": "in",
    "вх": "in",
    "out": "out",
    "outgoing": "out",
    "outbound": "out",
    "исходящий": "out",
    "исх": "out",
}
STATUSES = {
    "answered": True,
    "success": True,
    "отвечен": True,
    "missed": False,
    "no_answer": False,
    "busy": False,
    "failed": False,
    "cancelled": False,
    "пропущен": False,
}
HINTS: TTableSchemaColumns = {
    "call_id": {"data_type": "text"},
    "started_at": {"data_type": "timestamp"},
    "direction": {"data_type": "text"},
    "status": {"data_type": "text"},
    "answered": {"data_type": "bool"},
    "duration_sec": {"data_type": "bigint"},
    "manager_id": {"data_type": "bigint"},
    "manager": {"data_type": "text"},
    "client_phone_hash": {"data_type": "text"},
    "recording_url": {"data_type": "text"},
    "source_file": {"data_type": "text"},
}


def normalise_phone(value: Any) -> str:
    digits = re.sub(r"\D", "", str(value))
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    elif len(digits) == 10:
        digits = "7" + digits
    if len(digits) < 5:
        raise ValueError("client_phone has fewer than 5 digits")
    return digits


def hash_phone(value: Any, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{normalise_phone(value)}".encode()).hexdigest()


def parse_started(value: Any, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            try:
                moment = datetime.strptime(text, "%d.%m.%Y %H:%M:%S")
            except ValueError:
                raise ValueError(f"started_at {value!r} is not ISO 8601 or DD.MM.YYYY HH:MM:SS") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def parse_call(raw: dict[str, Any], salt: str, tz: ZoneInfo) -> dict[str, Any]:
    if "__invalid__" in raw:
        raise ValueError(raw.get("__reason__", "not an object"))
    for column in REQUIRED:
        if blank(raw.get(column)):
            raise ValueError(f"{column} is empty")
    direction = DIRECTIONS.get(str(raw["direction"]).strip().lower())
    if direction is None:
        raise ValueError(f"direction {raw['direction']!r} is not in/out")
    status = str(raw["status"]).strip().lower()
    if status not in STATUSES:
        raise ValueError(f"status {raw['status']!r} is not one of {', '.join(STATUSES)}")
    duration = to_int(raw["duration_sec"])
    if duration < 0:
        raise ValueError(f"duration_sec {duration} is negative")
    manager_id = raw.get("manager_id")
    return {
        "call_id": str(raw["call_id"]).strip(),
        "started_at": parse_started(raw["started_at"], tz),
        "direction": direction,
        "status": status,
        "answered": STATUSES[status],
        "duration_sec": duration,
        "manager_id": None if blank(manager_id) else to_int(manager_id),
        "manager": None if blank(raw.get("manager")) else str(raw["manager"]).strip(),
        "client_phone_hash": hash_phone(raw["client_phone"], salt),
        "recording_url": None if blank(raw.get("recording_url")) else str(raw["recording_url"]).strip(),
    }


@dlt.source(name="telephony")
def telephony_source(
    export_dir: str = dlt.config.value,
    phone_hash_salt: str = dlt.secrets.value,
    company_timezone: str = DEFAULT_TIMEZONE,
) -> DltResource:
    """Calls from a telephony export folder -> raw_telephony.calls."""
    folder = Path(export_dir)
    tz = ZoneInfo(company_timezone)

    @dlt.resource(name="calls", primary_key="call_id", write_disposition="merge", columns=HINTS)
    def calls() -> Iterator[Any]:
        """Calls: direction, answered/missed, duration, manager, hashed client phone, recording link (merged on call_id)."""
        if not phone_hash_salt:
            raise ExportFileError("telephony: no phone hash salt given; refusing to load client phone numbers")
        if not folder.is_dir():
            raise ExportFileError(f"telephony export folder not found: {folder}")
        state = dlt.current.resource_state()
        for path in changed_files(folder, PATTERNS, state):
            header, rows = read_header_and_rows(path)
            missing = [c for c in REQUIRED if c not in header]
            if missing and path.suffix.lower() != ".json":  # JSON objects are checked row by row
                raise ExportFileError(
                    f"telephony file {path} lacks column(s) {', '.join(missing)}; "
                    f"it has: {', '.join(header) or '(no header)'}"
                )
            for position, raw in rows:
                try:
                    row = parse_call(raw, phone_hash_salt, tz)
                except ValueError as exc:
                    safe = {k: ("<removed>" if k == "client_phone" else v) for k, v in raw.items()}
                    yield quarantined("telephony", position, str(exc), safe)
                    continue
                row["source_file"] = path.name
                yield row

    return calls
