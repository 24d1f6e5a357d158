"""Where a job keeps how far a split Telegram message got: the Dagster instance's key-value store.

The store lives in the instance's run storage (SQLite under DAGSTER_HOME, or PostgreSQL in
production), so a rerun of a run that failed half-way through a long message, in any process,
sends only the pieces not delivered (resources.telegram.Progress).
"""

from __future__ import annotations

from dagster import DagsterInstance


class InstanceProgress:
    """resources.telegram.Progress over `instance.run_storage`'s cursor values (one key per message)."""

    def __init__(self, instance: DagsterInstance) -> None:
        self._storage = instance.run_storage

    def get(self, key: str) -> int:
        return int(self._storage.get_cursor_values({key}).get(key, 0))

    def set(self, key: str, delivered: int) -> None:
        self._storage.set_cursor_values({key: str(delivered)})
