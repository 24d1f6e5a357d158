"""Session-wide pytest hooks."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest

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


@pytest.fixture(scope="session", autouse=True)
def report_app_compiled_early(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Compile the report's app in the background from the session's start when slow (whole-graph) tests
    will run: the app does not depend on any data (resources/evidence.py), and the whole-graph modules
    reach their report at about the same time, all but one of them waiting for the one compile.
    Every worker starts it; one compiles (the cache's lock), the others' threads wait and find it done.
    A failure here is ignored: the first real build then compiles and reports it in its own test."""
    if not any(item.get_closest_marker("slow") for item in request.session.items):
        yield
        return
    from resources.evidence import EvidenceCLI, EvidenceError

    cli = EvidenceCLI(work_dir=str(tmp_path_factory.mktemp("report-app") / "evidence"))

    def compile_app() -> None:
        if cli.install_needed():  # `make test` installs first; a half-installed tree is not ours to fix
            return
        try:
            with cli.locked():
                cli._prepare_workspace()
                cli.compiled_app()
        except (EvidenceError, OSError):
            pass

    thread = threading.Thread(target=compile_app, name="report-app-compile", daemon=True)
    thread.start()
    yield
    thread.join(timeout=cli.build_timeout_s)  # never leave a compile running after the session
