"""A throw-away PostgreSQL database on the local server (127.0.0.1:5432, trust auth) for one test."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import psycopg2

PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


_open: set[str] = set()  # this process's databases not yet dropped


@contextlib.contextmanager
def temporary_database(prefix: str = "rop_test") -> Iterator[str]:
    """Create a fresh database, yield its URL, drop it afterwards (also when the test fails).

    Named by prefix, this process and the first free slot, so that the same kind of test in the same
    worker gets the same name each time: dbt then reuses its saved parse (tests/support/dbt.py), which
    depends on the database's name. No other process (another worker, another test session) uses the
    name; a leftover of a crashed earlier process with the same pid is dropped first.
    """
    slot = next(i for i in range(1000) if f"{prefix}_{os.getpid()}_{i}" not in _open)
    name = f"{prefix}_{os.getpid()}_{slot}"
    _open.add(name)
    admin = psycopg2.connect(**PG_ADMIN)
    admin.autocommit = True
    try:
        admin.cursor().execute(f'drop database if exists "{name}" with (force)')
        admin.cursor().execute(f'create database "{name}"')
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.cursor().execute(f'drop database if exists "{name}" with (force)')
        admin.close()
        _open.discard(name)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextlib.contextmanager
def _hba_lines_first(admin, lines: list[str]) -> Iterator[None]:
    """Put `lines` at the top of the server's pg_hba.conf (ahead of its `trust` lines), reload, and
    remove exactly those lines afterwards. Each caller's lines name its own role, so concurrent test
    sessions never touch each other's lines; an exclusive file lock guards the read-modify-write."""
    import fcntl

    cur = admin.cursor()
    cur.execute("show hba_file")
    path = cur.fetchone()[0]

    def edit(change) -> None:
        with open(path, "r+", encoding="utf-8") as fh:  # in place: owner and mode stay the server's
            fcntl.flock(fh, fcntl.LOCK_EX)
            old = fh.read()
            new = change(old)
            if new != old:
                fh.seek(0)
                fh.write(new)
                fh.truncate()
        cur.execute("select pg_reload_conf()")

    ours = [line + "\n" for line in lines]
    edit(lambda text: "".join(ours) + "".join(line for line in text.splitlines(True) if line not in ours))
    try:
        cur.execute("select line_number, error from pg_hba_file_rules where error is not null")
        assert not cur.fetchall(), f"pg_hba.conf has errors after adding {lines}"
        yield
    finally:
        edit(lambda text: "".join(line for line in text.splitlines(True) if line not in ours))


@contextlib.contextmanager
def password_checked_database(password: str, prefix: str = "rop_pw_test") -> Iterator[dict]:
    """A fresh role with `password` and a database it owns, on which the server really checks the
    password (scram-sha-256 for this role only, even though the server trusts everyone else on
    127.0.0.1). Yields {"user", "password", "dbname", "host", "port"}; drops role and database after.

    Skips the test when pg_hba.conf cannot be edited here (not running as its owner or root)."""
    import os
    import time

    import pytest

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(**PG_ADMIN)
    admin.autocommit = True
    cur = admin.cursor()
    cur.execute("show hba_file")
    if not os.access(cur.fetchone()[0], os.R_OK | os.W_OK):
        admin.close()
        pytest.skip("pg_hba.conf is not writable here: cannot make the server check a password")
    try:
        cur.execute("set password_encryption = 'scram-sha-256'")
        cur.execute(f"create role {_quote_ident(name)} login password %s", [password])
        cur.execute(f"create database {_quote_ident(name)} owner {_quote_ident(name)}")
        host_lines = [f"host {name} {name} {PG_ADMIN['host']}/32 scram-sha-256"]
        with _hba_lines_first(admin, host_lines):
            params = {"host": PG_ADMIN["host"], "port": PG_ADMIN["port"], "user": name, "dbname": name}
            # the reload is asynchronous: wait until a wrong password is refused
            deadline = time.monotonic() + 10
            while True:
                try:
                    psycopg2.connect(**params, password=password + "-wrong").close()
                except psycopg2.OperationalError as exc:
                    if "password authentication failed" in str(exc):
                        break
                    raise
                if time.monotonic() > deadline:
                    raise AssertionError("the server still accepts a wrong password after reloading pg_hba.conf")
                time.sleep(0.1)
            yield {**params, "password": password}
    finally:
        cur.execute(f"drop database if exists {_quote_ident(name)} with (force)")
        cur.execute(f"drop role if exists {_quote_ident(name)}")
        admin.close()
