"""``@pipeline``: a function whose step calls describe a graph.

Building (``Pipeline.build``) runs the function with concrete parameter
values inside a ``GraphBuilder``; no step runs. The same parameters always
build the same graph, which is how a fresh process (``cadencia task run``)
finds its step again from nothing but the pipeline's source and the run's
parameters.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any, overload

from cadencia.authoring import params as params_module
from cadencia.authoring.builder import GraphBuilder
from cadencia.authoring.graph import Graph, SourceLocation
from cadencia.authoring.params import ParamSpec
from cadencia.errors import CadenciaError, DefinitionError

_CRON_ALIASES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


class Pipeline:
    """A pipeline declaration: its function, name, parameters and optional schedule."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None,
        schedule: str | None,
        defined_at: SourceLocation,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.schedule = schedule
        self.defined_at = defined_at
        self.params: dict[str, ParamSpec] = params_module.param_specs(fn)
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn
        if schedule is not None:
            _check_schedule(schedule, defined_at)

    def __repr__(self) -> str:
        return f"<Pipeline {self.name} at {self.defined_at}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise DefinitionError(
            f"pipeline '{self.name}' is not called directly; run it with "
            f"cadencia.run({self.name}, ...) or build its graph with {self.name}.build(...)"
        )

    def resolve_params(
        self, given: Mapping[str, Any], *, from_text: bool = False
    ) -> dict[str, Any]:
        return params_module.resolve(
            self.params, given, from_text=from_text, pipeline_name=self.name
        )

    def build(self, params: Mapping[str, Any] | None = None, /, **kwargs: Any) -> Graph:
        """Validate parameters and return the pipeline's graph (raises ``GraphError``)."""
        values = self.resolve_params({**(params or {}), **kwargs})
        return self.build_resolved(values)

    def build_resolved(self, values: dict[str, Any]) -> Graph:
        with GraphBuilder(self.name) as builder:
            try:
                self.fn(**values)
            except CadenciaError:
                raise
            except Exception as exc:
                # A bug in the pipeline function itself: say where, like any other
                # definition problem, instead of failing with a bare traceback.
                raise DefinitionError(
                    f"{self._raised_at(exc)}: building pipeline '{self.name}' raised "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        return builder.finish(values)

    def _raised_at(self, exc: BaseException) -> SourceLocation:
        """The deepest line of the pipeline's own file in the traceback of ``exc``."""
        file = self.fn.__code__.co_filename
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == file]
        if frames and frames[-1].lineno is not None:
            return SourceLocation(file, frames[-1].lineno)
        return self.defined_at


def _check_schedule(schedule: str, where: SourceLocation) -> None:
    text = schedule.strip()
    if text in _CRON_ALIASES:
        return
    fields = text.split()
    if len(fields) not in (5, 6):
        raise DefinitionError(
            f"{where}: schedule {schedule!r} is not a cron expression; use five fields "
            "'minute hour day month weekday' such as '0 3 * * *', or @daily/@hourly/..."
        )


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...
@overload
def pipeline(
    fn: None = None, /, *, name: str | None = None, schedule: str | None = None
) -> Callable[[Callable[..., Any]], Pipeline]: ...


def pipeline(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    schedule: str | None = None,
) -> Any:
    """Declare a pipeline: ``@pipeline`` or ``@pipeline(name=..., schedule="0 3 * * *")``."""
    frame = sys._getframe(1)
    where = SourceLocation(frame.f_code.co_filename, frame.f_lineno)
    if fn is not None:
        return Pipeline(fn, name=None, schedule=None, defined_at=where)

    def decorate(function: Callable[..., Any]) -> Pipeline:
        return Pipeline(function, name=name, schedule=schedule, defined_at=where)

    return decorate
