"""The metadata backend for any SQLAlchemy URL (PostgreSQL for teams).

SQLAlchemy is imported here only, when a non-SQLite URL is configured.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cadencia.errors import StoreError
from cadencia.store.config import mask_url
from cadencia.store.sql import SQLBackend


class _Cursor:
    """Adapts a SQLAlchemy connection to the DB-API-like ``execute``/``executemany``."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        from sqlalchemy import text

        return self._connection.execute(text(sql), dict(params or {}))

    def executemany(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> Any:
        from sqlalchemy import text

        return self._connection.execute(text(sql), [dict(row) for row in rows])


class SQLAlchemyBackend(SQLBackend):
    def __init__(self, url: str) -> None:
        try:
            import sqlalchemy
        except ImportError as exc:  # pragma: no cover - SQLAlchemy is a core dependency
            raise StoreError(
                "SQLAlchemy is needed for CADENCIA_DB_URL; pip install sqlalchemy"
            ) from exc
        self.url = mask_url(url)
        try:
            self.engine = sqlalchemy.create_engine(url, pool_pre_ping=True)
            self.dialect = self.engine.dialect.name
            database = self.engine.url.database
            if self.dialect == "sqlite" and database and database != ":memory:":
                # Like the embedded backend: a new home's folder is created on first use.
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            if self.dialect == "sqlite":
                _real_sqlite_transactions(self.engine)
        except Exception as exc:
            raise StoreError(f"cannot use metadata database {self.url}: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[_Cursor]:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self.engine.begin() as connection:
                yield _Cursor(connection)
        except SQLAlchemyError as exc:
            raise StoreError(f"metadata transaction failed on {self.url}: {exc}") from exc

    def fetch(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self.engine.connect() as connection:
                result = connection.execute(text(sql), dict(params or {}))
                return [dict(row._mapping) for row in result]
        except SQLAlchemyError as exc:
            raise StoreError(f"metadata query failed on {self.url}: {exc}") from exc

    def rowcount(self, result: Any) -> int:
        return int(result.rowcount)

    def lock_schema(self, cursor: Any) -> None:
        if self.dialect == "postgresql":
            # Concurrent CREATE TABLE IF NOT EXISTS can collide in PostgreSQL's catalog.
            cursor.execute("SELECT pg_advisory_xact_lock(7262001)")

    def close(self) -> None:
        self.engine.dispose()


def _real_sqlite_transactions(engine: Any) -> None:
    """SQLAlchemy's documented recipe for pysqlite: the driver delays BEGIN until the
    first write, so a read-then-write in one transaction is not isolated. Take the
    write lock at BEGIN instead, as the embedded backend does."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(connection: Any, record: Any) -> None:
        connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
