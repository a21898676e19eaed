"""``@step``: turn a plain function into a pipeline step.

The decorator only records a specification on the function (``Step``); it
does not wrap the function's behaviour. Called outside a pipeline, a step is
the plain function. Called while a pipeline is being built, it adds a node to
the graph and returns a handle to its future output.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import inspect
import sys
import textwrap
import typing
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar, overload

from cadencia.authoring.graph import RETURN, SourceLocation
from cadencia.authoring.options import StepOptions, make_options
from cadencia.errors import DefinitionError

P = ParamSpec("P")
R = TypeVar("R")


class Step(Generic[P, R]):
    """A function declared as a step, with its options."""

    def __init__(self, fn: Callable[P, R], options: StepOptions, defined_at: SourceLocation):
        if not callable(fn) or inspect.isclass(fn):
            raise DefinitionError(f"{defined_at}: @step decorates functions, not {fn!r}")
        if inspect.iscoroutinefunction(fn) or inspect.isgeneratorfunction(fn):
            raise DefinitionError(
                f"{defined_at}: step '{fn.__name__}' is a coroutine or generator function; "
                "steps must be plain functions that return their result"
            )
        self.fn = fn
        self.options = options
        self.defined_at = defined_at
        self.name: str = options.name or fn.__name__
        self.signature = inspect.signature(fn)
        functools.update_wrapper(self, fn)
        self._output_types: dict[str, Any] | None = None
        self._code_hash: str | None = None
        self.output_names = self._declared_outputs()

    def __repr__(self) -> str:
        return f"<Step {self.name} at {self.defined_at}>"

    # -- calling ---------------------------------------------------------------

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        from cadencia.authoring.builder import current_builder

        builder = current_builder()
        if builder is None:
            return self.fn(*args, **kwargs)
        frame = sys._getframe(1)
        site = SourceLocation(frame.f_code.co_filename, frame.f_lineno)
        return builder.add_call(self, args, kwargs, site)  # type: ignore[return-value]

    def map(self, *args: Any, **kwargs: Any) -> Any:
        """Call the step once per element: positional arguments are iterated in
        lockstep and feed the parameters not given by keyword, in order; keyword
        arguments are passed unchanged to every call.

        With a step output as the iterable the number of tasks is known only at
        run time; the result, passed to another step, is the list of results.
        """
        from cadencia.authoring.builder import current_builder

        frame = sys._getframe(1)
        site = SourceLocation(frame.f_code.co_filename, frame.f_lineno)
        builder = current_builder()
        if builder is None:
            from cadencia.authoring.builder import mapped_parameters

            names = mapped_parameters(self, len(args), kwargs)
            if not args or names is None:
                raise DefinitionError(
                    f"{site}: {self.name}.map() needs one iterable per parameter to map over"
                )
            plain: Callable[..., Any] = self.fn  # called with keywords built at run time
            return [
                plain(**kwargs, **dict(zip(names, items, strict=True)))
                for items in zip(*args, strict=True)
            ]
        return builder.add_map(self, args, kwargs, site)

    # -- variants --------------------------------------------------------------

    def with_options(self, **options: Any) -> Step[P, R]:
        """A copy of this step with some options changed (``name=`` names the next node)."""
        where = str(self.defined_at)
        merged = make_options({**_explicit_options(self.options), **options}, where=where)
        return Step(self.fn, merged, self.defined_at)

    def named(self, name: str) -> Step[P, R]:
        """This step under another node name: ``train.named("train_small")(data)``."""
        return self.with_options(name=name)

    # -- introspection ---------------------------------------------------------

    @property
    def type_hints(self) -> dict[str, Any]:
        try:
            return typing.get_type_hints(self.fn)
        except Exception:  # unresolvable forward references: checks are skipped
            return {}

    @property
    def output_types(self) -> dict[str, Any]:
        """Output name -> annotation (``inspect.Parameter.empty`` when unknown)."""
        if self._output_types is None:
            annotation = self.type_hints.get("return", inspect.Parameter.empty)
            if self.output_names == (RETURN,):
                self._output_types = {RETURN: annotation}
            elif _is_named_tuple(annotation):
                hints = typing.get_type_hints(annotation)
                self._output_types = {
                    name: hints.get(name, inspect.Parameter.empty) for name in self.output_names
                }
            else:
                args = typing.get_args(annotation)
                if typing.get_origin(annotation) is tuple and len(args) == len(self.output_names):
                    self._output_types = dict(zip(self.output_names, args, strict=True))
                else:
                    self._output_types = dict.fromkeys(self.output_names, inspect.Parameter.empty)
        return self._output_types

    @property
    def code_hash(self) -> str:
        """Hash of the step's code (or of ``cache_version`` when given).

        The code is the function's syntax tree without its decorators and
        docstring: reformatting, comments, docs and run options such as
        ``retries`` do not change what a step computes, so they keep its cache.
        """
        if self._code_hash is None:
            if self.options.cache_version is not None:
                material = "version:" + self.options.cache_version
            else:
                material = _code_material(self.fn)
            self._code_hash = hashlib.sha256(material.encode()).hexdigest()[:32]
        return self._code_hash

    def _declared_outputs(self) -> tuple[str, ...]:
        if self.options.outputs:
            return self.options.outputs
        annotation = self.type_hints.get("return")
        if _is_named_tuple(annotation):
            return tuple(annotation._fields)  # type: ignore[union-attr]
        return (RETURN,)


def _code_material(fn: Callable[..., Any]) -> str:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):  # no source (built in a REPL, a lambda…)
        return fn.__code__.co_code.hex()
    definition = tree.body[0] if tree.body else None
    if not isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef):
        return ast.dump(tree)
    definition.decorator_list = []
    body = definition.body
    if (
        len(body) > 1
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        definition.body = body[1:]
    return ast.dump(definition, annotate_fields=False)


def _is_named_tuple(annotation: Any) -> bool:
    return (
        isinstance(annotation, type)
        and issubclass(annotation, tuple)
        and hasattr(annotation, "_fields")
    )


def _explicit_options(options: StepOptions) -> dict[str, Any]:
    defaults = StepOptions()
    return {
        field.name: getattr(options, field.name)
        for field in dataclasses.fields(options)
        if getattr(options, field.name) != getattr(defaults, field.name)
    }


@overload
def step(fn: Callable[P, R], /) -> Step[P, R]: ...
@overload
def step(fn: None = None, /, **options: Any) -> Callable[[Callable[P, R]], Step[P, R]]: ...


def step(fn: Callable[P, R] | None = None, /, **options: Any) -> Any:
    """Declare a function as a pipeline step.

    Options (all optional): ``retries``, ``retry_delay``, ``backoff``,
    ``jitter``, ``max_retry_delay``, ``timeout``, ``cache``, ``cache_version``,
    ``pickle``, ``outputs``, ``on_failure``, ``on_success``, ``name``,
    ``description``.
    """
    frame = sys._getframe(1)
    where = SourceLocation(frame.f_code.co_filename, frame.f_lineno)
    if fn is not None:
        if options:
            raise DefinitionError(f"{where}: use @step(...) with keyword options only")
        code = getattr(fn, "__code__", None)
        if code is not None:
            where = SourceLocation(code.co_filename, code.co_firstlineno)
        return Step(fn, StepOptions(), where)
    checked = make_options(options, where=str(where))

    def decorate(function: Callable[P, R]) -> Step[P, R]:
        return Step(function, checked, where)

    return decorate
