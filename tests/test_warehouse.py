"""The warehouse writes partitioned outputs idempotently, on DuckDB and on PostgreSQL alike."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from resources.warehouse import Warehouse
from tests.support.pg import temporary_database


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path):
    if request.param == "duckdb":
        yield Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    else:
        with temporary_database() as url:
            yield Warehouse(url=url)


def test_replace_rows_is_idempotent_per_partition(warehouse):
    day1 = pl.DataFrame({"as_of_day": [date(2026, 1, 5)] * 2, "manager_id": [1, 2], "score": [0.5, 0.9]})
    day2 = pl.DataFrame({"as_of_day": [date(2026, 1, 6)], "manager_id": [1], "score": [0.1]})
    warehouse.replace_rows("ml", "scores", day1, where={"as_of_day": date(2026, 1, 5)})
    warehouse.replace_rows("ml", "scores", day2, where={"as_of_day": date(2026, 1, 6)})
    # the same partition written again replaces, never duplicates
    warehouse.replace_rows("ml", "scores", day1, where={"as_of_day": date(2026, 1, 5)})
    got = warehouse.query("select as_of_day, count(*) as n, sum(score) as s from ml.scores group by 1 order by 1")
    assert got["n"].to_list() == [2, 1]
    assert got["s"].to_list() == pytest.approx([1.4, 0.1])
    assert warehouse.table_exists("ml", "scores")
    assert not warehouse.table_exists("ml", "nothing_here")


def test_a_column_added_since_the_table_was_created_is_added(warehouse):
    """An output that gains a column (ml.insights' topic) writes into a table an older version created."""
    old = pl.DataFrame({"as_of_day": [date(2026, 1, 5)], "text": ["старое"]})
    new = pl.DataFrame({"as_of_day": [date(2026, 1, 6)], "text": ["новое"], "topic": ["plan"]})
    warehouse.replace_rows("ml", "notes", old, where={"as_of_day": date(2026, 1, 5)})
    warehouse.replace_rows("ml", "notes", new, where={"as_of_day": date(2026, 1, 6)})
    got = warehouse.query("select text, topic from ml.notes order by as_of_day")
    assert got.rows() == [("старое", None), ("новое", "plan")]


def test_query_with_parameters(warehouse):
    warehouse.replace_rows("ml", "t", pl.DataFrame({"k": ["a", "b"], "v": [1, 2]}), where={})
    assert warehouse.query("select v from ml.t where k = ?", ["b"])["v"].to_list() == [2]


def test_tools_reach_the_same_warehouse(tmp_path):
    duck = Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    assert duck.dbt_env() == {"DBT_TARGET": "duckdb", "DUCKDB_PATH": f"{tmp_path}/w.duckdb"}
    pg = Warehouse(url="postgresql://ann:p%40ss@db.local:6543/sales")
    env = pg.dbt_env()
    assert (env["PG_HOST"], env["PG_PORT"], env["PG_USER"], env["PG_PASSWORD"], env["PG_DBNAME"]) == (
        "db.local",
        "6543",
        "ann",
        "p@ss",
        "sales",
    )


# A password with every character that means something in a URL (and a few that mean something
# to libpq, YAML or Jinja), written URL-encoded in WAREHOUSE_URL as users do.
NASTY_PASSWORD = "p@ss/w:rd%x #?&=+'\"\\{{é}}"


def _url(user: str, password: str, host: str, port: int, dbname: str) -> str:
    from urllib.parse import quote

    return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{quote(dbname, safe='')}"


def test_url_encoded_password_reaches_every_tool_decoded() -> None:
    """The tools get the decoded fields, never a URL rebuilt from them (the encoded `@`, `/`, `:`
    and `%` would otherwise move the host, the port and the database)."""
    wh = Warehouse(url="postgresql://analytics:p%40ss%2Fw%3Ard%25x@db.local:6543/sales")
    assert wh.pg_params() == {
        "host": "db.local",
        "port": 6543,
        "user": "analytics",
        "password": "p@ss/w:rd%x",
        "dbname": "sales",
    }
    creds = wh.dlt_destination().config_params["credentials"]
    assert (creds.host, creds.port, creds.username, creds.password, creds.database) == (
        "db.local",
        6543,
        "analytics",
        "p@ss/w:rd%x",
        "sales",
    )
    assert wh.dbt_env()["PG_PASSWORD"] == "p@ss/w:rd%x"


def test_dbt_profile_reads_the_connection_from_dbt_env() -> None:
    import yaml

    from resources.settings import PROJECT_ROOT

    profile = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "profiles.yml").read_text())
    pg = profile["rop_dashboard"]["outputs"]["postgres"]
    assert pg["password"] == "{{ env_var('PG_PASSWORD', '') }}"  # rendered as text, not as_native
    assert pg["user"] == "{{ env_var('PG_USER', 'postgres') }}"
    assert pg["host"] == "{{ env_var('PG_HOST', '127.0.0.1') }}"
    assert pg["dbname"] == "{{ env_var('PG_DBNAME', 'postgres') }}"


@pytest.fixture(scope="module")
def password_warehouse():
    """A role whose password the server really checks (scram-sha-256), and its database."""
    from tests.support.pg import password_checked_database

    with password_checked_database(NASTY_PASSWORD) as p:
        yield p, Warehouse(url=_url(p["user"], p["password"], p["host"], p["port"], p["dbname"]))


def test_special_password_is_checked_by_the_server(password_warehouse) -> None:
    import psycopg2

    p, _ = password_warehouse
    wrong = Warehouse(url=_url(p["user"], "p@ss/w:rd%y", p["host"], p["port"], p["dbname"]))
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        wrong.query("select 1 as one")


def test_special_password_replace_rows_and_query(password_warehouse) -> None:
    _, wh = password_warehouse
    wh.replace_rows("ml", "pw", pl.DataFrame({"k": ["a"], "v": [1]}), where={})
    assert wh.query("select v, current_user as u from ml.pw")["u"].to_list() == [wh.pg_params()["user"]]


def test_special_password_dlt_load(password_warehouse, tmp_path) -> None:
    import dlt

    _, wh = password_warehouse
    pipe = dlt.pipeline(
        pipeline_name="pw_test",
        destination=wh.dlt_destination(),
        dataset_name="raw_pw",
        pipelines_dir=str(tmp_path / "dlt"),
    )
    pipe.run([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], table_name="items")
    assert wh.query("select count(*) as n from raw_pw.items")["n"][0] == 2


def test_special_password_dbt_connects(password_warehouse, tmp_path) -> None:
    """`dbt debug --connection`: profiles.yml renders PG_PASSWORD and dbt-postgres logs in with it."""
    import os
    import subprocess
    import sys

    from resources.settings import PROJECT_ROOT

    _, wh = password_warehouse
    dbt_dir = PROJECT_ROOT / "dbt_project"
    env = {**os.environ, **wh.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "--no-use-colors",
            "debug",
            "--connection",
            "--project-dir",
            str(dbt_dir),
            "--profiles-dir",
            str(dbt_dir),
            "--log-path",
            str(tmp_path / "dbt_logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Connection test: [OK" in done.stdout
