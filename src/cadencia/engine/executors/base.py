"""The executor seam: where tasks run. The engine depends on this interface only.

An executor receives ``TaskSpec``s and gives back ``TaskResult``s; it never
touches the metadata store. Integrations (Dask, …) register more executors
through ``register_executor`` or the ``cadencia.executors`` entry point group.
Every implementation passes ``tests/engine/executors/test_contract.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from cadencia.authoring.graph import Graph
from cadencia.engine.spec import TaskResult, TaskSpec
from cadencia.errors import UsageError
from cadencia.store.artifacts import ArtifactStore
from cadencia.store.config import Settings
from cadencia.store.materializers import MaterializerRegistry


@dataclass
class ExecutorContext:
    graph: Graph
    artifacts: ArtifactStore
    registry: MaterializerRegistry
    settings: Settings
    source: dict[str, Any] | None = None
    """The run's ``PipelineSource`` (JSON), for workers that rebuild the graph themselves."""
    params: dict[str, Any] | None = None
    """The run's parameters (JSON), likewise."""


class Executor(ABC):
    name: ClassVar[str]
    synchronous: ClassVar[bool] = False
    """True when tasks run inside ``wait()`` in the engine's own process."""

    @abstractmethod
    def start(self, context: ExecutorContext) -> None:
        """Prepare to run tasks of ``context.graph``."""

    @property
    @abstractmethod
    def slots(self) -> int:
        """How many more tasks ``submit`` accepts now."""

    @abstractmethod
    def submit(self, spec: TaskSpec, *, prefer_worker: int | None = None) -> None:
        """Start ``spec`` (``prefer_worker`` hints where its inputs are in memory)."""

    @abstractmethod
    def wait(self, timeout: float | None) -> list[TaskResult]:
        """Block until at least one submitted task ends or ``timeout`` seconds pass."""

    @property
    @abstractmethod
    def in_flight(self) -> int: ...

    @abstractmethod
    def shutdown(self) -> None:
        """Stop every worker; tasks still running are abandoned."""


ExecutorFactory = Callable[..., Executor]
_factories: dict[str, ExecutorFactory] = {}


def register_executor(name: str, factory: ExecutorFactory) -> None:
    _factories[name] = factory


def create_executor(name: str, **options: Any) -> Executor:
    if name not in _factories:
        _load_builtin()
    if name not in _factories:
        _load_plugins()
    try:
        factory = _factories[name]
    except KeyError:
        known = ", ".join(sorted(_factories))
        raise UsageError(f"unknown executor {name!r}; available executors: {known}") from None
    return factory(**options)


def executor_names() -> list[str]:
    _load_builtin()
    _load_plugins()
    return sorted(_factories)


def _load_builtin() -> None:
    from cadencia.engine.executors import inline, process  # noqa: F401 - they register themselves


def _load_plugins() -> None:
    from importlib.metadata import entry_points

    for entry in entry_points(group="cadencia.executors"):
        if entry.name not in _factories:
            _factories[entry.name] = entry.load()
