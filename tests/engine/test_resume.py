"""Kill the engine with SIGKILL at any moment; ``cadencia resume`` finishes the run,
re-executing no step that had succeeded and re-running steps that were mid-flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import cadencia
from cadencia.store.records import TaskState

COUNTED = """
import time
from pathlib import Path
from cadencia import pipeline, step

def mark(marks: str, name: str, what: str) -> None:
    with open(Path(marks) / f"{name}.{what}", "a") as handle:
        handle.write("x")

@step
def source(marks: str, n: int) -> list[int]:
    mark(marks, "source", "start")
    mark(marks, "source", "end")
    return list(range(n))

@step
def work(marks: str, item: int, pause: float) -> int:
    mark(marks, f"work{item}", "start")
    time.sleep(pause)
    mark(marks, f"work{item}", "end")
    return item * 2

@step
def slow(marks: str, values: list[int], pause: float) -> int:
    mark(marks, "slow", "start")
    time.sleep(pause)
    mark(marks, "slow", "end")
    return sum(values)

@step
def last(marks: str, total: int) -> int:
    mark(marks, "last", "start")
    mark(marks, "last", "end")
    return total + 1

@pipeline
def counted(marks: str, n: int = 12, pause: float = 0.05, slow_pause: float = 1.5):
    values = [work(marks, i, pause) for i in range(n)]
    last(marks, slow(marks, values, slow_pause))
"""


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadencia.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def read_run(home: Path, run_id: str) -> cadencia.RunView:
    client = cadencia.Client(home)
    view = client.run(run_id)
    view.tasks  # noqa: B018
    return view


def counts(marks: Path, what: str) -> dict[str, int]:
    return {path.stem: len(path.read_text()) for path in marks.glob(f"*.{what}")}


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the run to reach the kill point")
        time.sleep(0.01)


def start_engine(path: Path, marks: Path, home: Path, extra: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "CADENCIA_HOME": str(home)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cadencia.cli.main",
            "run",
            str(path),
            "-p",
            f"marks={marks}",
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def the_run(home: Path) -> cadencia.RunView:
    with cadencia.Client(home) as client:
        runs = client.runs()
        assert len(runs) == 1
        view = runs[0]
        view.tasks  # noqa: B018 - read while the client is open
    return view


def test_resume_after_sigkill_mid_step_reruns_only_unfinished_steps(
    home: Path, tmp_path: Path, write_pipeline: Callable[..., Path]
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    path = write_pipeline(COUNTED)
    engine = start_engine(path, marks, home, ["-p", "n=4"])
    # Kill while 'slow' is running: every 'work' step has succeeded by then.
    wait_for(lambda: (marks / "slow.start").exists())
    engine.send_signal(signal.SIGKILL)
    engine.wait()
    time.sleep(0.3)
    view = the_run(home)
    assert view.state == "running"  # the store says what it knew at the kill
    # "running" is group-committed within 10 ms of the start, so a kill right at the
    # start may find the step still "queued"; either way resume runs it again.
    seen_running = view.task("slow").state == TaskState.RUNNING
    assert seen_running or view.task("slow").state == TaskState.QUEUED
    succeeded_before = {t.task_name for t in view.tasks if t.state == TaskState.SUCCESS}
    assert {f"work_{i}" for i in range(2, 5)} | {"work"} <= succeeded_before

    # The worker running 'slow' died with the engine: it never reaches its end.
    time.sleep(1.8)
    assert counts(marks, "end").get("slow", 0) == 0

    result = cli("resume", view.run_id, env={**os.environ, "CADENCIA_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    view = read_run(home, view.run_id)
    assert view.state == "success"
    assert view.output("last") == sum(i * 2 for i in range(4)) + 1
    starts, ends = counts(marks, "start"), counts(marks, "end")
    assert starts["slow"] == 2 and ends["slow"] == 1  # mid-flight: run again
    for i in range(4):
        assert starts[f"work{i}"] == 1, f"work{i} ran again"
    assert starts["last"] == 1
    assert view.task("slow").attempt == (2 if seen_running else 1)


@pytest.mark.parametrize("kill_after", [0.15, 0.35, 0.6, 0.9])
def test_sigkill_at_any_moment_then_resume_runs_each_succeeded_step_once(
    home: Path, tmp_path: Path, write_pipeline: Callable[..., Path], kill_after: float
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    path = write_pipeline(COUNTED)
    engine = start_engine(
        path, marks, home, ["-p", "n=24", "-p", "pause=0.06", "-p", "slow_pause=0.2"]
    )
    wait_for(lambda: (home / "cadencia.db").exists())
    time.sleep(kill_after)
    engine.send_signal(signal.SIGKILL)
    engine.wait()
    view = the_run(home)
    if view.state == "success":
        pytest.skip("the run finished before the kill (machine faster than expected)")
    succeeded_before = {t.task_name for t in view.tasks if t.state == TaskState.SUCCESS}
    name_of = {f"work{i}": ("work" if i == 0 else f"work_{i + 1}") for i in range(24)}
    name_of.update(slow="slow", last="last")

    result = cli("resume", view.run_id, env={**os.environ, "CADENCIA_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    view = read_run(home, view.run_id)
    assert view.state == "success"
    starts = counts(marks, "start")
    for counter, task_name in name_of.items():
        assert starts.get(counter, 0) >= 1, f"{counter} never ran"
        if task_name in succeeded_before:
            assert starts[counter] == 1, f"{task_name} succeeded before the kill and ran again"
    assert view.output("last") == sum(i * 2 for i in range(24)) + 1


FLAG = """
from pathlib import Path
from cadencia import pipeline, step

