"""The runner end to end, on both built-in executors, with real stores under tmp_path."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import cadencia
from cadencia.store.records import RunState, TaskState

EXECUTORS = ["inline", "process"]


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def states(view: cadencia.RunView) -> dict[str, str]:
    return {task.task_name: str(task.state) for task in view.tasks}


CHAIN = """
from cadencia import pipeline, step

@step
def first(x: int) -> int:
    return x + 1

@step
def second(y: int) -> int:
    return y * 10

@pipeline
def chain(x: int = 1):
    second(first(x))
"""


def test_a_chain_passes_values_and_records_success(
    home: Path, write_pipeline: Callable[..., Path], executor: str
) -> None:
    view = cadencia.run(str(write_pipeline(CHAIN)), {"x": 4}, executor=executor)
    assert view.state == "success"
    assert view.output("second") == 50
    assert states(view) == {"first": "success", "second": "success"}
    assert all(task.attempt == 1 for task in view.tasks)
    assert view.record.ended_at is not None and view.record.engine_pid is None


FAN = """
from typing import NamedTuple
from cadencia import pipeline, step

class Halves(NamedTuple):
    low: list
    high: list

@step
def numbers(n: int) -> list[int]:
    return list(range(n))

@step
def split(values: list[int]) -> Halves:
    middle = len(values) // 2
    return Halves(values[:middle], values[middle:])

@step
def square(x: int) -> int:
    return x * x

@step
def total(values: list[int]) -> int:
    return sum(values)

@step
def pair(a: int, b: int) -> list[int]:
    return [a, b]

@pipeline
def fan(n: int = 6):
    low, high = split(numbers(n))
    total(square.map(low))
    total(square.map(high))
    pair(total(square.map(numbers(n))), total([square(2), square(3)]))
"""


def test_fan_out_fan_in_and_named_outputs(
    home: Path, write_pipeline: Callable[..., Path], executor: str
) -> None:
    view = cadencia.run(str(write_pipeline(FAN)), {"n": 6}, executor=executor)
    assert view.state == "success", view.record.error
    assert view.output("split", "low") == [0, 1, 2]
    assert view.output("split", "high") == [3, 4, 5]
    assert view.output("square") == [0, 1, 4]
    assert view.output("total") == 5
    assert view.output("total_2") == 50
    assert view.output("pair") == [55, 13]
    fan_out = view.task("square_3")
    assert fan_out.map_size == 6 and fan_out.state == TaskState.SUCCESS
    assert view.task("square_3[5]").state == TaskState.SUCCESS


def test_an_empty_fan_out_gives_an_empty_list(
    home: Path, write_pipeline: Callable[..., Path], executor: str
) -> None:
    view = cadencia.run(str(write_pipeline(FAN)), {"n": 0}, executor=executor)
    assert view.state == "success", view.record.error
    assert view.output("total_3") == 0
    assert view.task("square").map_size == 0


CONDITIONS = """
from cadencia import pipeline, step, when, unless

@step
def score(value: int) -> int:
    return value

@step
def better(score: int, threshold: int) -> bool:
    return score > threshold

@step
def deploy(score: int) -> str:
    return f"deployed {score}"

@step
def notify(message: str) -> str:
    return message.upper()

@step
def keep_champion(score: int) -> str:
    return "kept"

@pipeline
def gated(value: int = 5, threshold: int = 3):
    s = score(value)
    is_better = better(s, threshold)
    with when(is_better):
        message = deploy(s)
    notify(message)
    with unless(is_better):
        keep_champion(s)
"""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, {"deploy": "success", "notify": "success", "keep_champion": "skipped"}),
        (1, {"deploy": "skipped", "notify": "skipped", "keep_champion": "success"}),
    ],
)
def test_conditions_skip_a_step_and_its_dependants(
    home: Path, write_pipeline: Callable[..., Path], value: int, expected: dict[str, str]
) -> None:
    view = cadencia.run(str(write_pipeline(CONDITIONS)), {"value": value}, executor="inline")
    assert view.state == "success"
    found = states(view)
    assert {name: found[name] for name in expected} == expected
    if value == 5:
        assert view.output("notify") == "DEPLOYED 5"
    else:
        assert "condition better is False" in (view.task("deploy").error or "")


FAILING = """
from cadencia import pipeline, step

