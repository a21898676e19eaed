"""The immutable pipeline graph: nodes, how their arguments are fed, and order.

A ``Graph`` is what building a pipeline produces and what the engine runs. It
holds no state of any run. Imports only the standard library and sibling
authoring modules.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from cadencia.authoring.step import Step

RETURN = "return"
"""The output name of a step with a single return value."""


@dataclass(frozen=True)
class SourceLocation:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Const:
    """A value known when the pipeline is built (a literal or a pipeline parameter)."""

    value: Any


@dataclass(frozen=True)
class Ref:
    """One output of another node. For a fan-out node it is the list of its elements' outputs."""

    node: str
    output: str = RETURN


@dataclass(frozen=True)
class Collect:
    """A list or tuple whose items are refs or constants, passed as one argument (fan-in)."""

    items: tuple[Const | Ref, ...]
    as_tuple: bool = False


Arg: TypeAlias = Const | Ref | Collect


@dataclass(frozen=True)
class Condition:
    """Run the node only if ``ref`` (a bool output) equals ``expected``."""

    ref: Ref
    expected: bool = True


@dataclass(frozen=True)
class Node:
    """One call of a step inside a pipeline.

    ``mapped`` names the parameters fed element by element: such a node is a
    fan-out and becomes one task per element at run time.
    """

    name: str
    step: Step
    args: Mapping[str, Arg]
    call_site: SourceLocation
    mapped: frozenset[str] = frozenset()
    after: frozenset[str] = frozenset()
    conditions: tuple[Condition, ...] = ()

    @property
    def is_fan_out(self) -> bool:
        return bool(self.mapped)

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.step.output_names

    def refs(self) -> Iterator[Ref]:
        """Every output this node reads, arguments and conditions alike."""
        for arg in self.args.values():
            if isinstance(arg, Ref):
                yield arg
            elif isinstance(arg, Collect):
                yield from (item for item in arg.items if isinstance(item, Ref))
        for condition in self.conditions:
            yield condition.ref

    def upstream(self) -> frozenset[str]:
        """Names of the nodes that must finish before this one starts."""
        return frozenset(ref.node for ref in self.refs()) | self.after


@dataclass(frozen=True)
class Graph:
    """A built pipeline: nodes in creation order, validated before it is returned."""

    pipeline_name: str
    nodes: Mapping[str, Node]
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", MappingProxyType(dict(self.nodes)))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def downstream(self) -> dict[str, set[str]]:
        """Node name -> names of the nodes that wait for it."""
        result: dict[str, set[str]] = {name: set() for name in self.nodes}
        for node in self.nodes.values():
            for upstream in node.upstream():
                result[upstream].add(node.name)
        return result

    def mapped_outputs(self) -> dict[str, set[str]]:
        """Node name -> its outputs that some fan-out iterates over.

        The engine stores such an output element by element as well, so each
        fan-out task reads (and caches on) its own element only.
        """
        result: dict[str, set[str]] = {}
        for node in self.nodes.values():
            for param in node.mapped:
                arg = node.args[param]
                if isinstance(arg, Ref) and not self.nodes[arg.node].is_fan_out:
                    result.setdefault(arg.node, set()).add(arg.output)
        return result

    def topological_order(self) -> list[str]:
        """Node names, every node after all of its upstream nodes (creation order kept)."""
        position = {name: index for index, name in enumerate(self.nodes)}
        indegree = {name: len(node.upstream()) for name, node in self.nodes.items()}
        downstream = self.downstream()
        order: list[str] = []
        ready = [position[name] for name, count in indegree.items() if count == 0]
        names = list(self.nodes)
        while ready:
            name = names[heapq.heappop(ready)]
            order.append(name)
            for child in downstream[name]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(ready, position[child])
        return order
