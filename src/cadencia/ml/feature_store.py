"""A feature store with Feast's semantics on Parquet, DuckDB and SQLite.

* Offline store: each feature view's rows, with their event timestamps, as
  Parquet partitions ``<root>/offline/<view>/<partition>.parquet``, each
  written atomically (temporary file, then rename), so a reader never sees
  half a partition.
* ``get_historical_features``: a point-in-time-correct join done by DuckDB's
  ``ASOF LEFT JOIN`` — each entity row gets, per view, the latest feature row
  of the same entity whose event timestamp is at or before the row's own
  (never a value from its future), optionally no older than the view's ``ttl``.
* Online store: ``materialize`` copies the latest values per entity into
  SQLite (``<root>/online.db``, one table per view, keyed by entity); a read
  of one entity is a primary-key lookup on an open connection (microseconds).

Why not Feast itself: Feast 0.67 pins ``pandas<3`` (this stack runs pandas 3,
so installing it would downgrade pandas under every other component) and
pulls in Dask. Its online read does meet the latency target (about 0.08 ms
against 0.005 ms here; docs/ml.md). The names (``FeatureView``, ``get_historical_features``,
``materialize``, ``get_online_features``) follow Feast so moving is mechanical.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadencia.ml.errors import FeatureStoreError

if TYPE_CHECKING:
    import pandas as pd

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARTITION = re.compile(r"[A-Za-z0-9_=.-]+")


@dataclass(frozen=True)
class FeatureView:
    """A group of features of some entities, each row stamped with when it became true."""

    name: str
    entities: tuple[str, ...]
    features: tuple[str, ...]
    timestamp_field: str = "event_timestamp"
    ttl: dt.timedelta | None = None

    def __post_init__(self) -> None:
        for name in (self.name, *self.entities, *self.features, self.timestamp_field):
            if not _NAME.fullmatch(name):
                raise FeatureStoreError(
                    f"feature view {self.name!r}: {name!r} is not a valid name (use letters, "
                    "digits and _)"
                )

    @property
    def columns(self) -> list[str]:
        return [*self.entities, self.timestamp_field, *self.features]


@dataclass(frozen=True)
class PartitionInfo:
    view: str
    partition: str
    path: Path
    digest: str
    rows: int


class FeatureStore:
    """Offline Parquet partitions and an online SQLite table per view, under ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._online: OnlineStore | None = None

    # -- offline ---------------------------------------------------------------------

    def _folder(self, view: FeatureView) -> Path:
        return self.root / "offline" / view.name

    def write(self, view: FeatureView, frame: pd.DataFrame, partition: str) -> PartitionInfo:
        """Replace one partition of ``view`` with ``frame`` (all or nothing)."""
        if not _PARTITION.fullmatch(partition):
            raise FeatureStoreError(f"partition name {partition!r} is invalid (e.g. 'month=03')")
        missing = [name for name in view.columns if name not in frame.columns]
        if missing:
            raise FeatureStoreError(
                f"cannot write view {view.name!r}: the frame lacks columns {missing}"
            )
        if frame[view.timestamp_field].isna().any():
            raise FeatureStoreError(
                f"cannot write view {view.name!r}: {view.timestamp_field} has nulls; every "
                "feature row needs the time it became known"
            )
        import pyarrow as pa
        import pyarrow.parquet as pq

        folder = self._folder(view)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{partition}.parquet"
        temporary = folder / f".{partition}.{os.getpid()}.tmp"
        table = pa.Table.from_pandas(frame.loc[:, view.columns], preserve_index=False)
        try:
            pq.write_table(table, temporary)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        return self._info(view.name, target, rows=len(frame))

    def _info(self, view: str, path: Path, rows: int | None = None) -> PartitionInfo:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if rows is None:
            import pyarrow.parquet as pq

            rows = pq.ParquetFile(path).metadata.num_rows
        return PartitionInfo(view, path.stem, path, digest, rows)

    def partitions(
        self, view: FeatureView, names: Sequence[str] | None = None
    ) -> list[PartitionInfo]:
        """Partitions of ``view`` (those named, in that order); a missing one is an error."""
        folder = self._folder(view)
        if names is None:
            paths = sorted(folder.glob("*.parquet")) if folder.exists() else []
        else:
            paths = [folder / f"{name}.parquet" for name in names]
            absent = [path.stem for path in paths if not path.exists()]
            if absent:
                have = sorted(p.stem for p in folder.glob("*.parquet")) if folder.exists() else []
                raise FeatureStoreError(
                    f"feature view {view.name!r} has no partition {', '.join(absent)} in "
                    f"{self.root} (it has: {', '.join(have) or 'none'}); run the ETL pipeline "
                    "for it first, e.g. cadencia run … etl_feature_engineering -p month=N"
                )
        return [self._info(view.name, path) for path in paths]

    def read(self, view: FeatureView, partitions: Sequence[str] | None = None) -> pd.DataFrame:
        import pyarrow.parquet as pq

        infos = self.partitions(view, partitions)
        if not infos:
            raise FeatureStoreError(f"feature view {view.name!r} has no data in {self.root}")
        tables = [pq.read_table(info.path) for info in infos]
        import pyarrow as pa

        return pa.concat_tables(tables).to_pandas()

    def get_historical_features(
        self,
        entity_frame: pd.DataFrame,
        views: Iterable[FeatureView],
        *,
        timestamp_field: str = "event_timestamp",
    ) -> pd.DataFrame:
        """``entity_frame`` with each view's features as of each row's timestamp.

        Columns are named ``<view>__<feature>``; a row with no earlier feature row
        (or only one older than the view's ``ttl``) gets nulls.
        """
        import duckdb

        views = list(views)
        result = entity_frame.reset_index(drop=True)
        connection = duckdb.connect()
        try:
            connection.execute("SET TimeZone = 'UTC'")
            for view in views:
                result = self._asof_join(connection, result, view, timestamp_field)
        finally:
            connection.close()
        return result

    def _asof_join(
        self, connection: Any, left: pd.DataFrame, view: FeatureView, timestamp_field: str
    ) -> pd.DataFrame:
        missing = [name for name in (*view.entities, timestamp_field) if name not in left.columns]
        if missing:
            raise FeatureStoreError(
                f"the entity frame lacks {missing}, needed to join view {view.name!r}"
            )
        files = [str(info.path) for info in self.partitions(view)]
        if not files:
            raise FeatureStoreError(
                f"feature view {view.name!r} has no data in {self.root}; run the ETL pipeline"
            )
        keys = " AND ".join(f'l."{name}" = r."{name}"' for name in view.entities)
        selected = ", ".join(
            _aged(view, f'r."{name}"', timestamp_field) + f' AS "{view.name}__{name}"'
            for name in view.features
        )
        left = left.assign(__row=range(len(left)))
        connection.register("left_rows", left)
        query = f"""
            SELECT l.*, {selected}
            FROM left_rows AS l
            ASOF LEFT JOIN (
                SELECT * FROM read_parquet({files!r})
            ) AS r
            ON {keys} AND l."{timestamp_field}" >= r."{view.timestamp_field}"
            ORDER BY l.__row
        """
        joined = connection.execute(query).df()
        connection.unregister("left_rows")
        return joined.drop(columns=["__row"])

    # -- online ----------------------------------------------------------------------

    def online(self) -> OnlineStore:
        if self._online is None:
            self._online = OnlineStore(self.root / "online.db")
        return self._online

    def materialize(self, view: FeatureView, end: dt.datetime | None = None) -> int:
        """Copy the latest row per entity (at or before ``end``) to the online store."""
        import duckdb

        files = [str(info.path) for info in self.partitions(view)]
        if not files:
            raise FeatureStoreError(f"feature view {view.name!r} has no data to materialize")
        entities = ", ".join(f'"{name}"' for name in view.entities)
        where = f'WHERE "{view.timestamp_field}" <= $end' if end is not None else ""
        query = f"""
            SELECT * FROM read_parquet({files!r}) {where}
            QUALIFY row_number() OVER (
                PARTITION BY {entities} ORDER BY "{view.timestamp_field}" DESC) = 1
        """
        connection = duckdb.connect()
        try:
            connection.execute("SET TimeZone = 'UTC'")
            latest = connection.execute(query, {"end": end} if end is not None else {}).df()
        finally:
            connection.close()
        return self.online().write(view, latest)

    def get_online_features(
        self, view: FeatureView, entity_rows: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any] | None]:
        online = self.online()
        return [online.get(view, row) for row in entity_rows]


