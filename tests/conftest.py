"""Session-wide pytest hooks."""

from __future__ import annotations

import re

from tests.support.datasets import ABSENT


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """One line saying how many dataset tests were skipped because the datasets were absent, and where
    they were looked for (the per-test skip lines are easy to miss among the others)."""
    paths: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        match = re.search(re.escape(ABSENT) + r"(.+?): set DATASETS_DIR", reason)
        if match:
            paths[match.group(1)] = paths.get(match.group(1), 0) + 1
    for path, count in paths.items():
        terminalreporter.write_line(
            f"{count} dataset test{'s' if count != 1 else ''} did not run: {ABSENT}{path} (set DATASETS_DIR)",
            yellow=True,
            bold=True,
        )


def pytest_collection_modifyitems(session, config, items) -> None:
    """Slow modules first: with `-n auto --dist loadfile` a long module picked up last would leave one
    worker alone at the end (the whole-graph ones take minutes each). Order within a module is kept."""
    first_seen = {}
    for index, item in enumerate(items):
        first_seen.setdefault(item.module.__name__, index)
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None, first_seen[item.module.__name__]))
