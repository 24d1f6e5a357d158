"""The `warehouse` stage: dbt models (staging -> intermediate -> marts) as Dagster assets, dbt tests as checks.

dagster-dbt reads the dbt manifest (dbt_project/target/manifest.json) when the definitions load.
target/ is not committed, so `make setup` runs `dbt parse`; under `dagster dev` the manifest is
rebuilt on every load (`prepare_if_dev`); and when it is still missing (a fresh clone started some
other way) `build_defs()` parses once then. Nothing here runs at import time.
"""

import contextlib
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    Definitions,
    MetadataValue,
    Output,
    get_dagster_logger,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_dbt.dbt_project import using_dagster_dev
from dbt.adapters.base import BaseAdapter
from packaging import version

from resources.settings import load_settings
from resources.warehouse import Warehouse

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
GROUP = "warehouse"
PARTIAL_PARSE = "partial_parse.msgpack"
# The dbt installed beside this Python (the venv's bin/ is often not on PATH: `.venv/bin/dagster dev`).
DBT_EXECUTABLE = (
    str(Path(sys.executable).parent / "dbt")
    if (Path(sys.executable).parent / "dbt").exists()
    else (shutil.which("dbt") or "dbt")
)

# Constructing a DbtProject only reads dbt_project.yml; it neither parses nor connects.
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)


class WarehouseTranslator(DagsterDbtTranslator):
    """Models keyed by their bare name (["mart_plan_fact"]) in group `warehouse`.

    Sources keep the keys set in their `meta.dagster.asset_key` (the dlt assets' keys), so the
    lineage runs from the CRM through dlt into dbt as one graph.
    """

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return AssetKey([dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return GROUP


def translator() -> WarehouseTranslator:
    # users and users__uf_department are both loaded by the dlt `users` asset: two dbt sources,
    # one Dagster key.
    return WarehouseTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_duplicate_source_asset_keys=True)
    )


class VenvDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, told the version of the dbt-core installed beside this Python.

    Why: dagster-dbt asks the executable (`dbt --version`: a process that imports dbt, about 3 s of CPU)
    once per resource, that is once per run and per manifest parse, every 15 minutes. When the executable
    is this environment's own `dbt`, its version is the installed dbt-core package's; any other
    executable is still asked.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version


def dbt_cli_resource() -> DbtCliResource:
    """The `dbt` resource for definitions.py (profiles.yml lives inside the project)."""
    return VenvDbtCliResource(
        project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE
    )


def dbt_vars() -> dict[str, str]:
    """dbt vars from the settings contract: the business-day time zone and the CRM's web address.

    The CRM card links in the marts are built from the portal's origin (scheme and host of the
    webhook URL, never its secret path); the demo keeps dbt_project.yml's placeholder.
    """
    settings = load_settings()
    out = {"company_timezone": settings.company_timezone}
    if settings.bitrix24_webhook_url is not None:
        parsed = urlparse(settings.bitrix24_webhook_url.get_secret_value())
        out["crm_base_url"] = f"{parsed.scheme}://{parsed.netloc}"
    return out


def manifest_is_stale(project: DbtProject) -> bool:
    """True when any model, macro, test or project file is newer than the manifest (or it is missing)."""
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    root = Path(project.project_dir)
    files = [root / "dbt_project.yml", root / "profiles.yml"]
    for folder in ("models", "macros", "tests", "seeds", "snapshots"):
        files.extend(p for p in (root / folder).rglob("*") if p.is_file())
    return any(p.exists() and p.stat().st_mtime > built for p in files)


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the dbt subprocess and restore them afterwards.

    DbtCliResource hands dbt a copy of os.environ, and profiles.yml reads the warehouse's
    connection from it (Warehouse.dbt_env()); the run executor is in-process and serial.
    """
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def warehouse_database(env: Mapping[str, str]) -> str:
    """The database name dbt gives relations for this warehouse: the DuckDB file's stem, or the PG database."""
    return Path(env["DUCKDB_PATH"]).stem if env.get("DBT_TARGET") == "duckdb" else env.get("PG_DBNAME", "")


