"""What the engine tells the outside while a run goes: hooks and observers.

Hooks (``@step(on_failure=..., on_success=...)``) receive one ``TaskEvent``;
observers (the live terminal view, future notifiers) implement
``RunObserver``. Both take keyword arguments or a single object, so adding
context later never breaks them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cadencia.store.records import RunRecord, TaskRecord, TaskState

logger = logging.getLogger("cadencia.engine")


@dataclass(frozen=True)
class TaskEvent:
    """Given to ``on_success`` / ``on_failure`` hooks once a task's outcome is committed."""

    run_id: str
    task_name: str
    step_name: str
    state: TaskState
    attempt: int
    error: str | None = None
    duration: float | None = None


class RunObserver:
    """Receives the run's progress. Methods do nothing unless overridden."""

    refresh_interval: float | None = None
    """Seconds between ``tick`` calls while tasks run (None: only when something happens)."""

    def run_started(self, *, run: RunRecord, tasks: Sequence[TaskRecord]) -> None:
        pass

    def tasks_added(self, *, tasks: Sequence[TaskRecord]) -> None:
        pass

    def task_changed(self, *, task: TaskRecord) -> None:
        pass

    def tick(self) -> None:
        """Called once per engine loop turn (a chance to redraw)."""

    def run_finished(self, *, run: RunRecord) -> None:
        pass


def call_hook(hook: Callable[[TaskEvent], object], event: TaskEvent) -> None:
    """Run a user hook; its failure is logged and never changes the task's outcome."""
    try:
        hook(event)
    except Exception:
        logger.exception("the %s hook of step %s raised", _kind(event), event.task_name)


def _kind(event: TaskEvent) -> str:
    return "on_success" if event.state == TaskState.SUCCESS else "on_failure"
