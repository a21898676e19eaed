"""Caching: a hit costs no execution and is recorded ``cached``; every key part invalidates it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

import cadencia
from cadencia.store.records import TaskState

COUNTING = """
from pathlib import Path
from cadencia import pipeline, step

def bump(marks: str, name: str) -> None:
    with open(Path(marks) / name, "a") as handle:
        handle.write("x")

@step
def load(marks: str, n: int) -> list[int]:
    bump(marks, "load")
    return list(range(n))

@step
def double(marks: str, x: int) -> int:
    bump(marks, f"double{x}")
    return x * 2

@step
def total(marks: str, values: list[int]) -> int:
    bump(marks, "total")
    return sum(values)

@step(cache=False)
def always(marks: str, value: int) -> int:
    bump(marks, "always")
    return value

@pipeline
def counting(marks: str, n: int = 3):
    always(marks, total(marks, double.map(load(marks, n), marks=marks)))
"""


def runs_of(marks: Path, name: str) -> int:
    path = marks / name
    return len(path.read_text()) if path.exists() else 0


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    folder = tmp_path / "marks"
    folder.mkdir()
    return folder


def test_a_second_run_hits_the_cache(
    home: Path, marks: Path, write_pipeline: Callable[..., Path]
) -> None:
    path = str(write_pipeline(COUNTING))
    first = cadencia.run(path, {"marks": str(marks)}, executor="inline")
    second = cadencia.run(path, {"marks": str(marks)}, executor="inline")
    assert first.state == second.state == "success"
    assert second.task("load").state == TaskState.CACHED
    assert second.task("load").cached_from == f"{first.run_id}/load"
    assert second.task("double[2]").state == TaskState.CACHED
    assert second.task("total").state == TaskState.CACHED
    assert second.task("always").state == TaskState.SUCCESS  # @step(cache=False)
    assert runs_of(marks, "load") == 1
    assert runs_of(marks, "double2") == 1
    assert runs_of(marks, "always") == 2
    assert second.output("total") == first.output("total") == 6


def test_a_changed_parameter_reruns_only_what_it_reaches(
    home: Path, marks: Path, write_pipeline: Callable[..., Path]
) -> None:
    path = str(write_pipeline(COUNTING))
    cadencia.run(path, {"marks": str(marks), "n": 3}, executor="inline")
    view = cadencia.run(path, {"marks": str(marks), "n": 4}, executor="inline")
    assert view.task("load").state == TaskState.SUCCESS
    # Elements 0-2 are the same values as before: cached element by element.
    assert [view.task(f"double[{i}]").state for i in range(4)] == [
        TaskState.CACHED,
        TaskState.CACHED,
        TaskState.CACHED,
        TaskState.SUCCESS,
    ]
    assert view.task("total").state == TaskState.SUCCESS
    assert view.output("total") == 12


def test_no_cache_runs_everything(
    home: Path, marks: Path, write_pipeline: Callable[..., Path]
) -> None:
    path = str(write_pipeline(COUNTING))
    cadencia.run(path, {"marks": str(marks)}, executor="inline")
    view = cadencia.run(path, {"marks": str(marks)}, executor="inline", cache=False)
    assert {t.state for t in view.tasks} == {TaskState.SUCCESS}
    assert runs_of(marks, "load") == 2


def test_editing_a_step_invalidates_its_cache(
    home: Path, marks: Path, write_pipeline: Callable[..., Path]
) -> None:
    first = write_pipeline(COUNTING, name="editable")
    cadencia.run(str(first), {"marks": str(marks)}, executor="inline")
    edited = write_pipeline(
        COUNTING.replace("return sum(values)", "return sum(values) + 0"), name="edited"
    )
    view = cadencia.run(str(edited), {"marks": str(marks)}, executor="inline")
    assert view.task("load").state == TaskState.CACHED
    assert view.task("total").state == TaskState.SUCCESS
    assert view.task("always").state == TaskState.SUCCESS


BIG = """
from pathlib import Path
from cadencia import pipeline, step

@step
def payload(marks: str, size: int) -> bytes:
    with open(Path(marks) / "payload", "a") as handle:
        handle.write("x")
    return b"x" * size

@step(cache=False)
def measure(data: bytes) -> int:
    return len(data)

@pipeline
def big(marks: str, size: int = 100_000):
    measure(payload(marks, size))
"""


def test_small_values_live_inline_and_large_ones_in_the_artifact_store(
    home: Path, marks: Path, write_pipeline: Callable[..., Path]
) -> None:
    view = cadencia.run(str(write_pipeline(BIG)), {"marks": str(marks)}, executor="process")
    large = view.output_record("payload")
    small = view.output_record("measure")
    assert not large.inline and large.size == 100_000
    assert Path(view.client.artifacts.location(large.digest)).is_file()
    assert small.inline
    assert not Path(view.client.artifacts.location(small.digest)).exists()
    assert view.output("measure") == 100_000


def test_a_deleted_artifact_is_a_cache_miss_not_an_error(
    home: Path, marks: Path, write_pipeline: Callable[..., Path]
) -> None:
    path = str(write_pipeline(BIG))
    first = cadencia.run(path, {"marks": str(marks)}, executor="inline")
    record = first.output_record("payload")
    artifact = Path(first.client.artifacts.location(record.digest))
    artifact.chmod(0o644)
    artifact.unlink()
    view = cadencia.run(path, {"marks": str(marks)}, executor="inline")
    assert view.task("payload").state == TaskState.SUCCESS
    assert runs_of(marks, "payload") == 2


def test_a_corrupted_artifact_file_is_an_error_never_silently_used(
    home: Path, marks: Path, write_pipeline: Callable[..., Path]
) -> None:
    path = str(write_pipeline(BIG))
    first = cadencia.run(path, {"marks": str(marks)}, executor="inline")
    record = first.output_record("payload")
    artifact = Path(first.client.artifacts.location(record.digest))
    artifact.chmod(0o644)
    artifact.write_bytes(b"y" * 100_000)
    # A run whose step reads it fails that step with the clear cause, without retrying...
    resumed_like = cadencia.run(path, {"marks": str(marks)}, executor="process")
    measure = resumed_like.task("measure")
    assert measure.state == TaskState.FAILED
    assert "is corrupted" in (measure.error or "")
    assert "The damaged file was moved to" in (measure.error or "")
    assert measure.attempt == 1
    # ...and the damaged file was moved aside: the next run produces it again and succeeds.
    with pytest.raises(cadencia.errors.NotFoundError, match="is missing"):
        first.output("payload")
    healed = cadencia.run(path, {"marks": str(marks)}, executor="process")
    assert healed.state == "success"
    assert healed.task("payload").state == TaskState.SUCCESS
    assert healed.output("measure") == 100_000
    assert runs_of(marks, "payload") == 2


def test_a_corrupted_inline_artifact_is_an_error(
    home: Path, marks: Path, write_pipeline: Callable[..., Path]
) -> None:
    path = str(write_pipeline(COUNTING))
    first = cadencia.run(path, {"marks": str(marks)}, executor="inline")
    record = first.output_record("total")
    assert record.inline
    connection = sqlite3.connect(home / "cadencia.db")
    with connection:
        connection.execute(
            "UPDATE artifact_blobs SET data = ? WHERE digest = ?", (b"999", record.digest)
        )
    connection.close()
    with pytest.raises(cadencia.errors.ArtifactCorruptedError, match=r"inline.*is corrupted"):
        first.output("total")
    view = cadencia.run(path, {"marks": str(marks)}, executor="inline")
    always = view.task("always")
    assert always.state == TaskState.FAILED
    assert "is corrupted" in (always.error or "")