@step
def ok() -> int:
    return 1

@step
def boom(x: int) -> int:
    raise ValueError(f"bad value {x}")

@step
def after_boom(x: int) -> int:
    return x

@step
def independent() -> int:
    import time
    time.sleep(0.3)
    return 2

@step
def after_independent(x: int) -> int:
    return x

@pipeline
def failing():
    after_boom(boom(ok()))
    after_independent(independent())
"""


def test_a_failure_marks_dependants_upstream_failed_and_keeps_the_traceback(
    home: Path, write_pipeline: Callable[..., Path], executor: str
) -> None:
    view = cadencia.run(str(write_pipeline(FAILING)), executor=executor, continue_on_failure=True)
    assert view.state == "failed"
    found = states(view)
    assert found["boom"] == "failed"
    assert found["after_boom"] == "upstream_failed"
    assert found["after_independent"] == "success"
    error = view.task("boom").error or ""
    assert "ValueError: bad value 1" in error
    assert 'raise ValueError(f"bad value {x}")' in error  # the user's line, verbatim
    assert "cadencia/engine" not in error  # cadencia's own frames are trimmed
    assert "step boom failed" in (view.record.error or "")
    assert "ValueError: bad value 1" in view.log("boom")


def test_fail_fast_stops_starting_new_steps(
    home: Path, write_pipeline: Callable[..., Path]
) -> None:
    view = cadencia.run(str(write_pipeline(FAILING)), executor="inline")
    assert view.state == "failed"
    found = states(view)
    assert found["boom"] == "failed"
    assert found["after_boom"] == "upstream_failed"
    # Independent work that had not started is left queued, ready for resume.
    assert "queued" in {found["independent"], found["after_independent"]}


def test_raise_on_failure(home: Path, write_pipeline: Callable[..., Path]) -> None:
    with pytest.raises(cadencia.errors.TaskFailedError, match="step boom failed"):
        cadencia.run(str(write_pipeline(FAILING)), executor="inline", raise_on_failure=True)


RETRIES = """
from pathlib import Path
from cadencia import pipeline, step

@step(retries=3, retry_delay=0.05, backoff=1.0, jitter=0.0, cache=False)
def flaky(marks: str, fail_times: int) -> int:
    folder = Path(marks)
    attempt = len(list(folder.glob("flaky-*"))) + 1
    (folder / f"flaky-{attempt}").touch()
    if attempt <= fail_times:
        raise RuntimeError(f"attempt {attempt} fails")
    return attempt

@pipeline
def retrying(marks: str, fail_times: int = 2):
    flaky(marks, fail_times)
"""


@pytest.mark.parametrize(("fail_times", "state", "attempts"), [(2, "success", 3), (9, "failed", 4)])
def test_retries_until_success_or_exhaustion(
    home: Path,
    tmp_path: Path,
    write_pipeline: Callable[..., Path],
    executor: str,
    fail_times: int,
    state: str,
    attempts: int,
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    view = cadencia.run(
        str(write_pipeline(RETRIES)),
        {"marks": str(marks), "fail_times": fail_times},
        executor=executor,
    )
    assert view.state == state
    task = view.task("flaky")
    assert task.attempt == attempts
    assert len(list(marks.glob("flaky-*"))) == attempts
    log = view.log("flaky")
    assert "--- attempt 2 ---" in log
    assert "RuntimeError: attempt 1 fails" in log


def test_retry_waits_grow_exponentially_with_bounded_jitter() -> None:
    options = cadencia.step(retries=5, retry_delay=1.0, backoff=2.0, jitter=0.1, max_retry_delay=5)(
        lambda: None
    ).options
    assert options.retry_wait(1, 0.5) == pytest.approx(1.0)
    assert options.retry_wait(2, 0.5) == pytest.approx(2.0)
    assert options.retry_wait(3, 0.0) == pytest.approx(4.0 * 0.9)
    assert options.retry_wait(3, 0.999999) == pytest.approx(4.0 * 1.1, rel=1e-5)
    assert options.retry_wait(10, 0.5) == pytest.approx(5.0)  # capped


HOOKS = """
from pathlib import Path
from cadencia import pipeline, step

