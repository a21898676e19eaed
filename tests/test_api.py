"""The Python API and the history client, on real stores under tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import cadencia
from cadencia.errors import GraphError, NotFoundError, ParameterError, TaskFailedError

FLOW = """
from cadencia import pipeline, step, when

@step
def numbers(n: int) -> list[int]:
    return list(range(n))

@step
def square(x: int) -> int:
    return x * x

@step
def total(values: list[int]) -> int:
    print("total of", values)
    return sum(values)

@step
def is_big(value: int) -> bool:
    return value > 10

@step
def announce(value: int) -> str:
    return f"big: {value}"

@pipeline
def flow(n: int = 4):
    result = total(square.map(numbers(n)))
    with when(is_big(result)):
        announce(result)

@step
def boom() -> int:
    raise ValueError("no")

@pipeline
def broken():
    boom()
"""


@pytest.fixture
def flow_file(write_pipeline: Callable[..., Path]) -> str:
    return str(write_pipeline(FLOW))


def test_run_returns_a_view_of_the_finished_run(home: Path, flow_file: str) -> None:
    view = cadencia.run(f"{flow_file}:flow", {"n": 4}, executor="inline")
    assert view.state == "success"
    assert view.output("numbers") == [0, 1, 2, 3]
    assert view.output("square") == [0, 1, 4, 9]
    assert view.output("square[2]") == 4
    assert view.output("total") == 14
    assert view.output("announce") == "big: 14"
    assert view.task("square").map_size == 4
    assert "total of [0, 1, 4, 9]" in view.log("total")
    assert [i.input_name for i in view.inputs("total")] == ["values"] * 4
    assert repr(view) == f"<Run {view.run_id} flow success>"


def test_a_false_condition_skips(home: Path, flow_file: str) -> None:
    view = cadencia.run(f"{flow_file}:flow", {"n": 2}, executor="inline")
    assert view.state == "success"
    assert str(view.task("announce").state) == "skipped"
    with pytest.raises(
        NotFoundError,
        match=r"task 'announce' of run .+ has no stored output 'return' \(its "
        "state is skipped\\)",
    ):
        view.output("announce")


def test_raise_on_failure(home: Path, flow_file: str) -> None:
    with pytest.raises(TaskFailedError) as caught:
        cadencia.run(f"{flow_file}:broken", executor="inline", raise_on_failure=True)
    failed = cadencia.Client().run(caught.value.run_id)
    assert failed.state == "failed"
    assert "ValueError: no" in (failed.task("boom").error or "")
    assert cadencia.run(f"{flow_file}:broken", executor="inline").state == "failed"


def test_bad_input_raises_before_anything_is_written(home: Path, flow_file: str) -> None:
    with pytest.raises(ParameterError, match="parameter 'n' must be int, got str 'x'"):
        cadencia.run(f"{flow_file}:flow", {"n": "x"})
    assert cadencia.run(f"{flow_file}:flow", {"n": "2"}, executor="inline", params_as_text=True)
    assert home.exists()


def test_a_graph_error_from_the_api(home: Path, write_pipeline: Callable[..., Path]) -> None:
    path = write_pipeline(
        """
        from cadencia import pipeline, step

        @step
        def one() -> set:
            return {1}

        @pipeline
        def flow():
            one()
        """
    )
    with pytest.raises(GraphError, match="its output is declared set"):
        cadencia.run(str(path))
    assert not home.exists()


def test_plan_from_python(home: Path, flow_file: str) -> None:
    cadencia.run(f"{flow_file}:flow", executor="inline")
    plan = cadencia.plan(f"{flow_file}:flow")
    assert plan.decision("total").decision == "cached"
    uncached = cadencia.plan(f"{flow_file}:flow", cache=False)
    assert uncached.decision("numbers").reason == "caching is off for this run (--no-cache)"
    assert uncached.decision("total").reason == "its inputs come from square, which will run"


def test_client_lists_runs_and_lineage(home: Path, flow_file: str) -> None:
    first = cadencia.run(f"{flow_file}:flow", {"n": 3}, executor="inline")
    second = cadencia.run(f"{flow_file}:flow", {"n": 5}, executor="inline")
    with cadencia.Client() as client:
        assert [r.run_id for r in client.runs()] == [second.run_id, first.run_id]
        assert [r.run_id for r in client.runs(pipeline="other")] == []
        record = client.run(first.run_id).output_record("total")
        lineage = client.lineage(record.digest)
        assert [(p.run_id, p.task_name) for p in lineage.produced_by] == [(first.run_id, "total")]
        assert {i.task_name for i in lineage.inputs} == {"total"}
        with pytest.raises(NotFoundError, match="no task produced an artifact with digest x"):
            client.lineage("x")
        with pytest.raises(NotFoundError, match=r"has no task 'nope'; its steps: numbers, square"):
            client.run(first.run_id).task("nope")
