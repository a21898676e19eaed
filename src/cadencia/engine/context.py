"""``current_task()``: what a running step knows about itself.

Set by ``execute_task`` around the step's call, wherever the step runs, so a
step can tag what it writes elsewhere (an MLflow run, a file) with the run
and task that produced it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

from cadencia.errors import UsageError


@dataclass(frozen=True)
class TaskInfo:
    run_id: str
    task_name: str
    step_name: str
    attempt: int
    map_index: int | None = None


_current: contextvars.ContextVar[TaskInfo | None] = contextvars.ContextVar(
    "cadencia_task", default=None
)


def current_task() -> TaskInfo:
    """The run and task of the step being executed; an error outside a step."""
    info = _current.get()
    if info is None:
        raise UsageError(
            "current_task() was called outside a running step; call it inside a @step "
            "function while cadencia runs it"
        )
    return info


@contextlib.contextmanager
def running(info: TaskInfo) -> Iterator[None]:
    token = _current.set(info)
    try:
        yield
    finally:
        _current.reset(token)
