"""Starting, resuming and single-task runs: wiring a graph, the stores and a runner.

Everything that can be checked is checked before the first byte is written:
parameters, the graph, and that every declared output type can be stored.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cadencia.authoring import params as params_module
from cadencia.authoring.graph import Graph
from cadencia.authoring.pipeline import Pipeline
from cadencia.engine.events import RunObserver
from cadencia.engine.executors.base import create_executor
from cadencia.engine.runner import Runner
from cadencia.engine.source import PipelineSource, load_source
from cadencia.errors import GraphError, NotFoundError, Problem, RunStateError, UsageError
from cadencia.store import open_artifact_store, open_metadata_store
from cadencia.store.artifacts import ArtifactStore
from cadencia.store.config import Settings
from cadencia.store.materializers import registry as default_registry
from cadencia.store.metadata import MetadataStore
from cadencia.store.records import OutputRecord, RunRecord, RunState, TaskRecord


@dataclass
class Stores:
    settings: Settings
    metadata: MetadataStore
    artifacts: ArtifactStore

    def close(self) -> None:
        self.metadata.close()


@contextlib.contextmanager
def open_stores(settings: Settings) -> Iterator[Stores]:
    metadata = open_metadata_store(settings.db_url)
    try:
        yield Stores(settings, metadata, open_artifact_store(settings.artifacts_url))
    finally:
        metadata.close()


def new_run_id() -> str:
    """Sortable by start time, unique without coordination: ``20261124-142501-3fa9c1``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def check_outputs_storable(graph: Graph) -> None:
    """A step whose return annotation no materializer stores fails before the run starts."""
    problems = []
    for node in graph:
        if node.step.options.pickle:
            continue
        for output, annotation in node.step.output_types.items():
            if not default_registry.supports_annotation(annotation):
                label = "" if output == "return" else f" '{output}'"
                problems.append(
                    Problem(
                        f"its output{label} is declared {_type_name(annotation)}, "
                        "which no materializer stores. Return a supported type, register a "
                        "Materializer for it, or opt in with @step(pickle=True)",
                        node.step.defined_at.file,
                        node.step.defined_at.line,
                        node.name,
                    )
                )
    if problems:
        raise GraphError(problems, graph.pipeline_name)


def _type_name(annotation: Any) -> str:
    return str(getattr(annotation, "__qualname__", annotation))


def prepare_graph(pipeline: Pipeline, given: Mapping[str, Any], *, from_text: bool) -> Graph:
    values = pipeline.resolve_params(given, from_text=from_text)
    graph = pipeline.build_resolved(values)
    check_outputs_storable(graph)
    return graph


@dataclass
class RunOptions:
    executor: str = "process"
    workers: int | None = None
    use_cache: bool = True
    continue_on_failure: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "executor": self.executor,
            "workers": self.workers,
            "use_cache": self.use_cache,
            "continue_on_failure": self.continue_on_failure,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunOptions:
        return cls(
            executor=str(data.get("executor", "process")),
            workers=data.get("workers"),
            use_cache=bool(data.get("use_cache", True)),
            continue_on_failure=bool(data.get("continue_on_failure", False)),
        )


def create_run(
    graph: Graph,
    pipeline: Pipeline,
    source: PipelineSource,
    settings: Settings,
    options: RunOptions,
    run_id: str | None = None,
) -> tuple[RunRecord, list[TaskRecord]]:
    """Record a new run with every task queued, without executing anything.

    ``cadencia run --create-only`` and orchestrators that drive tasks one by
    one (``cadencia task run``) start here.
    """
    create_executor(options.executor, **_executor_options(options))  # fail early on a bad name
    now = time.time()
    run = RunRecord(
        run_id=run_id or new_run_id(),
        pipeline_name=pipeline.name,
        source=source.to_json(),
        params=params_module.to_json(graph.params),
        options=options.to_json(),
        state=RunState.QUEUED,
        created_at=now,
        code_version=code_version(source),
    )
    tasks = [
        TaskRecord(run.run_id, node.name, node.name, seq=index, queued_at=now)
        for index, node in enumerate(graph)
    ]
    with open_stores(settings) as stores:
        stores.metadata.create_run(run, tasks)
    return run, tasks


def start_run(
    graph: Graph,
    pipeline: Pipeline,
    source: PipelineSource,
    settings: Settings,
    options: RunOptions,
    observer: RunObserver | None = None,
    run_id: str | None = None,
) -> RunRecord:
    """Record a new run and execute it to the end."""
    run, tasks = create_run(graph, pipeline, source, settings, options, run_id)
    with open_stores(settings) as stores:
        return _runner(stores, graph, run, tasks, [], options, observer).execute()


def _runner(
    stores: Stores,
    graph: Graph,
    run: RunRecord,
    tasks: list[TaskRecord],
    outputs: list[OutputRecord],
    options: RunOptions,
    observer: RunObserver | None,
    only: str | None = None,
) -> Runner:
    return Runner(
        graph=graph,
        run=run,
        tasks=tasks,
        outputs=outputs,
        store=stores.metadata,
        artifacts=stores.artifacts,
        registry=default_registry,
        executor=create_executor(options.executor, **_executor_options(options)),
        settings=stores.settings,
        observer=observer,
        use_cache=options.use_cache,
        continue_on_failure=options.continue_on_failure,
        only=only,
    )


