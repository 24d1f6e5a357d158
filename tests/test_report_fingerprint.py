"""When the report site is rebuilt: only when a figure, a page or the packages changed.

A refresh every 15 minutes that brought nothing new must not spend two minutes of CPU rebuilding
the same site; a changed figure or page must never be skipped. Cheap: no Node, no build.
"""

from __future__ import annotations

import hashlib
import json
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


# --- publishing: the compiled app once per project digest, each refresh with its own data ----------------


def cached_app(
    cli: EvidenceCLI, pages: tuple[str, ...] = ("", "plan-fakt", "menedzher", "menedzher/[manager]")
) -> Path:
    """An app in the cache under the project's digest, shaped as `evidence build` leaves it."""
    app = cli.app_cache / cli.project_digest()[:24]
    (app / "_app").mkdir(parents=True)
    (app / "_app" / "start.js").write_text("app code")
    (app / "index.html").write_text("<html>app shell</html>")
    for route in pages:
        meta = app / "api" / route / "evidencemeta.json"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text('{"queries": []}')
    return app


def sources_output(cli: EvidenceCLI, figures: dict[str, bytes]) -> None:
    """What `evidence sources` leaves: a Parquet file per table and the manifest naming them."""
    shutil.rmtree(cli.data_dir, ignore_errors=True)
    for table, content in figures.items():
        (cli.data_dir / "rop" / table).mkdir(parents=True)
        (cli.data_dir / "rop" / table / f"{table}.parquet").write_bytes(content)
    manifest = {"renderedFiles": {"rop": [f"static/data/rop/{t}/{t}.parquet" for t in figures]}}
    (cli.data_dir / "manifest.json").write_text(json.dumps(manifest))


def test_a_refresh_publishes_the_cached_app_with_its_own_data_and_a_folder_per_page(tmp_path: Path) -> None:
    """No Node here: with the app in the cache nothing is compiled (there is no Evidence to run)."""
    cli = project(tmp_path)
    cached_app(cli)
    sources_output(cli, {"mart_plan_fact": b"november figures", "mart_deals": b"deals"})
    index = cli.build(fingerprint="fp-1", routes=["menedzher/Иванова", "menedzher/Петров"])

    site = cli.site_dir
    assert index == site / "index.html" and cli.published_fingerprint() == "fp-1"
    for page in ("plan-fakt", "menedzher", "menedzher/Иванова", "menedzher/Петров"):
        assert (site / page / "index.html").read_text() == "<html>app shell</html>", page
    assert not (site / "menedzher" / "[manager]").exists()  # a route pattern is not a page
    files = json.loads((site / "data" / "manifest.json").read_text())["renderedFiles"]["rop"]
    plan = site / "data" / "rop" / "mart_plan_fact" / hashlib.md5(b"november figures").hexdigest()
    assert f"static/data/rop/mart_plan_fact/{plan.name}/mart_plan_fact.parquet" in files
    assert (plan / "mart_plan_fact.parquet").read_bytes() == b"november figures"

    # the next refresh: new figures under a new address, nothing of the old data left
    sources_output(cli, {"mart_plan_fact": b"december figures"})
    cli.build(fingerprint="fp-2", routes=["menedzher/Иванова"])
    published = sorted(p.relative_to(site / "data").as_posix() for p in (site / "data").rglob("*.parquet"))
    fresh = hashlib.md5(b"december figures").hexdigest()
    assert published == [f"rop/mart_plan_fact/{fresh}/mart_plan_fact.parquet"]
    assert not (site / "menedzher" / "Петров").exists()  # a manager gone from the data has no page left
    assert cli.published_fingerprint() == "fp-2"


def test_a_changed_page_needs_a_new_app_and_old_apps_are_evicted(tmp_path: Path) -> None:
    cli = project(tmp_path)
    cached_app(cli)
    sources_output(cli, {"mart_plan_fact": b"figures"})
    cli.build()
    kept = []
    for n in range(4):  # four more versions of the pages, each with its app
        (cli.project / "pages" / "index.md").write_text(f"# Директор {n}\n")
        kept.append(cached_app(cli))
        cli.build()
    apps = sorted(p.name for p in cli.app_cache.iterdir() if p.is_dir())
    assert apps == sorted(p.name for p in kept[-3:])  # the newest three stay
    (cli.project / "pages" / "index.md").write_text("# Директор, новая\n")
    # no app for these pages, and no Evidence in this fake project to compile one: the build fails
    # saying so, and the published site stays
    with pytest.raises(EvidenceError):
        cli.build(fingerprint="new")
    assert (cli.site_dir / "index.html").read_text() == "<html>app shell</html>"
    assert cli.published_fingerprint() is None
