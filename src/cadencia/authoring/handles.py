"""Handles: what calling a step inside a pipeline returns.

A handle stands for an output that will exist when the pipeline runs. It can
be passed to other steps, unpacked (several outputs), used as a condition or
ordered with ``after`` / ``>>``. It has no value at build time, and says so
when code tries to use it as one.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cadencia.authoring.graph import Ref, SourceLocation
from cadencia.errors import DefinitionError

if TYPE_CHECKING:
    from cadencia.authoring.builder import GraphBuilder


def _site(depth: int = 2) -> SourceLocation:
    frame = sys._getframe(depth)
    return SourceLocation(frame.f_code.co_filename, frame.f_lineno)


class _NodeHandle:
    """Behaviour shared by single- and multi-output handles: ordering edges."""

    _builder: GraphBuilder
    node: str

    def after(self, *others: Any) -> _NodeHandle:
        """Run this node only after ``others`` finished, without passing their outputs."""
        self._builder.add_order(self.node, others, _site())
        return self

    def __rshift__(self, other: Any) -> Any:
        """``a >> b``: b runs after a. Returns b so that chains read left to right."""
        targets = other if isinstance(other, list | tuple) else [other]
        for target in targets:
            if not isinstance(target, _NodeHandle):
                raise DefinitionError(f"{_site()}: '>>' needs step outputs on both sides")
            self._builder.add_order(target.node, [self], _site())
        return other

    def __rrshift__(self, other: Any) -> Any:
        # [a, b] >> c
        self._builder.add_order(
            self.node, other if isinstance(other, list | tuple) else [other], _site()
        )
        return self


class Output(_NodeHandle):
    """One output of a node. For a fan-out node, the list of its elements' outputs."""

    __slots__ = ("_builder", "annotation", "fan_out", "node", "output")

    def __init__(
        self, builder: GraphBuilder, node: str, output: str, annotation: Any, fan_out: bool
    ) -> None:
        self._builder = builder
        self.node = node
        self.output = output
        self.annotation = annotation
        self.fan_out = fan_out

    @property
    def ref(self) -> Ref:
        return Ref(self.node, self.output)

    def __repr__(self) -> str:
        suffix = "" if self.output == "return" else f".{self.output}"
        return f"<output of step {self.node}{suffix}>"

    def __bool__(self) -> bool:
        raise DefinitionError(
            f"{_site()}: the output of step '{self.node}' has no value while the pipeline is "
            "being built, so it cannot be used in 'if', 'and', 'or' or 'not'. To run steps only "
            f"when it is true, write 'with cadencia.when({self.node}_output): ...'"
        )

    def __iter__(self) -> Iterator[Any]:
        raise DefinitionError(
            f"{_site()}: the output of step '{self.node}' cannot be iterated while the pipeline "
            "is being built (its length is known only at run time). To run a step on each "
            "element, use 'other_step.map(output)'; if the step returns several values, declare "
            "them with @step(outputs=(...)) or a NamedTuple return annotation"
        )

    def __len__(self) -> int:
        raise DefinitionError(
            f"{_site()}: the length of step '{self.node}''s output is known only at run time"
        )


class Outputs(_NodeHandle):
    """All named outputs of a node that returns several; unpack, index or use attributes."""

    def __init__(self, builder: GraphBuilder, node: str, outputs: dict[str, Output]) -> None:
        self._builder = builder
        self.node = node
        self._outputs = outputs

    def __iter__(self) -> Iterator[Output]:
        return iter(self._outputs.values())

    def __len__(self) -> int:
        return len(self._outputs)

    def __getitem__(self, key: int | str) -> Output:
        if isinstance(key, int):
            return list(self._outputs.values())[key]
        try:
            return self._outputs[key]
        except KeyError:
            raise DefinitionError(
                f"step '{self.node}' has no output {key!r}; its outputs are "
                f"{', '.join(self._outputs)}"
            ) from None

    def __getattr__(self, name: str) -> Output:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __bool__(self) -> bool:
        raise DefinitionError(
            f"{_site()}: the outputs of step '{self.node}' have no value while the pipeline is "
            "being built; use cadencia.when(one_output) for conditions"
        )

    def __repr__(self) -> str:
        return f"<outputs of step {self.node}: {', '.join(self._outputs)}>"


EMPTY = inspect.Parameter.empty