def bump(marks: str, name: str) -> None:
    with open(Path(marks) / name, "a") as handle:
        handle.write("x")

@step
def prepare(marks: str) -> int:
    bump(marks, "prepare")
    return 20

@step
def needs_flag(marks: str, value: int) -> int:
    bump(marks, "needs_flag")
    if not (Path(marks) / "flag").exists():
        raise FileNotFoundError("flag is missing")
    return value + 1

@step
def finish(marks: str, value: int) -> int:
    bump(marks, "finish")
    return value * 2

@pipeline
def flagged(marks: str):
    finish(marks, needs_flag(marks, prepare(marks)))
"""


def test_resume_a_failed_run_after_fixing_the_cause(
    home: Path, tmp_path: Path, write_pipeline: Callable[..., Path]
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    path = write_pipeline(FLAG)
    view = cadencia.run(str(path), {"marks": str(marks)}, executor="inline")
    assert view.state == "failed"
    assert view.task("finish").state == TaskState.UPSTREAM_FAILED
    (marks / "flag").touch()
    view = cadencia.resume(view.run_id)
    assert view.state == "success"
    assert view.output("finish") == 42
    assert (marks / "prepare").read_text() == "x"  # succeeded before: not run again
    assert (marks / "needs_flag").read_text() == "xx"
    assert (marks / "finish").read_text() == "x"
    assert view.task("needs_flag").attempt == 2


def test_resuming_a_successful_run_does_nothing(
    home: Path, tmp_path: Path, write_pipeline: Callable[..., Path]
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    (marks / "flag").touch()
    view = cadencia.run(str(write_pipeline(FLAG)), {"marks": str(marks)}, executor="inline")
    assert view.state == "success"
    again = cadencia.resume(view.run_id)
    assert again.state == "success"
    assert (marks / "prepare").read_text() == "x"


def test_resume_refuses_a_run_whose_engine_is_alive(
    home: Path, tmp_path: Path, write_pipeline: Callable[..., Path]
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    engine = start_engine(write_pipeline(COUNTED), marks, home, ["-p", "n=2", "-p", "slow_pause=3"])
    try:
        wait_for(lambda: (marks / "slow.start").exists())
        run_id = the_run(home).run_id
        result = cli("resume", run_id, env={**os.environ, "CADENCIA_HOME": str(home)})
        assert result.returncode == 1
        assert f"still being executed by process {engine.pid}" in result.stderr
    finally:
        engine.kill()
        engine.wait()


def test_resume_refuses_when_the_pipeline_changed(
    home: Path, tmp_path: Path, write_pipeline: Callable[..., Path]
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    path = write_pipeline(FLAG)
    view = cadencia.run(str(path), {"marks": str(marks)}, executor="inline")
    path.write_text(
        path.read_text()
        .replace("finish(marks, needs_flag", "needs_flag")
        .replace("(marks, prepare(marks)))", "(marks, prepare(marks))")
    )
    result = cli("resume", view.run_id, env={**os.environ, "CADENCIA_HOME": str(home)})
    assert result.returncode == 1
    assert "the pipeline changed since run" in result.stderr
    assert "steps added: none; removed: finish" in result.stderr


KILLS_ITS_ENGINE = """
import os, signal
from pathlib import Path
from cadencia import pipeline, step

@step
def extract(marks: str) -> int:
    with open(Path(marks) / "extract", "a") as handle:
        handle.write("x")
    return 1

@step
def load(marks: str, value: int) -> int:
    marker = Path(marks) / "killed"
    if not marker.exists():
        marker.touch()
        os.kill(os.getppid(), signal.SIGKILL)  # the engine dies as this step starts
    return value + 1

@pipeline
def fragile(marks: str):
    load(marks, extract(marks))
"""


def test_a_success_is_durable_before_its_dependants_start(
    home: Path, tmp_path: Path, write_pipeline: Callable[..., Path]
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "CADENCIA_HOME": str(home)}
    for _ in range(3):
        for marker in marks.iterdir():
            marker.unlink()
        path = write_pipeline(KILLS_ITS_ENGINE)
        crashed = cli("run", str(path), "-p", f"marks={marks}", "--no-cache", env=env)
        assert crashed.returncode == -signal.SIGKILL
        with cadencia.Client(home) as client:
            view = client.runs()[0]
            assert view.task("extract").state == TaskState.SUCCESS
            run_id = view.run_id
        resumed = cli("resume", run_id, env=env)
        assert resumed.returncode == 0, resumed.stderr
        assert (marks / "extract").read_text() == "x"
