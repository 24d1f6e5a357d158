"""dbt for the tests, run as a person or CI runs it (the venv's `dbt`, a subprocess), with one shared parse.

Every test builds into its own target folder, so each call parsed the whole project from scratch (about a
quarter of a `dbt build` on a hand-made world; some fifty calls a suite). dbt reuses a saved parse
(`partial_parse.msgpack`) only when the connection details it hashes, the `--vars` and the project's
`env_var`s are the same. The tests' warehouses differ only by where they are, so:

- a DuckDB warehouse is handed to dbt as a path relative to its own folder, which is dbt's working
  directory (the database's name, the file's stem, is what the relations are qualified with: it stays);
- a PostgreSQL warehouse keeps its per-test database name (`tests.support.pg.temporary_database` names it
  by prefix, process and slot, so the same test shape in the same worker gets the same name);

and the parse saved by the first call of each shape (connection + vars + time zone) seeds the next one's
target folder. dbt still re-reads any file that changed since, so a seed is never stale in content.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from resources.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]
DBT_DIR = ROOT / "dbt_project"
DBT = Path(sys.executable).parent / "dbt"
SEEDS = DBT_DIR / "target" / "test-parse"
PARTIAL_PARSE = "partial_parse.msgpack"
SEED_UNUSED_S = 24 * 3600


def dbt(
    warehouse: Warehouse,
    target: Path,
    *args: str,
    dbt_vars: Mapping[str, Any] | str | None = None,
    timezone: str | None = "Europe/Moscow",
    timeout: float = 900,
) -> subprocess.CompletedProcess:
    """Run `dbt <args>` against the warehouse, its target and logs under `target`; returns the process.

    `dbt_vars` as a mapping (sent as JSON) or the literal `--vars` text; `timezone` sets COMPANY_TIMEZONE
    (None leaves the project's default). COMPANY_CRM is never passed on: the tests say the CRM in vars.
    """
    env = {**os.environ, **warehouse.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.pop("COMPANY_CRM", None)
    if timezone is None:
        env.pop("COMPANY_TIMEZONE", None)
    else:
        env["COMPANY_TIMEZONE"] = timezone
    cwd = DBT_DIR
    if warehouse.kind == "duckdb":
        duckdb_path = Path(env["DUCKDB_PATH"])
        cwd, env["DUCKDB_PATH"] = duckdb_path.parent, duckdb_path.name
    vars_text = json.dumps(dbt_vars, sort_keys=True) if isinstance(dbt_vars, Mapping) else dbt_vars
    target_path, log_path = target / "dbt_target", target / "dbt_logs"
    target_path.mkdir(parents=True, exist_ok=True)
    shape = _shape(env, vars_text)
    seed = SEEDS / shape / PARTIAL_PARSE
    if seed.exists() and not (target_path / PARTIAL_PARSE).exists():
        with contextlib.suppress(OSError):  # pruned by another worker meanwhile: dbt parses in full
            shutil.copy2(seed, target_path / PARTIAL_PARSE)
    cmd = [
        str(DBT),
        *args,
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
        "--target-path",
        str(target_path),
        "--log-path",
        str(log_path),
        "--log-level-file",
        "none",  # the debug log of every statement: about a twentieth of a build; the output has the errors
        *(["--vars", vars_text] if vars_text else []),
    ]
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode == 0 and (target_path / PARTIAL_PARSE).exists():
        _keep_seed(target_path / PARTIAL_PARSE, seed)
    return proc


def dbt_ok(warehouse: Warehouse, target: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess:
    """`dbt(...)` that must succeed with no error and no warning (a build's data tests included)."""
    proc = dbt(warehouse, target, *args, **kwargs)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "ERROR=0" in proc.stdout and "WARN=0" in proc.stdout, proc.stdout[-3000:]
    return proc


def _shape(env: Mapping[str, str], vars_text: str | None) -> str:
    """What dbt's saved parse depends on besides the project's files: connection, vars, env_vars."""
    keys = ("DBT_TARGET", "DUCKDB_PATH", "PG_HOST", "PG_PORT", "PG_USER", "PG_DBNAME", "COMPANY_TIMEZONE")
    text = json.dumps([[k, env.get(k)] for k in keys] + [["vars", vars_text]])
    return hashlib.md5(text.encode()).hexdigest()[:16]


def _keep_seed(source: Path, seed: Path) -> None:
    """Publish the parse for the next call of the same shape (whole file or nothing: a rename).

    Seeds unused for a day are dropped: a PostgreSQL shape names the worker's process, so it never comes
    back in a later session, and each seed is a couple of megabytes.
    """
    if seed.exists():
        seed.touch()
        return
    for old in SEEDS.glob(f"*/{PARTIAL_PARSE}") if SEEDS.exists() else []:
        with contextlib.suppress(OSError):
            if time.time() - old.stat().st_mtime > SEED_UNUSED_S:
                shutil.rmtree(old.parent)
    seed.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        fd, tmp = tempfile.mkstemp(dir=seed.parent, prefix=".seed-")
        os.close(fd)
        shutil.copy2(source, tmp)
        os.replace(tmp, seed)
