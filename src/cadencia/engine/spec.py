"""What crosses the boundary between the engine and whatever executes a task.

A ``TaskSpec`` names the task and the artifacts its arguments come from (the
step itself is found again in the graph, so nothing but data is sent); a
``TaskResult`` says what was stored or why the task failed. Both are small,
picklable and independent of the executor.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

from cadencia.store.records import WHOLE, LogRange


@dataclass(frozen=True)
class ArtifactInput:
    """Read this artifact with this materializer (``name@version``).

    ``data`` carries a small (inline) artifact's bytes, so that reading it
    needs no I/O; they are still checked against the digest.
    """

    digest: str
    materializer: str
    data: bytes | None = None


@dataclass(frozen=True)
class ListInput:
    """Build a list (or tuple) from items; ``None`` items take the constant at that position."""

    items: tuple[InputTemplate | None, ...]
    as_tuple: bool = False


InputTemplate = ArtifactInput | ListInput


@dataclass(frozen=True)
class TaskSpec:
    run_id: str
    task_name: str
    node_name: str
    attempt: int
    inputs: dict[str, InputTemplate]
    """Arguments fed from artifacts; the others are the node's constants."""
    map_index: int | None = None
    split_outputs: tuple[str, ...] = ()
    """Outputs that a fan-out maps over: stored element by element as well."""
    log_dir: str | None = None
    """The run's log folder; the executor appends the task's output to a file in it."""
    timeout: float | None = None


@dataclass(frozen=True)
class StoredOutput:
    output_name: str
    digest: str
    materializer: str
    type_name: str
    size: int
    position: int = WHOLE
    data: bytes | None = None
    """The bytes of a small artifact, to be stored inline by the engine."""


@dataclass(frozen=True)
class Failure:
    """Why an attempt failed. ``retryable`` is False when retrying cannot help."""

    kind: str  # "error" | "timeout" | "crash" | "output" | "input" | "internal"
    message: str
    traceback: str = ""
    retryable: bool = True

    @classmethod
    def from_exception(
        cls, exc: BaseException, kind: str = "error", retryable: bool = True
    ) -> Failure:
        # Drop cadencia's own frames so that the traceback starts in the user's step.
        tb = exc.__traceback__
        while tb is not None and _is_engine_frame(tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next
        text = "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
        return cls(kind, f"{type(exc).__name__}: {exc}", text, retryable)

    def render(self) -> str:
        return self.traceback.rstrip() if self.traceback else self.message


def _is_engine_frame(filename: str) -> bool:
    return "/cadencia/engine/" in filename.replace("\\", "/")


@dataclass
class TaskResult:
    task_name: str
    attempt: int
    started_at: float
    ended_at: float
    outputs: list[StoredOutput] = field(default_factory=list)
    failure: Failure | None = None
    worker: int | None = None
    log: LogRange | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None
