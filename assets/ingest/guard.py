"""A source that fails is reported, and the rest of the graph still builds from what the others loaded.

Dagster abandons every step downstream of a failed step, so one unreachable API (the CBR in a closed
network, an ad cabinet on a bad day) would stop the warehouse, the forecast and the site. Instead an
ingest asset runs its load through `load_or_report`: on success it records the source as fresh; on
failure it records the error in `ops.source_status` (keeping the time of the last good load), tells
the run's log, and hands its tables to the downstream steps as they are (their materialization says
`refreshed: false` and why). The source's `source_refreshed` check (assets/ingest/checks.py) then
fails with ERROR severity and fails the run: on-call hears, the failed step names that source alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import polars as pl
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue

from resources.settings import load_settings
from resources.warehouse import Warehouse

STATUS_SCHEMA = "ops"
STATUS_TABLE = "source_status"
STATUS_COLUMNS: dict[str, pl.DataType] = {
    "source": pl.Utf8(),
    "status": pl.Utf8(),
    "attempted_at": pl.Datetime(),
    "last_success_at": pl.Datetime(),
    "error": pl.Utf8(),
    "rows_loaded": pl.Int64(),
}
MODE_TABLE = "warehouse_mode"


class WarehouseModeMismatch(RuntimeError):
    """A real company's run found the demo world's data in its warehouse (or the other way round)."""


_URL_SECRET = re.compile(r"(/rest/\d+/)[^/\s]+")  # a Bitrix24 webhook's code in a URL path


def _secrets() -> list[str]:
    settings = load_settings()
    values = [
        settings.bitrix24_webhook_url,
        settings.amocrm_access_token,
        settings.direct_token,
        settings.vk_ads_token,
        settings.phone_hash_salt,
        settings.openai_api_key,
        settings.telegram_bot_token,
    ]
    return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]


def describe_error(exc: BaseException) -> str:
    """The root cause's first line, with no secret in it (tokens, webhook codes, passwords in URLs)."""
    root: BaseException = exc
    seen = {id(root)}
    # Down the explicit causes (and implicit contexts that were not suppressed with `from None`): dlt
    # wraps a source's error in two layers that name the pipeline step, not what went wrong.
    while (nxt := root.__cause__ or (None if root.__suppress_context__ else root.__context__)) is not None and id(
        nxt
    ) not in seen:
        seen.add(id(nxt))
        root = nxt
    first = next((line.strip() for line in str(root).splitlines() if line.strip()), "")
    text = f"{type(root).__name__}: {first}" if first else type(root).__name__
    for secret in _secrets():
        text = text.replace(secret, "***")
    text = re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)
    return _URL_SECRET.sub(r"\1***", text)[:500]


def read_status(warehouse: Warehouse, source: str | None = None) -> pl.DataFrame:
    """Rows of ops.source_status (all sources, or one); empty before the first load."""
    if not warehouse.table_exists(STATUS_SCHEMA, STATUS_TABLE):
        return pl.DataFrame(schema=STATUS_COLUMNS)
    sql = f'select * from "{STATUS_SCHEMA}"."{STATUS_TABLE}"'
    frame = warehouse.query(sql + " where source = ?", [source]) if source else warehouse.query(sql)
    return frame.select([pl.col(c).cast(t, strict=False) for c, t in STATUS_COLUMNS.items()])


def record_status(
    warehouse: Warehouse, source: str, error: str | None, rows_loaded: int | None, now: datetime | None = None
) -> None:
    """One row per source: the last attempt, and the last success (kept across failures)."""
    now = (now or datetime.now(UTC)).replace(tzinfo=None)
    previous = read_status(warehouse, source)
    last_success = previous["last_success_at"][0] if previous.height else None
    row = {
        "source": source,
        "status": "failed" if error else "ok",
        "attempted_at": now,
        "last_success_at": last_success if error else now,
        "error": error,
        "rows_loaded": rows_loaded,
    }
    frame = pl.DataFrame([row], schema=STATUS_COLUMNS)
    warehouse.replace_rows(STATUS_SCHEMA, STATUS_TABLE, frame, where={"source": source})


def _rows(result: Any) -> int:
    value = getattr(result, "metadata", {}).get("rows_loaded") if hasattr(result, "metadata") else None
    value = getattr(value, "value", value)
    return int(value) if isinstance(value, int | float) else 0


def ensure_mode(warehouse: Warehouse, demo: bool) -> None:
    """The warehouse holds one company: the demo world, or the real one. A first `make run` loads the
    demo into data/warehouse.duckdb; the company's own run on the same file must refuse, not mix them."""
    mode = "demo" if demo else "company"
    if warehouse.table_exists(STATUS_SCHEMA, MODE_TABLE):
        held = warehouse.query(f'select mode from "{STATUS_SCHEMA}"."{MODE_TABLE}"')["mode"].to_list()
        if held and held[0] != mode:
            where = warehouse.url if warehouse.kind == "duckdb" else "the PostgreSQL warehouse"
            raise WarehouseModeMismatch(
                f"{where} holds the {'demo world' if held[0] == 'demo' else 'real company'}'s data and this run is "
                f"{'the demo' if demo else 'a real company (a CRM is configured)'}: nothing of one may reach the "
                "other. Point WAREHOUSE_URL (or DATA_DIR) elsewhere, or delete the demo's data (make clean)."
            )
        if held:
            return
    warehouse.replace_rows(STATUS_SCHEMA, MODE_TABLE, pl.DataFrame({"mode": [mode]}), where={})


def _utc(moment: datetime) -> datetime:
    """ops.source_status keeps UTC times without a zone (the warehouse's timestamp type)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def load_or_report(
    context: AssetExecutionContext,
    source: str,
    warehouse: Warehouse,
    load: Callable[[], Iterable[Any]],
) -> Iterator[Any]:
    """Yield what `load` yields; if it fails, record why and yield every selected table unrefreshed.

    A warehouse holding the other mode's data fails the step outright (nothing may build on a mix)."""
    ensure_mode(warehouse, load_settings().demo_mode)
    done: set[Any] = set()
    rows = 0
    try:
        for result in load():
            key = getattr(result, "asset_key", None)
            if key is not None:
                done.add(key)
            rows += _rows(result)
            yield result
    except Exception as exc:  # noqa: BLE001 - any failure of a source is reported, the graph goes on
        error = describe_error(exc)
        context.log.error(
            f"{source}: not refreshed: {error}. Its tables keep their last loaded rows; "
            f"the rest of the graph builds without it and its source_refreshed check fails."
        )
        try:
            record_status(warehouse, source, error, None)
        except Exception as status_exc:  # noqa: BLE001 - the warehouse itself is the problem: fail the step
            context.log.error(
                f"{source}: could not record the failure in {STATUS_SCHEMA}.{STATUS_TABLE}: "
                f"{describe_error(status_exc)}"
            )
            raise exc from None
        previous = read_status(warehouse, source)["last_success_at"][0]
        for key in sorted(context.selected_asset_keys - done, key=lambda k: k.to_user_string()):
            yield MaterializeResult(
                asset_key=key,
                metadata={
                    "refreshed": False,
                    "error": error,
                    "last_success_at": MetadataValue.text(str(previous) if previous else "never"),
                    # what Dagster's freshness check reads: the data is as old as the last good load
                    **({"dagster/last_updated_timestamp": MetadataValue.timestamp(_utc(previous))} if previous else {}),
                },
            )
        return
    record_status(warehouse, source, None, rows)