def _executor_options(options: RunOptions) -> dict[str, Any]:
    return {"workers": options.workers} if options.workers and options.executor == "process" else {}


def rebuild_graph(run: RunRecord) -> tuple[Pipeline, Graph]:
    """The graph of a recorded run, rebuilt from its source and parameters."""
    pipeline = load_source(PipelineSource.from_json(run.source))
    values = params_module.from_json(run.params, pipeline.params)
    return pipeline, pipeline.build_resolved(values)


def resume_run(
    run_id: str,
    settings: Settings,
    observer: RunObserver | None = None,
    executor: str | None = None,
) -> RunRecord:
    """Finish a run that failed or whose engine died, re-running only what did not succeed."""
    with open_stores(settings) as stores:
        run = stores.metadata.get_run(run_id)
        if run.state == RunState.SUCCESS:
            return run
        _claim(stores.metadata, run)
        _, graph = rebuild_graph(run)
        tasks = stores.metadata.get_tasks(run_id)
        _check_same_graph(graph, tasks, run)
        options = RunOptions.from_json(run.options)
        if executor is not None:
            options.executor = executor
        outputs = stores.metadata.get_outputs(run_id)
        return _runner(stores, graph, run, tasks, outputs, options, observer).execute()


def _claim(metadata: MetadataStore, run: RunRecord) -> None:
    host, pid = socket.gethostname(), os.getpid()
    if run.engine_pid and run.engine_pid != pid:
        if run.engine_host == host and process_alive(run.engine_pid):
            raise RunStateError(
                f"run {run.run_id} is still being executed by process {run.engine_pid} on this "
                "machine; wait for it to finish, or stop that process and resume again"
            )
        if run.engine_host not in (None, host):
            raise RunStateError(
                f"run {run.run_id} was last executed on host {run.engine_host}; it may still be "
                "running there. Resume it on that host"
            )
    if not metadata.claim_run(run.run_id, host, pid, run.engine_pid):
        raise RunStateError(f"run {run.run_id} was claimed by another process at the same moment")
    run.engine_host, run.engine_pid = host, pid


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child that its parent has not reaped yet is a zombie: dead for us
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _check_same_graph(graph: Graph, tasks: list[TaskRecord], run: RunRecord) -> None:
    recorded = {task.node_name for task in tasks if task.map_index is None}
    current = set(graph.nodes)
    if recorded != current:
        added = ", ".join(sorted(current - recorded)) or "none"
        removed = ", ".join(sorted(recorded - current)) or "none"
        raise RunStateError(
            f"the pipeline changed since run {run.run_id} started (steps added: {added}; "
            f"removed: {removed}), so it cannot be resumed; start a new run instead (cached "
            "steps will not run again)"
        )


def run_single_task(run_id: str, task_name: str, settings: Settings) -> TaskRecord:
    """Execute one task of a recorded run in this process (``cadencia task run``).

    Its upstream tasks must have finished; the result is recorded exactly as
    the engine would record it, so a run can be driven task by task from
    outside (Airflow, a remote executor).
    """
    with open_stores(settings) as stores:
        run = stores.metadata.get_run(run_id)
        _, graph = rebuild_graph(run)
        node_name = task_name.split("[", 1)[0]
        if node_name != task_name and node_name in graph.nodes:
            raise UsageError(
                f"{task_name!r} is one element of the fan-out step {node_name!r}; a fan-out "
                f"runs as a whole: cadencia task run {run_id} {node_name}"
            )
        if node_name not in graph.nodes:
            raise NotFoundError(
                f"run {run_id} has no step {task_name!r}; its steps are: {', '.join(graph.nodes)}"
            )
        tasks = stores.metadata.get_tasks(run_id)
        by_name = {task.task_name: task for task in tasks}
        node = graph.nodes[node_name]
        waiting = [
            f"{up} ({by_name[up].state})"
            for up in sorted(node.upstream())
            if not by_name[up].state.finished
        ]
        if waiting:
            raise RunStateError(
                f"step {node_name} of run {run_id} cannot run yet: upstream "
                f"{', '.join(waiting)} has not finished; run it first"
            )
        options = RunOptions.from_json(run.options)
        options.executor, options.continue_on_failure = "inline", True
        outputs = stores.metadata.get_outputs(run_id)
        runner = _runner(stores, graph, run, tasks, outputs, options, None, only=node_name)
        runner.execute()
        return runner.tasks[node_name]


def code_version(source: PipelineSource) -> str | None:
    """The git commit of the repository holding a pipeline's file, read without running git."""
    file = source.target if source.kind == "file" else source.path
    if file is None:
        return None
    from pathlib import Path

    folder = Path(file).parent
    for candidate in (folder, *folder.parents):
        git = candidate / ".git"
        if git.is_dir():
            try:
                head = (git / "HEAD").read_text().strip()
                if not head.startswith("ref: "):
                    return head
                ref = head.removeprefix("ref: ")
                ref_file = git / ref
                if ref_file.is_file():
                    return ref_file.read_text().strip()
                packed = git / "packed-refs"
                if packed.is_file():
                    for line in packed.read_text().splitlines():
                        if line.endswith(" " + ref):
                            return line.split()[0]
            except OSError:
                return None
            return None
    return None
