"""``@pipeline``: declaration, schedule, parameters and building a graph."""

from __future__ import annotations

import re

import pytest

from cadencia import Pipeline, pipeline, step
from cadencia.authoring.graph import Const, Graph
from cadencia.errors import DefinitionError, GraphError, ParameterError


@step
def add_one(x: int) -> int:
    return x + 1


@step
def total(values: list[int]) -> int:
    return sum(values)


@pipeline
def demo(n: int = 3, start: int = 0) -> None:
    xs = [add_one(start) for _ in range(n)]
    total(xs)


def test_bare_pipeline_takes_the_function_name_and_its_parameters() -> None:
    assert isinstance(demo, Pipeline)
    assert demo.name == "demo"
    assert demo.schedule is None
    assert list(demo.params) == ["n", "start"]
    assert demo.params["n"].annotation is int and demo.params["n"].default == 3
    assert demo.defined_at.file == __file__


def test_pipeline_options_name_and_schedule() -> None:
    @pipeline(name="nightly", schedule="0 3 * * *")
    def flow() -> None:
        add_one(1)

    assert flow.name == "nightly"
    assert flow.schedule == "0 3 * * *"
    assert flow.build().pipeline_name == "nightly"


@pytest.mark.parametrize("schedule", ["@daily", "@hourly", "*/5 * * * *", "0 0 3 * * *"])
def test_cron_schedules_are_accepted(schedule: str) -> None:
    @pipeline(schedule=schedule)
    def flow() -> None:
        add_one(1)

    assert flow.schedule == schedule


@pytest.mark.parametrize("schedule", ["every day", "0 3 * *", "@sometimes"])
def test_a_schedule_that_is_not_cron_is_refused_with_its_location(schedule: str) -> None:
    with pytest.raises(
        DefinitionError,
        match=rf"test_pipeline\.py:\d+: schedule '{re.escape(schedule)}' is not a cron expression",
    ):

        @pipeline(schedule=schedule)
        def flow() -> None:
            add_one(1)


def test_calling_a_pipeline_directly_explains_how_to_run_it() -> None:
    with pytest.raises(DefinitionError, match=r"pipeline 'demo' is not called directly.*cadencia"):
        demo()


def test_build_uses_defaults_and_overrides() -> None:
    graph = demo.build()
    assert isinstance(graph, Graph)
    assert list(graph.nodes) == ["add_one", "add_one_2", "add_one_3", "total"]
    assert dict(graph.params) == {"n": 3, "start": 0}
    bigger = demo.build({"n": 5}, start=2)
    assert len(bigger) == 6
    assert dict(bigger.params) == {"n": 5, "start": 2}
    assert bigger.nodes["add_one"].args == {"x": Const(2)}


def test_the_same_parameters_build_the_same_graph() -> None:
    first, second = demo.build(n=2), demo.build(n=2)
    assert list(first.nodes) == list(second.nodes)
    assert all(
        first.nodes[name].args == second.nodes[name].args
        and first.nodes[name].call_site == second.nodes[name].call_site
        for name in first.nodes
    )


def test_bad_parameters_fail_before_building() -> None:
    with pytest.raises(
        ParameterError,
        match=r"pipeline 'demo': unknown parameter 'm'; this pipeline's parameters are: n, start; "
        r"parameter 'n' must be int, got str 'x'",
    ):
        demo.build(m=1, n="x")


def test_a_pipeline_that_calls_no_step_is_an_error() -> None:
    @pipeline
    def empty() -> None:
        return None

    with pytest.raises(
        GraphError, match=r"pipeline 'empty' has 1 problem:\n  - the pipeline calls no step"
    ):
        empty.build()


def test_an_exception_in_the_pipeline_function_names_its_line() -> None:
    @pipeline
    def broken(n: int = 0) -> None:
        add_one(1)
        add_one(10 // n)

    line = broken.fn.__code__.co_firstlineno + 3
    with pytest.raises(
        DefinitionError,
        match=rf"test_pipeline\.py:{line}: building pipeline 'broken' raised "
        r"ZeroDivisionError: integer division or modulo by zero",
    ) as caught:
        broken.build()
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    # the builder is gone: steps called now are plain functions again
    assert add_one(1) == 2


def test_a_failed_build_leaves_no_state_behind() -> None:
    @pipeline
    def wrong() -> None:
        add_one("a")

    with pytest.raises(GraphError, match="receives str 'a'"):
        wrong.build()
    assert add_one(1) == 2
    assert list(demo.build(n=1).nodes) == ["add_one", "total"]
