"""One way for the ML stages' asset checks to report what they found.

Why shared: on-call reads every failed check the same way (the first problems named, the rest
counted, an error severity), whichever stage wrote it.
"""

from __future__ import annotations

from typing import Any

from dagster import AssetCheckResult, AssetCheckSeverity

MAX_LISTED = 10  # problems named in the evaluation; the rest counted


def check_result(problems: list[str], checked: int, what: str) -> AssetCheckResult:
    """Passed when `problems` is empty; else an error naming the first problems after `what`."""
    metadata: dict[str, Any] = {"rows_checked": checked, "problems": len(problems)}
    if not problems:
        return AssetCheckResult(passed=True, metadata=metadata)
    listed = "; ".join(problems[:MAX_LISTED]) + (
        f"; и ещё {len(problems) - MAX_LISTED}" if len(problems) > MAX_LISTED else ""
    )
    return AssetCheckResult(
        passed=False, severity=AssetCheckSeverity.ERROR, description=f"{what}: {listed}", metadata=metadata
    )
