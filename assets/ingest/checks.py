"""`source_refreshed`: one asset check per configured source, on its main table.

It reads what `load_or_report` wrote in ops.source_status. A failed source gives a failed ERROR
evaluation (error, last good load) and then fails its own step, so the run is reported failed for
that source alone while every other step of the run, none of which depends on a check, still
builds. The check-failure and run-failure sensors tell on-call.
"""

from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetsDefinition,
    Failure,
    asset_check,
)

from assets.ingest.guard import read_status
from assets.ingest.sources import Source
from resources.warehouse import Warehouse

CHECK_NAME = "source_refreshed"


def main_table_key(source: Source, assets_def: AssetsDefinition) -> AssetKey:
    """The asset of the source's main table: where its checks (refreshed, fresh) sit."""
    return next(k for k in assets_def.keys if k.path[-1] == source.table)


def source_refreshed_check(source: Source, assets_def: AssetsDefinition) -> Any:
    """The check of `source`, on its main table."""
    key = main_table_key(source, assets_def)
    title = source.title

    @asset_check(  # type: ignore[arg-type]  # dagster accepts a generator of results; its alias names only a return
        asset=key,
        name=CHECK_NAME,
        blocking=False,
        description=f"{title}: the last load succeeded (a failure fails the run; the rest of the graph still builds).",
    )
    def _check(context: AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[AssetCheckResult]:
        status = read_status(warehouse, source.name)
        if not status.height:
            yield AssetCheckResult(passed=True, metadata={"status": "not loaded yet"})
            return
        row = status.row(0, named=True)
        last_success = str(row["last_success_at"]) if row["last_success_at"] else "never"
        metadata = {"status": row["status"], "attempted_at": str(row["attempted_at"]), "last_success_at": last_success}
        if row["status"] == "ok":
            yield AssetCheckResult(passed=True, metadata={**metadata, "rows_loaded": row["rows_loaded"] or 0})
            return
        yield AssetCheckResult(
            passed=False, severity=AssetCheckSeverity.ERROR, metadata={**metadata, "error": row["error"] or ""}
        )
        raise Failure(
            description=f"{title} was not refreshed: {row['error']} (last good load: {last_success}). "
            "Everything that does not need it was built from the other sources.",
        )

    return _check