class OnlineStore:
    """Latest feature values per entity in SQLite, read by primary key."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            self._local.connection = connection
        return connection

    def write(self, view: FeatureView, latest: pd.DataFrame) -> int:
        connection = self._connection()
        columns = ["entity_key", "event_timestamp", *view.features]
        connection.execute(
            f'CREATE TABLE IF NOT EXISTS "{view.name}" (entity_key TEXT PRIMARY KEY, '
            "event_timestamp TEXT NOT NULL, "
            + ", ".join(f'"{name}"' for name in view.features)
            + ")"
        )
        rows = [
            (
                _entity_key(view, record),
                _timestamp_text(record[view.timestamp_field]),
                *(_plain(record[name]) for name in view.features),
            )
            for record in latest.to_dict("records")
        ]
        placeholders = ", ".join("?" for _ in columns)
        updates = ", ".join(f'"{name}" = excluded."{name}"' for name in columns[1:])
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany(
                f'INSERT INTO "{view.name}" ({", ".join(repr(c) for c in columns)}) '
                f"VALUES ({placeholders}) ON CONFLICT(entity_key) DO UPDATE SET {updates} "
                f'WHERE excluded.event_timestamp >= "{view.name}".event_timestamp',
                rows,
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return len(rows)

    def get(self, view: FeatureView, entity: Mapping[str, Any]) -> dict[str, Any] | None:
        """The latest features of one entity, or None when it was never materialized."""
        connection = self._connection()
        try:
            cursor = connection.execute(
                f'SELECT * FROM "{view.name}" WHERE entity_key = ?', (_entity_key(view, entity),)
            )
        except sqlite3.OperationalError as exc:
            raise FeatureStoreError(
                f"view {view.name!r} was never materialized to the online store at {self.path}; "
                "run the ETL pipeline (it materializes) or FeatureStore.materialize"
            ) from exc
        row = cursor.fetchone()
        if row is None:
            return None
        names = [column[0] for column in cursor.description]
        return dict(zip(names, row, strict=True))

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def _entity_key(view: FeatureView, entity: Mapping[str, Any]) -> str:
    try:
        return "|".join(str(entity[name]) for name in view.entities)
    except KeyError as exc:
        raise FeatureStoreError(
            f"an entity of view {view.name!r} needs {list(view.entities)}, got {sorted(entity)}"
        ) from exc


def _timestamp_text(value: Any) -> str:
    return str(value.isoformat()) if hasattr(value, "isoformat") else str(value)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN is stored as NULL
        return None
    return value


def _aged(view: FeatureView, expression: str, timestamp_field: str) -> str:
    if view.ttl is None:
        return expression
    seconds = int(view.ttl.total_seconds())
    return (
        f'CASE WHEN l."{timestamp_field}" - r."{view.timestamp_field}" <= '
        f"INTERVAL {seconds} SECOND THEN {expression} END"
    )
