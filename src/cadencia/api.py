"""The Python API, mirroring the CLI: ``run``, ``plan``, ``resume``, ``run_task``.

>>> import cadencia
>>> result = cadencia.run("flows.py:train", {"trials": 20})   # doctest: +SKIP
>>> result.state, result.output("evaluate")                    # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cadencia.authoring.pipeline import Pipeline
from cadencia.errors import TaskFailedError
from cadencia.store.config import Settings

if TYPE_CHECKING:
    from cadencia.client import RunView
    from cadencia.engine.events import RunObserver
    from cadencia.engine.planner import Plan
    from cadencia.store.records import TaskRecord


def _pipeline_and_source(pipeline: Pipeline | str) -> tuple[Pipeline, Any]:
    from cadencia.engine.source import load_target, source_of

    if isinstance(pipeline, str):
        return load_target(pipeline)
    if not isinstance(pipeline, Pipeline):
        raise TypeError(f"expected a @pipeline or 'FILE.py:NAME', got {pipeline!r}")
    return pipeline, source_of(pipeline)


def run(
    pipeline: Pipeline | str,
    params: Mapping[str, Any] | None = None,
    /,
    *,
    executor: str = "process",
    workers: int | None = None,
    cache: bool = True,
    continue_on_failure: bool = False,
    home: str | os.PathLike[str] | None = None,
    raise_on_failure: bool = False,
    observer: RunObserver | None = None,
    params_as_text: bool = False,
) -> RunView:
    """Build, validate and run a pipeline; return a view of the finished run.

    ``pipeline`` is a ``@pipeline`` object or ``"FILE.py[:NAME]"`` /
    ``"package.module:NAME"``. Invalid parameters or graphs raise a
    ``UsageError`` before anything is written. A failed run returns normally
    (``result.state == "failed"``) unless ``raise_on_failure`` is set.
    """
    from cadencia.client import Client
    from cadencia.engine.session import RunOptions, prepare_graph, start_run

    target, source = _pipeline_and_source(pipeline)
    graph = prepare_graph(target, params or {}, from_text=params_as_text)
    settings = Settings.resolve(home)
    options = RunOptions(executor, workers, cache, continue_on_failure)
    record = start_run(graph, target, source, settings, options, observer)
    if raise_on_failure and record.state != "success":
        raise TaskFailedError(record.error or f"run {record.run_id} failed", record.run_id)
    return Client(home=settings.home, settings=settings).run(record.run_id)


def resume(
    run_id: str,
    *,
    home: str | os.PathLike[str] | None = None,
    executor: str | None = None,
    observer: RunObserver | None = None,
) -> RunView:
    """Finish a failed or interrupted run; steps that succeeded are not run again."""
    from cadencia.client import Client
    from cadencia.engine.session import resume_run

    settings = Settings.resolve(home)
    resume_run(run_id, settings, observer, executor)
    return Client(home=settings.home, settings=settings).run(run_id)


def run_task(
    run_id: str, task_name: str, *, home: str | os.PathLike[str] | None = None
) -> TaskRecord:
    """Run one task of a recorded run in this process (what ``cadencia task run`` does)."""
    from cadencia.engine.session import run_single_task

    return run_single_task(run_id, task_name, Settings.resolve(home))


def plan(
    pipeline: Pipeline | str,
    params: Mapping[str, Any] | None = None,
    /,
    *,
    cache: bool = True,
    home: str | os.PathLike[str] | None = None,
    params_as_text: bool = False,
) -> Plan:
    """What a run would do, step by step (run, reuse the cache or skip) and why. Writes nothing."""
    from cadencia.engine.planner import make_plan
    from cadencia.engine.session import prepare_graph

    target, _ = _pipeline_and_source(pipeline)
    graph = prepare_graph(target, params or {}, from_text=params_as_text)
    return make_plan(graph, Settings.resolve(home), use_cache=cache)
