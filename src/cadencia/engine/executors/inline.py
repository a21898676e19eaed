"""The inline executor: tasks run one at a time in the engine's own process.

Made for debugging (breakpoints and ``print`` work as usual). A timeout
interrupts pure-Python code with SIGALRM, but cannot stop a blocking C call.
"""

from __future__ import annotations

import time
from collections import deque

from cadencia.engine.executors.base import Executor, ExecutorContext, register_executor
from cadencia.engine.spec import TaskResult, TaskSpec
from cadencia.engine.task import ObjectCache, TaskContext, execute_task


class InlineExecutor(Executor):
    name = "inline"
    synchronous = True

    def __init__(self) -> None:
        self._queue: deque[TaskSpec] = deque()
        self._context: TaskContext | None = None

    def start(self, context: ExecutorContext) -> None:
        self._context = TaskContext(
            graph=context.graph,
            artifacts=context.artifacts,
            registry=context.registry,
            memory=ObjectCache(),
            file_descriptors=False,
            home=str(context.settings.home),
        )

    @property
    def slots(self) -> int:
        return 0 if self._queue else 1

    @property
    def in_flight(self) -> int:
        return len(self._queue)

    def submit(self, spec: TaskSpec, *, prefer_worker: int | None = None) -> None:
        self._queue.append(spec)

    def wait(self, timeout: float | None) -> list[TaskResult]:
        if not self._queue:
            if timeout:
                time.sleep(timeout)
            return []
        assert self._context is not None, "start() was not called"
        return [execute_task(self._queue.popleft(), self._context)]

    def shutdown(self) -> None:
        self._queue.clear()
        if self._context is not None:
            self._context.close()


register_executor("inline", InlineExecutor)
