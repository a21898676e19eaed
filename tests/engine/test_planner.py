"""``plan``: the decision per step and its reason, from the store, without running or writing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cadencia

PIPELINE = """
from cadencia import pipeline, step, when

@step
def load(n: int) -> list[int]:
    return list(range(n))

@step
def square(x: int) -> int:
    return x * x

@step
def total(values: list[int], offset: int) -> int:
    return sum(values) + offset

@step
def big(value: int) -> bool:
    return value > 10

@step
def publish(value: int) -> str:
    return str(value)

@step(cache=False)
def audit(value: int) -> int:
    return value

@pipeline
def planned(n: int = 3, offset: int = 0):
    result = total(square.map(load(n)), offset)
    audit(result)
    with when(big(result)):
        publish(result)
"""


def decisions(plan: cadencia.engine.planner.Plan) -> dict[str, str]:  # type: ignore[name-defined]
    return {step.step_name: step.decision for step in plan.steps}


def test_before_any_run_everything_runs_and_nothing_is_written(
    home: Path, write_pipeline: Callable[..., Path]
) -> None:
    plan = cadencia.plan(str(write_pipeline(PIPELINE)))
    assert set(decisions(plan).values()) == {"run"}
    assert not home.exists()


def test_after_a_run_the_plan_predicts_hits_skips_and_misses(
    home: Path, write_pipeline: Callable[..., Path]
) -> None:
    path = str(write_pipeline(PIPELINE))
    first = cadencia.run(path, {"n": 3}, executor="inline")
    assert first.task("publish").state == "skipped"  # 0 + 1 + 4 = 5, not > 10

    same = cadencia.plan(path, {"n": 3})
    assert decisions(same) == {
        "load": "cached",
        "square": "cached",
        "total": "cached",
        "audit": "run",
        "big": "cached",
        "publish": "skip",
    }
    assert same.decision("audit").reason == "caching is off for this step (@step(cache=False))"
    assert same.decision("publish").reason == "condition big is False"
    assert same.decision("load").cached_from == f"{first.run_id}/load"

    changed = cadencia.plan(path, {"n": 3, "offset": 7})
    assert decisions(changed)["total"] == "run"
    assert "argument offset changed: 0 -> 7" in changed.decision("total").reason
    assert decisions(changed)["big"] == "run"
    assert "which will run" in changed.decision("big").reason

    more = cadencia.plan(path, {"n": 4})
    assert more.decision("square").reason == "its inputs come from load, which will run"
    assert "argument n changed: 3 -> 4" in more.decision("load").reason

    no_cache = cadencia.plan(path, {"n": 3}, cache=False)
    assert decisions(no_cache)["load"] == "run"
    assert "--no-cache" in no_cache.decision("load").reason


def test_a_plan_matches_what_the_run_then_does(
    home: Path, write_pipeline: Callable[..., Path]
) -> None:
    path = str(write_pipeline(PIPELINE))
    cadencia.run(path, {"n": 3}, executor="inline")
    plan = cadencia.plan(path, {"n": 5})
    view = cadencia.run(path, {"n": 5}, executor="inline")
    expected = {"run": {"success", "skipped"}, "cached": {"cached"}, "skip": {"skipped"}}
    for step in plan.steps:
        task = view.task(step.step_name)
        if task.map_size is None:
            assert str(task.state) in expected[step.decision], step


def test_editing_the_code_is_explained(home: Path, write_pipeline: Callable[..., Path]) -> None:
    path = write_pipeline(PIPELINE, name="editable_plan")
    cadencia.run(str(path), executor="inline")
    edited = write_pipeline(
        PIPELINE.replace("return sum(values) + offset", "return offset + sum(values)"),
        name="edited_plan",
    )
    plan = cadencia.plan(str(edited))
    assert decisions(plan)["total"] == "run"
    assert plan.decision("total").reason.startswith("its code changed")
