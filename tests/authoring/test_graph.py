"""The immutable graph: topological order, downstream edges, outputs that fan-outs split."""

from __future__ import annotations

from typing import Any

import pytest

from cadencia import pipeline, step, when
from cadencia.authoring.graph import Collect, Condition, Const, Graph, Node, Ref, SourceLocation


@step
def source() -> list[int]:
    return [1, 2]


@step
def double(x: int) -> int:
    return 2 * x


@step
def join(values: list[int]) -> int:
    return sum(values)


@step
def positive(x: int) -> bool:
    return x > 0


def node(name: str, *, args: dict[str, Any] | None = None, after: set[str] = set()) -> Node:  # noqa: B006
    return Node(
        name=name,
        step=double,
        args=args or {},
        call_site=SourceLocation("flow.py", 1),
        after=frozenset(after),
    )


def test_topological_order_keeps_creation_order_among_ready_nodes() -> None:
    graph = Graph(
        "p",
        {
            "late": node("late", args={"x": Ref("first")}),
            "first": node("first"),
            "middle": node("middle", after={"first"}),
            "free": node("free"),
        },
    )
    # "late" was created first, so it runs as soon as "first" is done
    assert graph.topological_order() == ["first", "late", "middle", "free"]


def test_topological_order_of_a_diamond() -> None:
    @pipeline
    def diamond() -> None:
        top = double(1)
        left, right = double(top), double(top)
        join([left, right])

    graph = diamond.build()
    assert graph.topological_order() == ["double", "double_2", "double_3", "join"]
    assert graph.downstream() == {
        "double": {"double_2", "double_3"},
        "double_2": {"join"},
        "double_3": {"join"},
        "join": set(),
    }


def test_topological_order_leaves_out_nodes_on_a_cycle() -> None:
    graph = Graph(
        "p",
        {
            "a": node("a", after={"b"}),
            "b": node("b", after={"a"}),
            "c": node("c"),
        },
    )
    assert graph.topological_order() == ["c"]


def test_upstream_covers_arguments_collected_items_conditions_and_order() -> None:
    graph_node = Node(
        name="n",
        step=join,
        args={"values": Collect((Ref("a"), Const(1), Ref("b", "second")))},
        call_site=SourceLocation("flow.py", 3),
        after=frozenset({"c"}),
        conditions=(Condition(Ref("d")),),
    )
    assert list(graph_node.refs()) == [Ref("a"), Ref("b", "second"), Ref("d")]
    assert graph_node.upstream() == {"a", "b", "c", "d"}


def test_conditions_make_edges() -> None:
    @pipeline
    def flow() -> None:
        ok = positive(1)
        with when(ok):
            double(2)

    graph = flow.build()
    assert graph.downstream()["positive"] == {"double"}


def test_mapped_outputs_name_what_fan_outs_split() -> None:
    @pipeline
    def flow() -> None:
        values = source()
        doubled = double.map(values)
        double.map(doubled)  # a fan-out of a fan-out: its input is already split
        join(values)

    graph = flow.build()
    assert graph.nodes["double"].is_fan_out
    assert graph.mapped_outputs() == {"source": {"return"}}


def test_a_graph_is_immutable() -> None:
    @pipeline
    def flow(n: int = 1) -> None:
        double(n)

    graph = flow.build()
    with pytest.raises(TypeError):
        graph.nodes["other"] = graph.nodes["double"]  # type: ignore[index]
    with pytest.raises(TypeError):
        graph.params["n"] = 2  # type: ignore[index]
    with pytest.raises(AttributeError):
        graph.pipeline_name = "other"  # type: ignore[misc]
    assert len(graph) == 1
    assert [n.name for n in graph] == ["double"]
    assert str(graph.nodes["double"].call_site).endswith(
        f"test_graph.py:{graph.nodes['double'].call_site.line}"
    )
