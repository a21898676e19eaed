"""The embedded metadata backend: the standard library's ``sqlite3`` in WAL mode.

Durability: every transaction is committed to the write-ahead log before
``commit`` returns, so a killed process loses nothing it committed
(``synchronous=NORMAL`` skips only the fsync that guards against power loss).
Writers take the lock up front (``BEGIN IMMEDIATE``), so two engines on one
home wait for each other instead of failing to upgrade a read lock.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cadencia.errors import StoreError
from cadencia.store.sql import SQLBackend

BUSY_TIMEOUT_SECONDS = 60.0


class SQLiteBackend(SQLBackend):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.connection = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE ... COMMIT
                check_same_thread=False,
            )
            self.connection.row_factory = sqlite3.Row
            self._enable_wal()
            self.connection.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the metadata database {self.path}: {exc}") from exc

    def _enable_wal(self) -> None:
        # Switching a new database to WAL needs an exclusive lock, and SQLite answers
        # "database is locked" at once (the busy timeout does not apply) while another
        # process opening the same new home holds it: wait for that process instead.
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        while True:
            try:
                self.connection.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        cursor = self.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            yield cursor
        except sqlite3.Error as exc:
            if self.connection.in_transaction:
                self.connection.rollback()
            raise StoreError(f"metadata transaction failed on {self.path}: {exc}") from exc
        except BaseException:
            if self.connection.in_transaction:
                self.connection.rollback()
            raise
        else:
            try:
                cursor.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot commit to {self.path}: {exc}") from exc
        finally:
            cursor.close()

    def fetch(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            return [dict(row) for row in self.connection.execute(sql, params or {})]
        except sqlite3.Error as exc:
            raise StoreError(f"metadata query failed on {self.path}: {exc}") from exc

    def rowcount(self, result: Any) -> int:
        return int(result.rowcount)

    def close(self) -> None:
        self.connection.close()
