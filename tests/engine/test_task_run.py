"""``cadencia task run RUN_ID STEP``: one step, in a fresh process, from the stores alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cadencia
from cadencia.store.records import TaskState

PIPELINE = """
from cadencia import pipeline, step, when

@step
def numbers(n: int) -> list[int]:
    return list(range(n))

@step
def square(x: int) -> int:
    return x * x

@step
def total(values: list[int]) -> int:
    return sum(values)

@step
def big(value: int) -> bool:
    return value > 100

@step
def celebrate(value: int) -> str:
    return f"big: {value}"

@pipeline
def driven(n: int = 4):
    result = total(square.map(numbers(n)))
    with when(big(result)):
        celebrate(result)
"""


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadencia.cli.main", *args],
        env={**os.environ, "CADENCIA_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_run_driven_task_by_task_from_fresh_processes(
    home: Path, write_pipeline: Callable[..., Path]
) -> None:
    path = write_pipeline(PIPELINE)
    created = cli(home, "run", str(path), "-p", "n=4", "--create-only", "--json")
    assert created.returncode == 0, created.stderr
    run_id = json.loads(created.stdout)["run_id"]
    with cadencia.Client(home) as client:
        assert {t.state for t in client.run(run_id).tasks} == {TaskState.QUEUED}

    early = cli(home, "task", "run", run_id, "total")
    assert early.returncode == 1
    assert "upstream square (queued) has not finished" in early.stderr

    for step_name, state in [
        ("numbers", "success"),
        ("square", "success"),
        ("total", "success"),
        ("big", "success"),
        ("celebrate", "skipped"),
    ]:
        result = cli(home, "task", "run", run_id, step_name, "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["state"] == state

    with cadencia.Client(home) as client:
        view = client.run(run_id)
        assert view.state == "success"
        assert view.output("total") == 14
        assert view.task("square[3]").state == TaskState.SUCCESS


def test_task_run_of_an_unknown_step_is_a_usage_error(
    home: Path, write_pipeline: Callable[..., Path]
) -> None:
    path = write_pipeline(PIPELINE)
    run_id = cli(home, "run", str(path), "--create-only").stdout.strip()
    result = cli(home, "task", "run", run_id, "nope")
    assert result.returncode == 2
    assert "has no step 'nope'" in result.stderr
    assert "numbers, square, total, big, celebrate" in result.stderr