def record(event):
    Path(event_folder[0]).joinpath(f"{event.task_name}-{event.state}-{event.attempt}").write_text(
        event.error or ""
    )

event_folder = []

@step(on_success=record)
def good(folder: str) -> int:
    event_folder.append(folder)
    return 1

@step(on_failure=record, retries=1, retry_delay=0)
def bad(folder: str, x: int) -> int:
    raise KeyError("missing")

@pipeline
def hooked(folder: str):
    bad(folder, good(folder))
"""


def test_hooks_receive_the_outcome(
    home: Path, tmp_path: Path, write_pipeline: Callable[..., Path]
) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    view = cadencia.run(str(write_pipeline(HOOKS)), {"folder": str(folder)}, executor="inline")
    assert view.state == "failed"
    names = sorted(path.name for path in folder.iterdir())
    assert names == ["bad-failed-2", "good-success-1"]  # on_failure once, after the last attempt
    assert "KeyError: 'missing'" in (folder / "bad-failed-2").read_text()


TIMEOUT = """
import time
from cadencia import pipeline, step

@step(timeout=0.5, retries=1, retry_delay=0)
def slow() -> int:
    time.sleep(30)
    return 1

@step
def quick() -> int:
    return 2

@pipeline
def timing():
    slow()
    quick()
"""


def test_a_timeout_really_stops_the_step(
    home: Path, write_pipeline: Callable[..., Path], executor: str
) -> None:
    view = cadencia.run(str(write_pipeline(TIMEOUT)), executor=executor, continue_on_failure=True)
    assert view.state == "failed"
    slow = view.task("slow")
    assert slow.state == TaskState.FAILED
    assert slow.attempt == 2
    assert "timeout of 0.5 s" in (slow.error or "")
    assert view.task("quick").state == TaskState.SUCCESS
    assert view.record.duration is not None and view.record.duration < 10


CRASH = """
import os, signal
from pathlib import Path
from cadencia import pipeline, step

@step(retries=1, retry_delay=0, cache=False)
def dies_once(marks: str) -> int:
    marker = Path(marks) / "died"
    if not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return 7

@step
def downstream(x: int) -> int:
    return x + 1

@pipeline
def crashing(marks: str):
    downstream(dies_once(marks))
"""


def test_a_killed_worker_is_reported_and_retried(
    home: Path, tmp_path: Path, write_pipeline: Callable[..., Path]
) -> None:
    view = cadencia.run(str(write_pipeline(CRASH)), {"marks": str(tmp_path)}, executor="process")
    assert view.state == "success", view.record.error
    task = view.task("dies_once")
    assert task.attempt == 2
    assert view.output("downstream") == 8


def test_a_killed_worker_without_retries_fails_downstream(
    home: Path, tmp_path: Path, write_pipeline: Callable[..., Path]
) -> None:
    source = CRASH.replace("retries=1", "retries=0")
    view = cadencia.run(str(write_pipeline(source)), {"marks": str(tmp_path)}, executor="process")
    assert view.state == "failed"
    assert "killed by signal SIGKILL" in (view.task("dies_once").error or "")
    assert view.task("downstream").state == TaskState.UPSTREAM_FAILED


UNSTORABLE = """
from cadencia import pipeline, step

class Opaque:
    pass

@step(retries=3, retry_delay=0)
def make():
    return Opaque()

@step(pickle=True)
def make_pickled():
    return Opaque()

@pipeline
def unstorable():
    make()
    make_pickled()
