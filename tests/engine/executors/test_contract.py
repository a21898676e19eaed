"""The contract every executor passes: what the runner relies on, and nothing more."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cadencia.authoring.graph import Graph
from cadencia.engine.capture import read_log
from cadencia.engine.executors.base import (
    Executor,
    ExecutorContext,
    create_executor,
    executor_names,
)
from cadencia.engine.source import load_target
from cadencia.engine.spec import ArtifactInput, TaskResult, TaskSpec
from cadencia.errors import UsageError
from cadencia.store import open_artifact_store
from cadencia.store.config import Settings
from cadencia.store.hashing import digest_bytes
from cadencia.store.materializers import registry

PIPELINE = """
import logging
from cadencia import pipeline, step

@step
def double(x: int) -> int:
    print(f"doubling {x}")
    logging.getLogger("flow").warning("careful with %s", x)
    return x * 2

@step
def fail(x: int) -> int:
    raise ZeroDivisionError("no")

@pipeline
def contract(x: int = 3):
    fail(double(x))
"""


@pytest.fixture(params=["inline", "process"])
def executor(
    request: pytest.FixtureRequest, tmp_path: Path, write_pipeline: Callable[..., Path]
) -> Iterator[tuple[Executor, Graph, Path]]:
    pipeline, _ = load_target(str(write_pipeline(PIPELINE)))
    graph = pipeline.build(x=3)
    settings = Settings.resolve(tmp_path / "home")
    chosen = create_executor(str(request.param))
    chosen.start(
        ExecutorContext(graph, open_artifact_store(settings.artifacts_url), registry, settings)
    )
    log_dir = tmp_path / "logs"
    yield chosen, graph, log_dir
    chosen.shutdown()


def spec(task: str, node: str, log_dir: Path, **inputs: ArtifactInput) -> TaskSpec:
    return TaskSpec("run-1", task, node, 1, dict(inputs), log_dir=str(log_dir))


def wait_all(executor: Executor, count: int) -> list[TaskResult]:
    results: list[TaskResult] = []
    deadline = time.monotonic() + 30
    while len(results) < count and time.monotonic() < deadline:
        results += executor.wait(1.0)
    return results


def test_a_submitted_task_comes_back_with_its_outputs(
    executor: tuple[Executor, Graph, Path],
) -> None:
    chosen, _, log_dir = executor
    assert chosen.slots >= 1 and chosen.in_flight == 0
    chosen.submit(spec("double", "double", log_dir))
    assert chosen.in_flight == 1
    (result,) = wait_all(chosen, 1)
    assert chosen.in_flight == 0
    assert result.ok and result.task_name == "double" and result.attempt == 1
    (output,) = result.outputs
    assert output.data == b"6" and output.digest == digest_bytes(b"6")
    assert result.log is not None
    log = read_log(log_dir, [result.log])
    assert "doubling 3" in log
    assert "WARNING flow: careful with 3" in log


def test_inputs_arrive_from_artifacts(executor: tuple[Executor, Graph, Path]) -> None:
    chosen, _, log_dir = executor
    six = ArtifactInput(digest_bytes(b"6"), "json@1", b"6")
    chosen.submit(spec("fail", "fail", log_dir, x=six))
    (result,) = wait_all(chosen, 1)
    assert not result.ok and result.failure is not None
    assert result.failure.kind == "error" and result.failure.retryable
    assert "ZeroDivisionError: no" in result.failure.render()
    assert "ZeroDivisionError: no" in read_log(log_dir, [result.log] if result.log else [])


def test_a_corrupted_inline_input_fails_without_retry(
    executor: tuple[Executor, Graph, Path],
) -> None:
    chosen, _, log_dir = executor
    wrong = ArtifactInput(digest_bytes(b"6"), "json@1", b"7")
    chosen.submit(spec("fail", "fail", log_dir, x=wrong))
    (result,) = wait_all(chosen, 1)
    assert result.failure is not None and result.failure.kind == "input"
    assert not result.failure.retryable
    assert "is corrupted" in result.failure.message


def test_slots_bound_what_can_be_submitted(executor: tuple[Executor, Graph, Path]) -> None:
    chosen, _, log_dir = executor
    submitted = 0
    while chosen.slots > 0:
        chosen.submit(spec(f"double-{submitted}", "double", log_dir))
        submitted += 1
    assert chosen.in_flight == submitted >= 1
    results = wait_all(chosen, submitted)
    assert sorted(r.task_name for r in results) == sorted(f"double-{i}" for i in range(submitted))


def test_waiting_with_nothing_in_flight_returns_after_the_timeout(
    executor: tuple[Executor, Graph, Path],
) -> None:
    chosen, _, _ = executor
    start = time.monotonic()
    assert chosen.wait(0.2) == []
    assert 0.15 <= time.monotonic() - start < 2


def test_shutdown_twice_is_harmless(executor: tuple[Executor, Graph, Path]) -> None:
    chosen, _, _ = executor
    chosen.shutdown()
    chosen.shutdown()


def test_an_unknown_executor_lists_the_known_ones() -> None:
    assert {"inline", "process"} <= set(executor_names())
    with pytest.raises(UsageError, match=r"unknown executor 'dask'; available executors: .*inline"):
        create_executor("dask")
