"""cadencia: machine-learning pipelines as plain Python, run by a fast local engine.

Authoring (``step``, ``pipeline``, ``when``, ``unless``) is imported eagerly
and is pure Python; running and reading history (``run``, ``plan``,
``resume``, ``run_task``, ``Client``) load the engine and stores on first use,
so ``import cadencia`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cadencia._version import __version__
from cadencia.authoring import Pipeline, Step, pipeline, step, unless, when

if TYPE_CHECKING:
    from cadencia.api import plan, resume, run, run_task
    from cadencia.client import Client, RunView
    from cadencia.engine.context import TaskInfo, current_task
    from cadencia.engine.events import RunObserver, TaskEvent
    from cadencia.store.materializers import Materializer, register_materializer

_LAZY = {
    "run": "cadencia.api",
    "plan": "cadencia.api",
    "resume": "cadencia.api",
    "run_task": "cadencia.api",
    "Client": "cadencia.client",
    "TaskInfo": "cadencia.engine.context",
    "current_task": "cadencia.engine.context",
    "RunView": "cadencia.client",
    "RunObserver": "cadencia.engine.events",
    "TaskEvent": "cadencia.engine.events",
    "Materializer": "cadencia.store.materializers",
    "register_materializer": "cadencia.store.materializers",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'cadencia' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Client",
    "Materializer",
    "Pipeline",
    "RunObserver",
    "RunView",
    "Step",
    "TaskEvent",
    "TaskInfo",
    "__version__",
    "current_task",
    "pipeline",
    "plan",
    "register_materializer",
    "resume",
    "run",
    "run_task",
    "step",
    "unless",
    "when",
]
