"""``current_task()``: what a running step knows about itself.

Set by ``execute_task`` around the step's call, wherever the step runs, so a
step can tag what it writes elsewhere (an MLflow run, a file) with the run
and task that produced it.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
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
    home: str | None = None
    """The run's cadencia home, also exported as ``CADENCIA_HOME`` while the step runs."""


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
    """Make ``info`` current; the step's own code (and libraries reading the
    environment) see the run's home even when the run was started with
    ``--home`` rather than ``CADENCIA_HOME``."""
    token = _current.set(info)
    previous = os.environ.get("CADENCIA_HOME")
    if info.home is not None:
        os.environ["CADENCIA_HOME"] = info.home
    try:
        yield
    finally:
        _current.reset(token)
        if info.home is not None:
            if previous is None:
                os.environ.pop("CADENCIA_HOME", None)
            else:
                os.environ["CADENCIA_HOME"] = previous