def manifest_database(project: DbtProject) -> str | None:
    """The database the manifest's models were parsed for (None without a manifest or a model)."""
    if not project.manifest_path.exists():
        return None
    nodes = json.loads(project.manifest_path.read_text()).get("nodes", {})
    return next((n["database"] for n in nodes.values() if n.get("resource_type") == "model"), None)


def manifest_project(warehouse_env: Mapping[str, str] | None = None) -> DbtProject:
    """The project whose manifest is (to be) parsed for this warehouse's database.

    The shared `target/manifest.json` belongs to the first database it was parsed for (`make setup`:
    the default warehouse); another database gets its own `target/by-database/<name>/`. Why: re-parsing
    the shared manifest for whichever warehouse loaded the definitions last made two processes (two
    Dagster code locations, two test workers) take turns rewriting it under each other, and the loser's
    row counts resolved against the other database's relations.
    """
    env = dict(warehouse_env or {})
    database = warehouse_database(env) if env else None
    if database is None or manifest_database(dbt_project) in (None, database):
        return dbt_project
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in database) or "_"
    return DbtProject(project_dir=DBT_PROJECT_DIR, target_path=Path("target") / "by-database" / safe)


def ensure_manifest(project: DbtProject = dbt_project, warehouse_env: Mapping[str, str] | None = None) -> Path:
    """Make sure the manifest exists and is current: re-parse under `dagster dev`, or when missing or stale.

    This is `DbtProject.prepare_if_dev()` plus the fresh-clone case, run with the venv's dbt
    (dagster-dbt's own preparer looks for `dbt` on PATH). `dbt parse` reads no warehouse, but it
    records the warehouse's database name in every relation, and the row counts and column schemas
    are read through those relations: so it parses for the configured warehouse (`warehouse_env`);
    pick the project with `manifest_project`. The parse writes into a private folder and the manifest
    is then moved into place in one step, so a process reading it never sees half a file.
    """
    env = dict(warehouse_env or {})
    mismatched = bool(env) and manifest_database(project) != warehouse_database(env)
    if using_dagster_dev() or manifest_is_stale(project) or mismatched:
        final = Path(project.project_dir) / project.target_path
        final.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".parse-", dir=Path(project.project_dir) / "target"))
        try:
            if (final / PARTIAL_PARSE).exists():  # dbt re-reads only the files changed since
                shutil.copy2(final / PARTIAL_PARSE, scratch / PARTIAL_PARSE)
            with patched_environ(env):
                VenvDbtCliResource(
                    project_dir=str(project.project_dir),
                    profiles_dir=str(project.profiles_dir),
                    dbt_executable=DBT_EXECUTABLE,
                ).cli(["parse", "--quiet"], target_path=scratch).wait()
            os.replace(scratch / "manifest.json", project.manifest_path)
            with contextlib.suppress(FileNotFoundError):
                os.replace(scratch / PARTIAL_PARSE, final / PARTIAL_PARSE)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return project.manifest_path


def release_adapter(adapter: BaseAdapter | None) -> None:
    """Close the connections the in-process dbt adapter opened to read the metadata.

    Why: on DuckDB the adapter keeps the database file open in this process after the build, and the
    next step of an in-process run (the ML stage through `Warehouse`) could not open the file then
    ("a different configuration than existing connections").
    """
    if adapter is None:
        return
    adapter.cleanup_connections()
    if adapter.type() == "duckdb":
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        with contextlib.suppress(Exception):  # no environment: nothing was opened
            DuckDBConnectionManager.env().close()
        DuckDBConnectionManager.close_all_connections()