"""


def test_an_output_no_materializer_stores_fails_clearly_without_retries(
    home: Path, write_pipeline: Callable[..., Path], executor: str
) -> None:
    path = write_pipeline(UNSTORABLE)
    view = cadencia.run(str(path), executor=executor, continue_on_failure=True)
    task = view.task("make")
    assert task.state == TaskState.FAILED
    assert task.attempt == 1  # retrying cannot help
    assert f"{path}:" in (task.error or "")
    assert "no materializer stores a value of type" in (task.error or "")
    assert "@step(pickle=True)" in (task.error or "")
    assert view.task("make_pickled").state == TaskState.SUCCESS
    assert type(view.output("make_pickled")).__name__ == "Opaque"


MISMATCH = """
from cadencia import pipeline, step

@step
def one(n: int) -> list[int]:
    return list(range(n))

@step
def two(n: int) -> list[int]:
    return list(range(n + 1))

@step
def add(a: int, b: int) -> int:
    return a + b

@step
def flag() -> int:
    return 1

@step
def gated() -> int:
    return 1

@pipeline
def mismatched():
    add.map(one(2), two(2))
"""


def test_mapped_lists_of_different_lengths_fail(
    home: Path, write_pipeline: Callable[..., Path]
) -> None:
    view = cadencia.run(str(write_pipeline(MISMATCH)), executor="inline")
    assert view.state == "failed"
    assert "different lengths" in (view.task("add").error or "")


def test_the_run_summary_names_the_run_state(
    home: Path, write_pipeline: Callable[..., Path]
) -> None:
    view = cadencia.run(str(write_pipeline(CHAIN)), executor="inline")
    assert view.record.state == RunState.SUCCESS
    assert view.run_id in repr(view)


WHO_AM_I = """
from cadencia import current_task, pipeline, step

@step
def items() -> list[int]:
    return [10, 20]

@step
def who(x: int) -> list:
    info = current_task()
    return [info.run_id, info.task_name, info.step_name, info.attempt, info.map_index, x]

@pipeline
def introspective():
    who.map(items())
"""


def test_a_step_knows_its_run_and_task(
    home: Path, write_pipeline: Callable[..., Path], executor: str
) -> None:
    view = cadencia.run(str(write_pipeline(WHO_AM_I)), executor=executor)
    assert view.output("who") == [
        [view.run_id, "who[0]", "who", 1, 0, 10],
        [view.run_id, "who[1]", "who", 1, 1, 20],
    ]
    with pytest.raises(cadencia.errors.UsageError, match="outside a running step"):
        cadencia.current_task()


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_workers_started_fresh_rebuild_the_pipeline(
    home: Path,
    tmp_path: Path,
    write_pipeline: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    method: str,
) -> None:
    monkeypatch.setenv("CADENCIA_START_METHOD", method)
    view = cadencia.run(str(write_pipeline(FAN)), {"n": 6})
    assert view.state == "success", view.record.error
    assert view.output("pair") == [55, 13]
    # A timeout still kills a fresh worker and a replacement is started.
    timed = cadencia.run(str(write_pipeline(TIMEOUT)), continue_on_failure=True)
    assert timed.task("slow").attempt == 2
    assert timed.task("quick").state == TaskState.SUCCESS


def test_a_fresh_start_needs_an_importable_pipeline(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cadencia import pipeline, step

    @step
    def local_step() -> int:
        return 1

    @pipeline
    def local_pipeline() -> None:
        local_step()

    monkeypatch.setenv("CADENCIA_START_METHOD", "spawn")
    with pytest.raises(cadencia.errors.UsageError, match="needs a pipeline other processes can"):
        cadencia.run(local_pipeline)


def test_a_step_sees_the_run_home(
    tmp_path: Path,
    write_pipeline: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    executor: str,
) -> None:
    monkeypatch.delenv("CADENCIA_HOME", raising=False)
    source = """
import os
from cadencia import current_task, pipeline, step

@step
def where() -> list:
    return [os.environ.get("CADENCIA_HOME"), current_task().home]

@pipeline
def located():
    where()
"""
    run_home = tmp_path / "elsewhere"
    view = cadencia.run(str(write_pipeline(source)), executor=executor, home=run_home)
    assert view.output("where") == [str(run_home), str(run_home)]
    assert "CADENCIA_HOME" not in os.environ
