"""Turns the calls made in a ``@pipeline`` function into a validated ``Graph``.

The builder collects problems instead of stopping at the first, so that a
user sees every mistake in one go, each with the file and line of the call.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from cadencia.authoring import typecheck
from cadencia.authoring.graph import (
    RETURN,
    Arg,
    Collect,
    Condition,
    Const,
    Graph,
    Node,
    Ref,
    SourceLocation,
)
from cadencia.authoring.handles import Output, Outputs, _NodeHandle
from cadencia.authoring.step import Step
from cadencia.errors import DefinitionError, GraphError, Problem

_current: contextvars.ContextVar[GraphBuilder | None] = contextvars.ContextVar(
    "cadencia_builder", default=None
)


def current_builder() -> GraphBuilder | None:
    return _current.get()


@dataclass
class _Draft:
    """A node while the pipeline function is still running (order edges may be added)."""

    name: str
    step: Step[Any, Any]
    args: dict[str, Arg]
    call_site: SourceLocation
    mapped: frozenset[str] = frozenset()
    after: set[str] = field(default_factory=set)
    conditions: tuple[Condition, ...] = ()
    output_types: dict[str, Any] = field(default_factory=dict)


class GraphBuilder:
    def __init__(self, pipeline_name: str) -> None:
        self.pipeline_name = pipeline_name
        self.drafts: dict[str, _Draft] = {}
        self.problems: list[Problem] = []
        self._conditions: list[Condition] = []
        self._token: contextvars.Token[GraphBuilder | None] | None = None

    def __enter__(self) -> GraphBuilder:
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._token is not None
        _current.reset(self._token)

    # -- recording calls -------------------------------------------------------

    def problem(self, message: str, site: SourceLocation | None, step_name: str | None) -> None:
        self.problems.append(
            Problem(
                message,
                file=site.file if site else None,
                line=site.line if site else None,
                step_name=step_name,
            )
        )

    def _new_name(self, step: Step[Any, Any], site: SourceLocation) -> str:
        base = step.name
        if step.options.name is not None and base in self.drafts:
            self.problem(
                f"the name '{base}' is already used by the step called at "
                f"{self.drafts[base].call_site}; give each named call its own name",
                site,
                base,
            )
        if base not in self.drafts:
            return base
        index = 2
        while f"{base}_{index}" in self.drafts:
            index += 1
        return f"{base}_{index}"

    def add_call(
        self,
        step: Step[Any, Any],
        args: Sequence[Any],
        kwargs: dict[str, Any],
        site: SourceLocation,
    ) -> Output | Outputs:
        name = self._new_name(step, site)
        bound = self._bind(step, name, args, kwargs, site)
        node_args = {
            param: self._to_arg(value, step, name, param, site, mapped=False)
            for param, value in bound.items()
        }
        return self._add(step, name, node_args, frozenset(), site)

    def add_map(
        self,
        step: Step[Any, Any],
        args: Sequence[Any],
        kwargs: dict[str, Any],
        site: SourceLocation,
    ) -> Any:
        if not args:
            self.problem(
                f"{step.name}.map() needs at least one iterable to map over", site, step.name
            )
            return self.add_call(step, (), kwargs, site)
        names = mapped_parameters(step, len(args), kwargs)
        if names is None:
            self.problem(
                f"{step.name}.map() got {len(args)} iterables but the step has fewer parameters "
                "left after the keyword arguments",
                site,
                step.name,
            )
            return []
        dynamic = [isinstance(arg, Output | Outputs) for arg in args]
        if not any(dynamic):
            # Every iterable is known now: expand into ordinary nodes, one per element.
            try:
                rows = list(zip(*args, strict=True))
            except (TypeError, ValueError) as exc:
                self.problem(f"{step.name}.map(): {exc}", site, step.name)
                return []
            return [
                self.add_call(step, (), {**kwargs, **dict(zip(names, row, strict=True))}, site)
                for row in rows
            ]
        if not all(dynamic):
            self.problem(
                f"{step.name}.map() mixes step outputs with lists known at build time; "
                "map over step outputs only (make the list a step output)",
                site,
                step.name,
            )
        name = self._new_name(step, site)
        bound = self._bind(step, name, (), {**kwargs, **dict(zip(names, args, strict=True))}, site)
        mapped = frozenset(names)
        node_args = {
            param: self._to_arg(value, step, name, param, site, mapped=param in mapped)
            for param, value in bound.items()
        }
        return self._add(step, name, node_args, mapped, site)

    def _bind(
        self,
        step: Step[Any, Any],
        name: str,
        args: Sequence[Any],
        kwargs: dict[str, Any],
        site: SourceLocation,
    ) -> dict[str, Any]:
        try:
            bound = step.signature.bind(*args, **kwargs)
        except TypeError as exc:
            self.problem(f"cannot call step '{step.name}' this way: {exc}", site, name)
            return {}
        arguments = dict(bound.arguments)
        for param in step.signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                self.problem(
                    f"parameter '{param.name}' is *args/**kwargs; steps need named parameters "
                    "so that each input can be stored and cached",
                    site,
                    name,
                )
                arguments.pop(param.name, None)  # one problem is enough: do not type-check it
        return arguments

    def _add(
        self,
        step: Step[Any, Any],
        name: str,
        node_args: dict[str, Arg],
        mapped: frozenset[str],
        site: SourceLocation,
    ) -> Output | Outputs:
        draft = _Draft(
            name=name,
            step=step,
            args=node_args,
            call_site=site,
            mapped=mapped,
            conditions=tuple(self._conditions),
            output_types=dict(step.output_types),
        )
        self.drafts[name] = draft
        fan_out = bool(mapped)
        if step.output_names == (RETURN,):
            return Output(self, name, RETURN, draft.output_types[RETURN], fan_out)
        return Outputs(
            self,
            name,
            {
                output: Output(self, name, output, draft.output_types[output], fan_out)
                for output in step.output_names
            },
        )

    # -- arguments and their types -------------------------------------------

    def _produced_type(self, ref: Ref) -> Any:
        draft = self.drafts.get(ref.node)
        if draft is None:
            return typecheck.UNKNOWN
        annotation = draft.output_types.get(ref.output, typecheck.UNKNOWN)
        if draft.mapped:
            return list if annotation is typecheck.UNKNOWN else list[annotation]  # type: ignore[valid-type]
        return annotation

    def _to_arg(
        self,
        value: Any,
        step: Step[Any, Any],
        name: str,
        param: str,
        site: SourceLocation,
        *,
        mapped: bool,
    ) -> Arg:
        expected = step.type_hints.get(param, typecheck.UNKNOWN)
        if isinstance(value, Outputs):
            self.problem(
                f"argument '{param}' receives all outputs of step '{value.node}' "
                f"({', '.join(o.output for o in value)}); pass one of them, e.g. "
                f"{value.node}.{next(iter(value)).output}",
                site,
                name,
            )
            return Const(None)
        if isinstance(value, Output):
            produced = self._produced_type(value.ref)
            if mapped:
                if not typecheck.is_iterable_annotation(produced):
                    self.problem(
                        f"argument '{param}' maps over step '{value.node}', whose output is "
                        f"declared {typecheck.describe(produced)}, which is not a list",
                        site,
                        name,
                    )
                    return value.ref
                produced = typecheck.element_type(produced)
            self._check(produced, expected, f"step '{value.node}' output", param, site, name)
            return value.ref
        if isinstance(value, list | tuple) and any(isinstance(v, _NodeHandle) for v in value):
            item_expected = typecheck.element_type(expected)
            items: list[Const | Ref] = []
            for item in value:
                if isinstance(item, Output):
                    produced = self._produced_type(item.ref)
                    if not typecheck.compatible(produced, item_expected):
                        self.problem(
                            f"argument '{param}' holds step '{item.node}' output, declared "
                            f"{typecheck.describe(produced)}, but its items are declared "
                            f"{typecheck.describe(item_expected)}",
                            site,
                            name,
                        )
                    items.append(item.ref)
                elif isinstance(item, Outputs):
                    self.problem(
                        f"argument '{param}' holds all outputs of step '{item.node}'; pass one",
                        site,
                        name,
                    )
                else:
                    if not typecheck.value_matches(item, item_expected):
                        self.problem(
                            f"argument '{param}' holds {type(item).__name__} {item!r:.60}, but "
                            f"its items are declared {typecheck.describe(item_expected)}",
                            site,
                            name,
                        )
                    items.append(Const(item))
            return Collect(tuple(items), as_tuple=isinstance(value, tuple))
        if mapped:
            return Const(value)
        if not typecheck.value_matches(value, expected):
            self.problem(
                f"argument '{param}' is declared {typecheck.describe(expected)} but receives "
                f"{type(value).__name__} {value!r:.60}",
                site,
                name,
            )
        return Const(value)

    def _check(
        self, produced: Any, expected: Any, what: str, param: str, site: SourceLocation, name: str
    ) -> None:
        if not typecheck.compatible(produced, expected):
            self.problem(
                f"argument '{param}' is declared {typecheck.describe(expected)} but receives "
                f"{what}, declared {typecheck.describe(produced)}",
                site,
                name,
            )

    # -- conditions and order --------------------------------------------------

    @contextlib.contextmanager
    def condition(self, handle: Any, expected: bool, site: SourceLocation) -> Iterator[None]:
        if not isinstance(handle, Output) or handle.fan_out:
            self.problem(
                f"when()/unless() needs the single output of a step, got {handle!r:.60}",
                site,
                None,
            )
            yield
            return
        produced = self._produced_type(handle.ref)
        if not typecheck.compatible(produced, bool):
            self.problem(
                f"when()/unless() needs a bool output, but step '{handle.node}' is declared to "
                f"return {typecheck.describe(produced)}",
                site,
                handle.node,
            )
        self._conditions.append(Condition(handle.ref, expected))
        try:
            yield
        finally:
            self._conditions.pop()

    def add_order(self, node: str, others: Sequence[Any], site: SourceLocation) -> None:
        for other in others:
            if isinstance(other, list | tuple):
                self.add_order(node, other, site)
            elif isinstance(other, _NodeHandle):
                self.drafts[node].after.add(other.node)
            else:
                self.problem(f"after() needs step outputs, got {other!r:.60}", site, node)

    # -- the result ------------------------------------------------------------

    def finish(self, params: dict[str, Any]) -> Graph:
        if not self.drafts:
            self.problem("the pipeline calls no step; call at least one @step function", None, None)
        graph = Graph(
            self.pipeline_name,
            {
                name: Node(
                    name=d.name,
                    step=d.step,
                    args=d.args,
                    call_site=d.call_site,
                    mapped=d.mapped,
                    after=frozenset(d.after),
                    conditions=d.conditions,
                )
                for name, d in self.drafts.items()
            },
            params,
        )
        self._find_cycles(graph)
        if self.problems:
            raise GraphError(self.problems, self.pipeline_name)
        return graph

    def _find_cycles(self, graph: Graph) -> None:
        order = graph.topological_order()
        if len(order) == len(graph.nodes):
            return
        remaining = {name for name in graph.nodes if name not in set(order)}
        cycle = _one_cycle(graph, remaining)
        path = " -> ".join([*cycle, cycle[0]])
        first = graph.nodes[cycle[0]]
        where = "; ".join(f"{n} called at {graph.nodes[n].call_site}" for n in cycle)
        self.problem(
            f"the steps form a cycle: {path} ({where}). Remove one of the after()/'>>' "
            "orderings so that the pipeline is acyclic",
            first.call_site,
            cycle[0],
        )


def _one_cycle(graph: Graph, remaining: set[str]) -> list[str]:
    """Walk upstream edges among nodes left over by the topological sort until one repeats."""
    start = min(remaining, key=list(graph.nodes).index)
    path: list[str] = []
    seen: dict[str, int] = {}
    current = start
    while current not in seen:
        seen[current] = len(path)
        path.append(current)
        current = min(
            (up for up in graph.nodes[current].upstream() if up in remaining),
            key=list(graph.nodes).index,
        )
    cycle = path[seen[current] :]
    cycle.reverse()  # upstream walk -> show in execution direction
    first = cycle.index(min(cycle, key=list(graph.nodes).index))
    return cycle[first:] + cycle[:first]  # start at the step the user wrote first


def mapped_parameters(step: Step[Any, Any], count: int, kwargs: dict[str, Any]) -> list[str] | None:
    """The parameters ``count`` positional iterables of ``.map()`` feed.

    Keyword arguments are fixed for every call; the iterables fill the other
    parameters in order. So ``score.map(models, data=test)`` maps over the
    first parameter that is not ``data``, wherever ``data`` is declared.
    """
    free = [
        p.name
        for p in step.signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in kwargs
    ]
    return free[:count] if count <= len(free) else None


def require_builder(what: str, site: SourceLocation) -> GraphBuilder:
    builder = current_builder()
    if builder is None:
        raise DefinitionError(f"{site}: {what} can only be used inside a @pipeline function")
    return builder
