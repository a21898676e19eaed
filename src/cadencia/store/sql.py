"""The metadata store on SQL, written once for SQLite and PostgreSQL.

The statements use only what both databases share (``ON CONFLICT`` upserts,
``DOUBLE PRECISION`` epoch timestamps, JSON as text, named ``:params``), and
run through a tiny ``SQLBackend``: the standard library's ``sqlite3`` for the
embedded default (SQLAlchemy alone costs ~0.2 s to import, a whole one-step
run's budget) and SQLAlchemy for every other URL.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import astuple
from typing import Any, Protocol

from cadencia.errors import NotFoundError, StoreError
from cadencia.store.metadata import MetadataStore
from cadencia.store.records import (
    Batch,
    InputRecord,
    LogRange,
    OutputRecord,
    RunRecord,
    RunState,
    TaskRecord,
    TaskState,
)

SCHEMA_VERSION = 2
"""Raised whenever a table or column changes (2: task logs, inline outputs, artifact blobs)."""

SCHEMA = (
    # One row (id 1): two processes creating a new store at once cannot both stamp it.
    """CREATE TABLE IF NOT EXISTS cadencia_schema (
        id INTEGER PRIMARY KEY,
        version INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS runs (
        run_id TEXT PRIMARY KEY,
        pipeline_name TEXT NOT NULL,
        source TEXT NOT NULL,
        params TEXT NOT NULL,
        options TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        started_at DOUBLE PRECISION,
        ended_at DOUBLE PRECISION,
        engine_host TEXT,
        engine_pid INTEGER,
        error TEXT,
        code_version TEXT)""",
    """CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_at)""",
    """CREATE TABLE IF NOT EXISTS tasks (
        run_id TEXT NOT NULL,
        task_name TEXT NOT NULL,
        node_name TEXT NOT NULL,
        seq INTEGER NOT NULL,
        state TEXT NOT NULL,
        map_index INTEGER,
        attempt INTEGER NOT NULL,
        cache_key TEXT,
        cache_parts TEXT,
        cached_from TEXT,
        queued_at DOUBLE PRECISION,
        started_at DOUBLE PRECISION,
        ended_at DOUBLE PRECISION,
        next_attempt_at DOUBLE PRECISION,
        error TEXT,
        map_size INTEGER,
        logs TEXT,
        PRIMARY KEY (run_id, task_name))""",
    """CREATE INDEX IF NOT EXISTS tasks_by_cache_key ON tasks (cache_key)""",
    """CREATE INDEX IF NOT EXISTS tasks_by_node ON tasks (node_name)""",
    """CREATE TABLE IF NOT EXISTS task_outputs (
        run_id TEXT NOT NULL,
        task_name TEXT NOT NULL,
        output_name TEXT NOT NULL,
        position INTEGER NOT NULL,
        digest TEXT NOT NULL,
        materializer TEXT NOT NULL,
        type_name TEXT NOT NULL,
        size BIGINT NOT NULL,
        inline INTEGER NOT NULL,
        PRIMARY KEY (run_id, task_name, output_name, position))""",
    """CREATE INDEX IF NOT EXISTS task_outputs_by_digest ON task_outputs (digest)""",
    """CREATE TABLE IF NOT EXISTS task_inputs (
        run_id TEXT NOT NULL,
        task_name TEXT NOT NULL,
        input_name TEXT NOT NULL,
        position INTEGER NOT NULL,
        digest TEXT NOT NULL,
        PRIMARY KEY (run_id, task_name, input_name, position))""",
    """CREATE INDEX IF NOT EXISTS task_inputs_by_digest ON task_inputs (digest)""",
    # Small artifacts, inline: BYTEA is PostgreSQL's binary type; SQLite stores the bytes as-is.
    """CREATE TABLE IF NOT EXISTS artifact_blobs (
        digest TEXT PRIMARY KEY,
        data BYTEA NOT NULL)""",
)

_RUN_COLUMNS = [
    "run_id",
    "pipeline_name",
    "source",
    "params",
    "options",
    "state",
    "created_at",
    "started_at",
    "ended_at",
    "engine_host",
    "engine_pid",
    "error",
    "code_version",
]
_TASK_COLUMNS = [
    "run_id",
    "task_name",
    "node_name",
    "seq",
    "state",
    "map_index",
    "attempt",
    "cache_key",
    "cache_parts",
    "cached_from",
    "queued_at",
    "started_at",
    "ended_at",
    "next_attempt_at",
    "error",
    "map_size",
    "logs",
]
_OUTPUT_COLUMNS = [
    "run_id",
    "task_name",
    "output_name",
    "position",
    "digest",
    "materializer",
    "type_name",
    "size",
    "inline",
]
_INPUT_COLUMNS = ["run_id", "task_name", "input_name", "position", "digest"]


def _upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (
        f"INSERT INTO {table} ({names}) VALUES ({values}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


UPSERT_RUN = _upsert("runs", _RUN_COLUMNS, ["run_id"])
UPSERT_TASK = _upsert("tasks", _TASK_COLUMNS, ["run_id", "task_name"])
UPSERT_OUTPUT = _upsert(
    "task_outputs", _OUTPUT_COLUMNS, ["run_id", "task_name", "output_name", "position"]
)
UPSERT_INPUT = _upsert(
    "task_inputs", _INPUT_COLUMNS, ["run_id", "task_name", "input_name", "position"]
)


class Cursor(Protocol):
    def execute(self, sql: str, params: Mapping[str, Any] = ...) -> Any: ...
    def executemany(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> Any: ...


class SQLBackend(ABC):
    """A database connection reduced to what ``SQLMetadataStore`` needs."""

    url: str

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Cursor]:
        """A write transaction, committed on exit, rolled back on error."""

    @abstractmethod
    def fetch(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...

    @abstractmethod
    def rowcount(self, result: Any) -> int: ...

    def lock_schema(self, cursor: Cursor) -> None:  # noqa: B027 - optional hook, no-op by default
        """Serialize schema creation between processes (PostgreSQL needs a lock for it)."""

    @abstractmethod
    def close(self) -> None: ...


class SQLMetadataStore(MetadataStore):
    def __init__(self, backend: SQLBackend) -> None:
        self.backend = backend
        self.url = backend.url
        self._ensure_schema()

    def _ensure_schema(self) -> None:
        try:
            rows = self.backend.fetch("SELECT version FROM cadencia_schema")
        except StoreError:  # the table does not exist yet: create everything below
            rows = []
        if not rows:
            with self.backend.transaction() as cursor:
                self.backend.lock_schema(cursor)
                for statement in SCHEMA:
                    cursor.execute(statement)
                # Another process may have created the schema while this one waited.
                cursor.execute(
                    "INSERT INTO cadencia_schema (id, version) VALUES (1, :v) "
                    "ON CONFLICT (id) DO NOTHING",
                    {"v": SCHEMA_VERSION},
                )
                rows = cursor.execute("SELECT version FROM cadencia_schema").fetchall()
            rows = [{"version": rows[0][0]}]
        version = rows[0]["version"]
        if version != SCHEMA_VERSION:
            # Never re-stamp a database written with other tables: its queries would fail
            # later, far from the cause.
            self.backend.close()
            raise StoreError(
                f"the metadata database {self.url} has schema version {version}, but this "
                f"cadencia uses version {SCHEMA_VERSION} and cannot read it; use a new home "
                "(CADENCIA_HOME) or database (CADENCIA_DB_URL), or delete the old one"
            )

    def close(self) -> None:
        self.backend.close()

    # -- writing -----------------------------------------------------------------

    def create_run(self, run: RunRecord, tasks: Sequence[TaskRecord]) -> None:
        with self.backend.transaction() as cursor:
            cursor.execute(UPSERT_RUN, _run_row(run))
            if tasks:
                cursor.executemany(UPSERT_TASK, [self._task_row(task) for task in tasks])

    def commit(self, batch: Batch) -> None:
        if not batch:
            return
        with self.backend.transaction() as cursor:
            if batch.tasks:
                unique = {id(task): task for task in batch.tasks}.values()
                cursor.executemany(UPSERT_TASK, [self._task_row(task) for task in unique])
            if batch.blobs:
                cursor.executemany(
                    # An upsert, so that a step run again repairs a damaged inline artifact.
                    "INSERT INTO artifact_blobs (digest, data) VALUES (:digest, :data) "
                    "ON CONFLICT (digest) DO UPDATE SET data = excluded.data",
                    [{"digest": d, "data": data} for d, data in batch.blobs.items()],
                )
            if batch.outputs:
                cursor.executemany(UPSERT_OUTPUT, [_output_row(o) for o in batch.outputs])
            if batch.inputs:
                cursor.executemany(UPSERT_INPUT, [_input_row(i) for i in batch.inputs])
            if batch.run is not None:
                cursor.execute(UPSERT_RUN, _run_row(batch.run))

    def claim_run(self, run_id: str, host: str, pid: int, expected_pid: int | None) -> bool:
        with self.backend.transaction() as cursor:
            result = cursor.execute(
                "UPDATE runs SET engine_host = :host, engine_pid = :pid "
                "WHERE run_id = :run_id AND COALESCE(engine_pid, 0) = :expected",
                {"host": host, "pid": pid, "run_id": run_id, "expected": expected_pid or 0},
            )
            return self.backend.rowcount(result) == 1

    def _task_row(self, task: TaskRecord) -> dict[str, Any]:
        row = {name: getattr(task, name) for name in _TASK_COLUMNS}
        row["state"] = str(task.state)
        row["cache_parts"] = None if task.cache_parts is None else _dumps(task.cache_parts)
        row["logs"] = None if task.logs is None else _dumps([list(astuple(r)) for r in task.logs])
        return row

    # -- reading -----------------------------------------------------------------

    def get_run(self, run_id: str) -> RunRecord:
        rows = self.backend.fetch("SELECT * FROM runs WHERE run_id = :run_id", {"run_id": run_id})
        if not rows:
            raise NotFoundError(
                f"no run with id {run_id!r} in {self.url}; list runs with 'cadencia runs'"
            )
        return _run_record(rows[0])

    def list_runs(
        self, limit: int = 50, pipeline_name: str | None = None, state: RunState | None = None
    ) -> list[RunRecord]:
        clauses, params = [], {"limit": int(limit)}
        if pipeline_name is not None:
            clauses.append("pipeline_name = :pipeline_name")
            params["pipeline_name"] = pipeline_name  # type: ignore[assignment]
        if state is not None:
            clauses.append("state = :state")
            params["state"] = str(state)  # type: ignore[assignment]
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        rows = self.backend.fetch(
            f"SELECT * FROM runs {where}ORDER BY created_at DESC, run_id DESC LIMIT :limit", params
        )
        return [_run_record(row) for row in rows]

    def get_tasks(self, run_id: str) -> list[TaskRecord]:
        rows = self.backend.fetch(
            "SELECT * FROM tasks WHERE run_id = :run_id ORDER BY seq, COALESCE(map_index, -1)",
            {"run_id": run_id},
        )
        return [_task_record(row) for row in rows]

    def get_outputs(self, run_id: str, task_name: str | None = None) -> list[OutputRecord]:
        sql = "SELECT * FROM task_outputs WHERE run_id = :run_id"
        params = {"run_id": run_id}
        if task_name is not None:
            sql += " AND task_name = :task_name"
            params["task_name"] = task_name
        rows = self.backend.fetch(sql + " ORDER BY task_name, output_name, position", params)
        return [_output_record(row) for row in rows]

    def get_inputs(self, run_id: str, task_name: str | None = None) -> list[InputRecord]:
        sql = "SELECT * FROM task_inputs WHERE run_id = :run_id"
        params = {"run_id": run_id}
        if task_name is not None:
            sql += " AND task_name = :task_name"
            params["task_name"] = task_name
        rows = self.backend.fetch(sql + " ORDER BY task_name, input_name, position", params)
        return [InputRecord(**{c: row[c] for c in _INPUT_COLUMNS}) for row in rows]

    def find_cached(self, cache_key: str) -> tuple[TaskRecord, list[OutputRecord]] | None:
        rows = self.backend.fetch(
            "SELECT * FROM tasks WHERE cache_key = :key AND state = :state "
            "ORDER BY ended_at DESC LIMIT 1",
            {"key": cache_key, "state": str(TaskState.SUCCESS)},
        )
        if not rows:
            return None
        task = _task_record(rows[0])
        return task, self.get_outputs(task.run_id, task.task_name)

    def latest_task(
        self, pipeline_name: str, node_name: str, before_run: str | None = None
    ) -> TaskRecord | None:
        rows = self.backend.fetch(
            "SELECT t.* FROM tasks t JOIN runs r ON r.run_id = t.run_id "
            "WHERE r.pipeline_name = :pipeline AND t.node_name = :node "
            "AND t.map_index IS NULL AND t.cache_parts IS NOT NULL AND t.run_id <> :exclude "
            "ORDER BY r.created_at DESC LIMIT 1",
            {"pipeline": pipeline_name, "node": node_name, "exclude": before_run or ""},
        )
        return _task_record(rows[0]) if rows else None

    def get_blobs(self, digests: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        unique = list(dict.fromkeys(digests))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            names = {f"d{i}": digest for i, digest in enumerate(chunk)}
            placeholders = ", ".join(f":{name}" for name in names)
            rows = self.backend.fetch(
                f"SELECT digest, data FROM artifact_blobs WHERE digest IN ({placeholders})", names
            )
            found.update((row["digest"], bytes(row["data"])) for row in rows)
        return found

    def producers(self, digest: str) -> list[OutputRecord]:
        rows = self.backend.fetch(
            "SELECT * FROM task_outputs WHERE digest = :digest ORDER BY run_id, task_name",
            {"digest": digest},
        )
        return [_output_record(row) for row in rows]

    def consumers(self, digest: str) -> list[InputRecord]:
        rows = self.backend.fetch(
            "SELECT * FROM task_inputs WHERE digest = :digest ORDER BY run_id, task_name",
            {"digest": digest},
        )
        return [InputRecord(**{c: row[c] for c in _INPUT_COLUMNS}) for row in rows]


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def _run_row(run: RunRecord) -> dict[str, Any]:
    row = {name: getattr(run, name) for name in _RUN_COLUMNS}
    row["state"] = str(run.state)
    for name in ("source", "params", "options"):
        row[name] = _dumps(row[name])
    return row


def _output_row(output: OutputRecord) -> dict[str, Any]:
    row = {name: getattr(output, name) for name in _OUTPUT_COLUMNS}
    row["inline"] = int(output.inline)
    return row


def _output_record(row: Mapping[str, Any]) -> OutputRecord:
    values = {name: row[name] for name in _OUTPUT_COLUMNS}
    values["inline"] = bool(values["inline"])
    return OutputRecord(**values)


def _input_row(record: InputRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _INPUT_COLUMNS}


def _run_record(row: Mapping[str, Any]) -> RunRecord:
    values = {name: row[name] for name in _RUN_COLUMNS}
    for name in ("source", "params", "options"):
        values[name] = json.loads(values[name])
    values["state"] = RunState(values["state"])
    return RunRecord(**values)


def _task_record(row: Mapping[str, Any]) -> TaskRecord:
    values = {name: row[name] for name in _TASK_COLUMNS}
    values["state"] = TaskState(values["state"])
    if values["cache_parts"] is not None:
        values["cache_parts"] = json.loads(values["cache_parts"])
    if values["logs"] is not None:
        values["logs"] = [LogRange(*item) for item in json.loads(values["logs"])]
    return TaskRecord(**values)
