"""A throw-away PostgreSQL database on the local server (127.0.0.1:5432, trust auth) for one test."""
from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg2

PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


@contextlib.contextmanager
def temporary_database(prefix: str = "rop_test") -> Iterator[str]:
    """Create a fresh database, yield its URL, drop it afterwards (also when the test fails)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(**PG_ADMIN)
    admin.autocommit = True
    try:
        admin.cursor().execute(f'create database "{name}"')
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.cursor().execute(f'drop database if exists "{name}" with (force)')
        admin.close()
