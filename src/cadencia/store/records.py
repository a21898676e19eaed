"""What the metadata store keeps: runs, tasks, their outputs and inputs, and their states.

Plain dataclasses; no I/O. The engine changes records in memory and hands
them to ``MetadataStore.commit`` in batches, each batch one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TaskState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCESS = "success"
    CACHED = "cached"
    SKIPPED = "skipped"
    FAILED = "failed"
    UPSTREAM_FAILED = "upstream_failed"

    @property
    def finished(self) -> bool:
        return self in _FINISHED

    @property
    def has_outputs(self) -> bool:
        """Did the task leave outputs that downstream tasks can read?"""
        return self in (TaskState.SUCCESS, TaskState.CACHED)


_FINISHED = frozenset(
    {
        TaskState.SUCCESS,
        TaskState.CACHED,
        TaskState.SKIPPED,
        TaskState.FAILED,
        TaskState.UPSTREAM_FAILED,
    }
)


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (RunState.SUCCESS, RunState.FAILED)


WHOLE = -1
"""``position`` of an output or input that is a whole value, not one element of a list."""


@dataclass
class RunRecord:
    run_id: str
    pipeline_name: str
    source: dict[str, Any]
    params: dict[str, Any]
    options: dict[str, Any]
    state: RunState
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    engine_host: str | None = None
    engine_pid: int | None = None
    error: str | None = None
    code_version: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end; None while running or when the engine died."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at


@dataclass
class TaskRecord:
    run_id: str
    task_name: str
    node_name: str
    seq: int = 0
    """The node's place in the pipeline; a fan-out's elements share it and sort by map_index."""
    state: TaskState = TaskState.QUEUED
    map_index: int | None = None
    attempt: int = 0
    cache_key: str | None = None
    cache_parts: dict[str, Any] | None = None
    cached_from: str | None = None
    queued_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    next_attempt_at: float | None = None
    error: str | None = None
    map_size: int | None = None
    logs: list[LogRange] | None = None
    """Where each attempt's output is: byte ranges of the run's log files."""

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at


@dataclass(frozen=True)
class LogRange:
    """Bytes ``start`` to ``end`` of log file ``file`` (relative to the run's log folder)."""

    file: str
    start: int
    end: int


@dataclass(frozen=True)
class OutputRecord:
    """One stored output of a task: which artifact, and how to load it.

    ``inline`` artifacts (small values) live in the metadata store itself,
    which spares a file per value; larger ones live in the artifact store.
    """

    run_id: str
    task_name: str
    output_name: str
    digest: str
    materializer: str
    type_name: str
    size: int
    position: int = WHOLE
    inline: bool = False


@dataclass(frozen=True)
class InputRecord:
    """One artifact a task read (lineage)."""

    run_id: str
    task_name: str
    input_name: str
    digest: str
    position: int = WHOLE


@dataclass
class Batch:
    """Changes written together in one transaction."""

    tasks: list[TaskRecord] = field(default_factory=list)
    outputs: list[OutputRecord] = field(default_factory=list)
    inputs: list[InputRecord] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)
    """Inline artifacts by digest, stored before the outputs that name them."""
    run: RunRecord | None = None

    def __bool__(self) -> bool:
        return bool(self.tasks or self.outputs or self.inputs or self.blobs or self.run)
