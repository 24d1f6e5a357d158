"""When the report site is rebuilt: only when a figure, a page or the packages changed.

A refresh every 15 minutes that brought nothing new must not spend two minutes of CPU rebuilding
the same site; a changed figure or page must never be skipped. Cheap: no Node, no build.
"""

from __future__ import annotations

import shutil
import time
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from assets.report import data_fingerprint
from resources.evidence import EvidenceCLI, EvidenceError


def frames() -> dict[str, pl.DataFrame]:
    return {
        "mart_plan_fact": pl.DataFrame(
            {"month": [date(2026, 12, 1)] * 2, "manager_name": ["Иванова", "Петров"], "actual_rub": [100.0, 250.0]}
        ),
        "source_status": pl.DataFrame(
            {
                "source": ["bitrix24", "direct"],
                "status": ["ok", "ok"],
                "attempted_at": [datetime(2026, 12, 2, 9, 0)] * 2,
                "last_success_at": [datetime(2026, 12, 2, 9, 0)] * 2,
                "attempted_text": ["02.12.2026 12:00"] * 2,
                "last_success_text": ["02.12.2026 12:00"] * 2,
            }
        ),
    }


def test_the_same_figures_in_another_order_need_no_rebuild() -> None:
    again = frames()
    again["mart_plan_fact"] = again["mart_plan_fact"].reverse()
    assert data_fingerprint(again) == data_fingerprint(frames())


def test_one_changed_figure_rebuilds() -> None:
    changed = frames()
    changed["mart_plan_fact"] = changed["mart_plan_fact"].with_columns(
        pl.when(pl.col("manager_name") == "Петров").then(251.0).otherwise(pl.col("actual_rub")).alias("actual_rub")
    )
    assert data_fingerprint(changed) != data_fingerprint(frames())
    # a row moved from one manager to the other is a change too, though the column's sum is the same
    swapped = frames()
    swapped["mart_plan_fact"] = swapped["mart_plan_fact"].with_columns(pl.Series("actual_rub", [250.0, 100.0]))
    assert data_fingerprint(swapped) != data_fingerprint(frames())


def test_a_refresh_that_only_moved_the_load_times_needs_no_rebuild_but_a_stale_source_does() -> None:
    later = frames()
    later["source_status"] = later["source_status"].with_columns(
        pl.lit(datetime(2026, 12, 2, 9, 15)).alias("attempted_at"),
        pl.lit("02.12.2026 12:15").alias("attempted_text"),
        pl.lit("02.12.2026 12:15").alias("last_success_text"),
    )
    assert data_fingerprint(later) == data_fingerprint(frames())
    stale = frames()
    stale["source_status"] = stale["source_status"].with_columns(
        pl.Series("status", ["ok", "failed"]),
    )
    assert data_fingerprint(stale) != data_fingerprint(frames())


def test_a_new_empty_table_or_column_rebuilds() -> None:
    more = frames()
    more["mart_channel"] = pl.DataFrame(schema={"channel": pl.Utf8})
    assert data_fingerprint(more) != data_fingerprint(frames())
    wider = frames()
    wider["mart_plan_fact"] = wider["mart_plan_fact"].with_columns(pl.lit(None, dtype=pl.Float64).alias("bonus_rub"))
    assert data_fingerprint(wider) != data_fingerprint(frames())


def project(tmp_path: Path) -> EvidenceCLI:
    root = tmp_path / "project"
    (root / "pages").mkdir(parents=True)
    (root / "sources" / "rop").mkdir(parents=True)
    (root / "package-lock.json").write_text('{"lockfileVersion": 3}')
    (root / "pages" / "index.md").write_text("# Директор\n")
    (root / "sources" / "rop" / "mart_plan_fact.sql").write_text("select * from mart_plan_fact\n")
    return EvidenceCLI(project_dir=str(root), work_dir=str(tmp_path / "work"), build_dir=str(tmp_path / "site"))


def test_a_changed_page_query_or_package_changes_the_project_digest_and_the_data_file_does_not(
    tmp_path: Path,
) -> None:
    cli = project(tmp_path)
    first = cli.project_digest()
    (cli.project / "sources" / "rop" / "rop.duckdb").write_bytes(b"data of any day")
    (cli.project / "node_modules").mkdir()
    (cli.project / "node_modules" / "x.js").write_text("installed")
    assert cli.project_digest() == first
    (cli.project / "pages" / "index.md").write_text("# Директор\n\nВыручка\n")
    second = cli.project_digest()
    assert second != first
    (cli.project / "sources" / "rop" / "mart_plan_fact.sql").write_text("select 1\n")
    third = cli.project_digest()
    assert third != second
    (cli.project / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": {}}')
    assert cli.project_digest() != third


def test_only_a_published_site_with_its_fingerprint_counts(tmp_path: Path) -> None:
    cli = project(tmp_path)
    assert cli.published_fingerprint() is None
    cli.site_dir.mkdir()
    cli.fingerprint_file.write_text("abc\n")
    assert cli.published_fingerprint() is None  # no index.html: nothing is published to keep
    (cli.site_dir / "index.html").write_text("<html></html>")
    assert cli.published_fingerprint() == "abc"
    assert not cli.fingerprint_file.is_relative_to(cli.site_dir)  # never served with the site


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_a_timed_out_command_stops_its_children_too(tmp_path: Path) -> None:
    """`evidence build` runs Vite as a child: a timeout must not leave it running."""
    cli = project(tmp_path)
    marker = tmp_path / "child-still-ran"
    script = f"(sleep 3; touch {marker}) & sleep 30"
    started = time.monotonic()
    with pytest.raises(EvidenceError, match="timed out after 1 s"):
        cli._run(["sh", "-c", script], 1, "evidence build", cwd=tmp_path)
    assert time.monotonic() - started < 10
    time.sleep(3.5)
    assert not marker.exists()