def with_row_counts(events: Iterable[Any], manifest: Mapping[str, Any], warehouse: Warehouse) -> Iterator[Any]:
    """The dbt events, each built table's with its row count (`dagster/row_count`); views get none.

    What dagster-dbt's `fetch_row_counts()` does, without its wait: that one hands the events to a
    thread pool and polls the pool's empty queue in a loop that never sleeps (`dagster._core.utils.imap`),
    so a whole core spins for as long as dbt builds: every 15 minutes, on a two-core box where dbt
    itself needs that core. Here, on PostgreSQL each table is counted as its event arrives; on DuckDB
    the events are gathered until the dbt process has exited (no other process may open the file while
    dbt writes it: dagster-dbt waits too) and every table is counted in one query. Either way through
    the warehouse resource; a failed count costs the counts, never the run or an event.
    """
    if warehouse.kind != "duckdb":
        for event in events:
            yield from _counted([event], manifest, warehouse)
        return
    built: list[Any] = []
    failure: Exception | None = None
    try:
        built.extend(events)
    except Exception as exc:  # a failed model: what was built is still reported, then the failure
        failure = exc
    yield from _counted(built, manifest, warehouse)
    if failure is not None:
        raise failure


def _counted(built: list[Any], manifest: Mapping[str, Any], warehouse: Warehouse) -> Iterator[Any]:
    """`built` with the row count on each table's event, counted in one query."""
    nodes = manifest.get("nodes", {})
    tables: dict[int, str] = {}
    for i, event in enumerate(built):
        if isinstance(event, (Output, AssetMaterialization)) and "unique_id" in event.metadata:
            node = nodes.get(event.metadata["unique_id"].value, {})
            if node.get("relation_name") and node.get("config", {}).get("materialized") != "view":
                tables[i] = node["relation_name"]
    counts: dict[int, int] = {}
    if tables:
        sql = " union all ".join(f"select {i} as i, count(*) as n from {name}" for i, name in tables.items())
        try:
            counts = {int(i): int(n) for i, n in warehouse.query(sql).rows()}
        except Exception as exc:  # a table gone since (a failed model yields no event): no counts this time
            get_dagster_logger().warning(f"row counts skipped: {exc}")
    storage = manifest.get("metadata", {}).get("adapter_type")
    for i, event in enumerate(built):
        if i in counts:
            counted: dict[str, Any] = {"dagster/row_count": MetadataValue.int(counts[i])}
            if storage:
                counted["dagster/storage_kind"] = MetadataValue.text(storage)
            yield event.with_metadata({**event.metadata, **counted})
        else:
            yield event


def build_dbt_assets(project: DbtProject = dbt_project) -> AssetsDefinition:
    """The dbt project as one multi-asset (every model an asset, every test a check)."""

    env = Warehouse(url=load_settings().warehouse).dbt_env()
    if project is dbt_project:
        project = manifest_project(env)

    @dbt_assets(
        manifest=ensure_manifest(project, env),
        project=project,
        name="warehouse_dbt",
        dagster_dbt_translator=translator(),
    )
    def warehouse_dbt(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
        """`dbt build` of the selected models against the configured warehouse.

        Each table's row count goes to Dagster (`dagster/row_count`, `with_row_counts`; views get
        none: counting would run their query). The column schema (`dagster/column_schema`) is the one
        the models' yml documents, on the asset definitions. Fetching it from the warehouse on every run
        (`.fetch_column_metadata()`) doubled this asset's time on M (79 s -> 170 s, measured while
        dagster-dbt's busy wait below was still in), on a refresh every 15 minutes, so it is left out.
        """
        args = ["build", "--vars", json.dumps(dbt_vars())]
        env = warehouse.dbt_env()
        with patched_environ(env):
            invocation = dbt.cli(args, context=context)
            events: Iterable[Any] = invocation.stream()
            if manifest_database(project) == warehouse_database(env):
                events = with_row_counts(events, invocation.manifest, warehouse)
            else:  # a warehouse other than the one the definitions loaded for: its relations would not resolve
                context.log.warning(
                    "row counts skipped: the dbt manifest was parsed for database "
                    f"{manifest_database(project)!r}, this run writes {warehouse_database(env)!r} (reload the definitions)"
                )
            try:
                yield from events
            finally:
                release_adapter(invocation.adapter)

    return warehouse_dbt


def build_defs() -> Definitions:
    """The warehouse stage's definitions (resources `dbt` and `warehouse` come from definitions.py)."""
    return Definitions(assets=[build_dbt_assets()])
