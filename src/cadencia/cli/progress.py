"""The live terminal view of a run: what runs now, what finished, fan-out progress.

Redrawn from the engine's loop (no refresh thread: the engine forks its
workers, and forking a process that has extra threads is unsafe), at most
ten times a second. Used only when stdout is a terminal.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from cadencia.engine.events import RunObserver
from cadencia.store.records import RunRecord, TaskRecord, TaskState

_REDRAW_SECONDS = 0.1


class LiveView(RunObserver):
    refresh_interval = _REDRAW_SECONDS

    def __init__(self) -> None:
        self._tasks: dict[str, TaskRecord] = {}
        self._live: Any = None
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._run: RunRecord | None = None

    def run_started(self, *, run: RunRecord, tasks: Sequence[TaskRecord]) -> None:
        from rich.console import Console
        from rich.live import Live

        self._run = run
        self._tasks = {task.task_name: task for task in tasks}
        self._live = Live(self._render(), console=Console(), auto_refresh=False, transient=True)
        self._live.start()

    def tasks_added(self, *, tasks: Sequence[TaskRecord]) -> None:
        self._tasks.update({task.task_name: task for task in tasks})

    def task_changed(self, *, task: TaskRecord) -> None:
        self._tasks[task.task_name] = task

    def tick(self) -> None:
        now = time.monotonic()
        if self._live is not None and now - self._last_draw >= _REDRAW_SECONDS:
            self._last_draw = now
            self._live.update(self._render(), refresh=True)

    def run_finished(self, *, run: RunRecord) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _render(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        now = time.time()
        plain = [t for t in self._tasks.values() if t.map_index is None]
        counts = Counter(str(t.state) for t in plain if t.map_size is None)
        title = self._run.pipeline_name if self._run else "run"
        header = Text.assemble(
            (f"{title} ", "bold"),
            (f"{time.monotonic() - self._started:5.1f} s  ", "dim"),
            ", ".join(f"{n} {state}" for state, n in sorted(counts.items())),
        )
        table = Table.grid(padding=(0, 2))
        running = [
            t for t in self._tasks.values() if t.state == TaskState.RUNNING and t.map_size is None
        ]
        for task in running[:8]:
            elapsed = now - task.started_at if task.started_at else 0.0
            table.add_row(Text("running", "yellow"), task.task_name, f"{elapsed:.1f} s")
        if len(running) > 8:
            table.add_row(Text("running", "yellow"), f"… and {len(running) - 8} more", "")
        for parent in (t for t in plain if t.map_size):
            children = [
                t
                for t in self._tasks.values()
                if t.node_name == parent.task_name and t.map_index is not None
            ]
            done = sum(1 for t in children if t.state.finished)
            bar = ProgressBar(total=parent.map_size or 1, completed=done, width=30)
            table.add_row(
                Text("fan-out", "cyan"), parent.task_name, Group(bar), f"{done}/{parent.map_size}"
            )
        failed = [t for t in self._tasks.values() if t.state == TaskState.FAILED]
        for task in failed[:3]:
            table.add_row(
                Text("failed", "bold red"),
                task.task_name,
                (task.error or "").strip().splitlines()[-1:][0][:60] if task.error else "",
            )
        return Group(header, table)
