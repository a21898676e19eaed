"""The scheduling loop: decide what runs next, hand it to an executor, record outcomes.

The runner keeps the run's state in memory and writes every transition to
the metadata store; the transitions of one loop turn go in one transaction
(group commit), which keeps durability per transition without one commit
per state change. The store stays the source of truth: a runner started on
a half-finished run (``resume``) picks up from the records alone.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import random
import socket
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from cadencia.authoring.graph import Graph, Node
from cadencia.engine import inputs
from cadencia.engine.events import RunObserver, TaskEvent, call_hook
from cadencia.engine.executors.base import Executor, ExecutorContext
from cadencia.engine.inputs import OutputValue, PreparedInputs
from cadencia.engine.spec import TaskResult, TaskSpec
from cadencia.store.artifacts import ArtifactStore
from cadencia.store.config import Settings
from cadencia.store.materializers import MaterializerRegistry
from cadencia.store.metadata import MetadataStore
from cadencia.store.outputs import read_output, still_usable
from cadencia.store.records import (
    WHOLE,
    Batch,
    InputRecord,
    OutputRecord,
    RunRecord,
    RunState,
    TaskRecord,
    TaskState,
)

_BAD = (TaskState.FAILED, TaskState.UPSTREAM_FAILED)
_GROUP_COMMIT = 0.01  # seconds a "running" mark may wait to share a commit


class Runner:
    def __init__(
        self,
        *,
        graph: Graph,
        run: RunRecord,
        tasks: Sequence[TaskRecord],
        outputs: Sequence[OutputRecord],
        store: MetadataStore,
        artifacts: ArtifactStore,
        registry: MaterializerRegistry,
        executor: Executor,
        settings: Settings,
        observer: RunObserver | None = None,
        use_cache: bool = True,
        continue_on_failure: bool = False,
        only: str | None = None,
    ) -> None:
        self.graph = graph
        self.only = only
        self.run = run
        self.store = store
        self.artifacts = artifacts
        self.registry = registry
        self.executor = executor
        self.settings = settings
        self.observer = observer or RunObserver()
        self.use_cache = use_cache
        self.continue_on_failure = continue_on_failure

        self.tasks: dict[str, TaskRecord] = {task.task_name: task for task in tasks}
        self.available: dict[str, dict[str, OutputValue]] = {}
        self.node_state: dict[str, TaskState] = {}
        self.pending: dict[str, int] = {}
        self.downstream = graph.downstream()
        self.upstream = {name: node.upstream() for name, node in graph.nodes.items()}
        self.unflushed: set[str] = set()
        """Nodes whose outcome is in the batch, not yet committed."""
        self.split = {name: tuple(sorted(outs)) for name, outs in graph.mapped_outputs().items()}
        self.children: dict[str, list[str]] = {}
        self.children_left: dict[str, int] = {}
        self.child_outputs: dict[str, dict[int, dict[str, OutputRecord]]] = {}
        self.prepared: dict[str, PreparedInputs] = {}
        self.attempt_base: dict[str, int] = {}
        self.to_start: deque[str] = deque()
        self.ready: deque[str] = deque()
        self.retries: list[tuple[float, str]] = []
        self.worker_of: dict[str, int] = {}
        self.blobs: dict[str, bytes] = {}
        self.batch = Batch()
        self.hooks: list[tuple[Any, TaskEvent]] = []
        self.stopping = False
        self.log_dir = settings.logs_dir / run.run_id
        self._restore(outputs)

    # -- the loop --------------------------------------------------------------------

    def execute(self) -> RunRecord:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.run.state = RunState.RUNNING
        self.run.started_at = self.run.started_at or time.time()
        self.run.ended_at = None
        self.run.error = None
        if self.only is None:
            self.run.engine_host, self.run.engine_pid = socket.gethostname(), os.getpid()
        self.batch.run = self.run
        try:
            self.executor.start(
                ExecutorContext(
                    self.graph,
                    self.artifacts,
                    self.registry,
                    self.settings,
                    source=self.run.source,
                    params=self.run.params,
                )
            )
            self.observer.run_started(run=self.run, tasks=list(self.tasks.values()))
            self._drain()
            while True:
                # Outcomes are durable before any task that depends on them starts
                # (a step recorded as succeeded is never run again by resume); tasks
                # whose inputs are durable already start first, keeping workers busy
                # during the commit.
                self._submit_ready(durable_inputs_only=True)
                self._flush()
                self._submit_ready()
                self.observer.tick()
                if self.executor.in_flight == 0 and (
                    self.stopping or not (self.ready or self.retries)
                ):
                    break
                timeout = self._wait_timeout()
                if self.batch and self.executor.synchronous:
                    self._flush()  # the task runs inside wait(): show it running first
                elif self.batch:
                    # Group commit: "running" marks wait briefly for outcomes to share
                    # their transaction, and are committed on their own otherwise.
                    timeout = _GROUP_COMMIT if timeout is None else min(timeout, _GROUP_COMMIT)
                for result in self.executor.wait(timeout):
                    self._on_result(result)
                self._due_retries()
                self._drain()
        except BaseException as exc:
            self._abort(exc)
            raise
        finally:
            self.executor.shutdown()
        return self._finish()

    def _wait_timeout(self) -> float | None:
        timeout: float | None = None
        if self.retries:
            timeout = max(0.0, self.retries[0][0] - time.time()) if self.executor.slots > 0 else 0.5
        interval = self.observer.refresh_interval
        if interval is not None:
            timeout = interval if timeout is None else min(timeout, interval)
        return timeout

    def _flush(self) -> None:
        if self.batch:
            self.store.commit(self.batch)
            self.batch = Batch()
        self.unflushed.clear()
        hooks, self.hooks = self.hooks, []
        for hook, event in hooks:
            call_hook(hook, event)

    def _mark(self, task: TaskRecord, state: TaskState) -> None:
        task.state = state
        self.batch.tasks.append(task)
        self.observer.task_changed(task=task)

    # -- starting nodes and tasks ------------------------------------------------------

    def _drain(self) -> None:
        """Start every node whose upstream nodes have all finished (iteratively: a
        long chain of skipped or cached nodes must not exhaust the call stack)."""
        while self.to_start:
            self._node_ready(self.graph.nodes[self.to_start.popleft()])

    def _node_ready(self, node: Node) -> None:
        task = self.tasks[node.name]
        verdict = self._blocked(node)
        if verdict is not None:
            self._finish_without_running(task, *verdict)
        elif node.is_fan_out:
            self._expand(node, task)
        else:
            self._task_ready(task)

    def _blocked(self, node: Node) -> tuple[TaskState, str] | None:
        """Why a node whose upstream finished must not run: a failure, a skip or a condition."""
        upstream_states = {up: self.node_state[up] for up in node.upstream()}
        failed = sorted(up for up, state in upstream_states.items() if state in _BAD)
        if failed:
            return TaskState.UPSTREAM_FAILED, f"upstream step {', '.join(failed)} failed"
        skipped = sorted(up for up, state in upstream_states.items() if state == TaskState.SKIPPED)
        if skipped:
            return TaskState.SKIPPED, f"upstream step {', '.join(skipped)} was skipped"
        for condition in node.conditions:
            record = self.available[condition.ref.node][condition.ref.output].whole
            assert record is not None
            value = self._load(record)
            if not isinstance(value, bool) and type(value).__name__ != "bool_":
                return (
                    TaskState.FAILED,
                    f"the condition output of step '{condition.ref.node}' must be a bool, "
                    f"but it is {type(value).__name__} {value!r:.40}",
                )
            if bool(value) != condition.expected:
                return TaskState.SKIPPED, f"condition {condition.ref.node} is {bool(value)}"
        return None

    def _finish_without_running(self, task: TaskRecord, state: TaskState, reason: str) -> None:
        task.error = reason
        task.ended_at = time.time()
        self._mark(task, state)
        if state == TaskState.FAILED:
            self._stop_unless_continuing()
        self._node_finished(task.node_name, state)

    def _expand(self, node: Node, parent: TaskRecord) -> None:
        lengths = {}
        for param in sorted(node.mapped):
            ref = node.args[param]
            elements = self.available[ref.node][ref.output].elements  # type: ignore[union-attr]
            lengths[param] = len(elements or [])
        if len(set(lengths.values())) > 1:
            sizes = ", ".join(f"{p} has {n}" for p, n in lengths.items())
            self._finish_without_running(
                parent, TaskState.FAILED, f"the mapped lists have different lengths ({sizes})"
            )
            return
        size = next(iter(lengths.values()))
        parent.map_size = size
        parent.started_at = parent.started_at or time.time()
        self._mark(parent, TaskState.RUNNING)
        names = [f"{node.name}[{index}]" for index in range(size)]
        self.children[node.name] = names
        self.child_outputs.setdefault(node.name, {})
        new = []
        for index, name in enumerate(names):
            if name not in self.tasks:
                child = TaskRecord(
                    self.run.run_id,
                    name,
                    node.name,
                    seq=parent.seq,
                    map_index=index,
                    queued_at=time.time(),
                )
                self.tasks[name] = child
                new.append(child)
        self.batch.tasks.extend(new)
        self.observer.tasks_added(tasks=new)
        self.children_left[node.name] = size
        for name in names:
            child = self.tasks[name]
            if child.state.has_outputs and child.map_index in self.child_outputs[node.name]:
                self._task_finished(child)
            else:
                self._task_ready(child)
        if size == 0:
            self._fan_out_finished(node.name)

    def _task_ready(self, task: TaskRecord) -> None:
        node = self.graph.nodes[task.node_name]
        prepared = inputs.prepare(node, self.available, task.map_index, self._blob)
        self.prepared[task.task_name] = prepared
        task.cache_key = prepared.cache_key(node)
        task.cache_parts = prepared.cache_parts(node)
        if task.cache_key and self.use_cache and node.step.options.cache and self._from_cache(task):
            return
        self.ready.append(task.task_name)

    def _from_cache(self, task: TaskRecord) -> bool:
        assert task.cache_key is not None
        hit = self.store.find_cached(task.cache_key)
        if hit is None:
            return False
        source, outputs = hit
        blobs = still_usable(outputs, self.store, self.artifacts, self.registry)
        if blobs is None:
            return False
        self.blobs.update(blobs)
        records = [replace(o, run_id=self.run.run_id, task_name=task.task_name) for o in outputs]
        now = time.time()
        task.cached_from = f"{source.run_id}/{source.task_name}"
        task.started_at, task.ended_at, task.error = now, now, None
        self._mark(task, TaskState.CACHED)
        self._record_success(task, records)
        return True

    def _submit_ready(self, *, durable_inputs_only: bool = False) -> None:
        waiting: list[str] = []
        while self.ready and not self.stopping and self.executor.slots > 0:
            task = self.tasks[self.ready.popleft()]
            node = self.graph.nodes[task.node_name]
            if durable_inputs_only and self.upstream[node.name] & self.unflushed:
                waiting.append(task.task_name)
                continue
            prepared = self.prepared[task.task_name]
            self.attempt_base.setdefault(task.task_name, task.attempt)
            task.attempt += 1
            task.started_at, task.ended_at, task.next_attempt_at = time.time(), None, None
            self._mark(task, TaskState.RUNNING)
            spec = TaskSpec(
                run_id=self.run.run_id,
                task_name=task.task_name,
                node_name=node.name,
                attempt=task.attempt,
                inputs=prepared.template,
                map_index=task.map_index,
                split_outputs=self.split.get(node.name, ()),
                log_dir=str(self.log_dir),
                timeout=node.step.options.timeout,
            )
            self.executor.submit(spec, prefer_worker=self._where_inputs_are(prepared))
        self.ready.extendleft(reversed(waiting))

    def _where_inputs_are(self, prepared: PreparedInputs) -> int | None:
        for _, _, digest in prepared.lineage:
            if digest in self.worker_of:
                return self.worker_of[digest]
        return None

    # -- outcomes --------------------------------------------------------------------

    def _on_result(self, result: TaskResult) -> None:
        task = self.tasks[result.task_name]
        if result.attempt != task.attempt or task.state != TaskState.RUNNING:
            return  # a stale answer from an attempt already given up on
        node = self.graph.nodes[task.node_name]
        task.started_at, task.ended_at = result.started_at, result.ended_at
        if result.log is not None:
            task.logs = [*(task.logs or []), result.log]
        if result.failure is None:
            task.error = None
            self._mark(task, TaskState.SUCCESS)
            records = []
            for o in result.outputs:
                records.append(
                    OutputRecord(
                        self.run.run_id,
                        task.task_name,
                        o.output_name,
                        o.digest,
                        o.materializer,
                        o.type_name,
                        o.size,
                        o.position,
                        inline=o.data is not None,
                    )
                )
                if o.data is not None:
                    self.blobs[o.digest] = self.batch.blobs[o.digest] = o.data
                if result.worker is not None:
                    self.worker_of[o.digest] = result.worker
            self._record_success(task, records)
            if node.step.options.on_success is not None:
                self.hooks.append((node.step.options.on_success, self._event(task)))
            return
        failure = result.failure
        task.error = failure.render()
        attempts_here = task.attempt - self.attempt_base.get(task.task_name, 0)
        if failure.retryable and attempts_here <= node.step.options.retries and not self.stopping:
            wait = node.step.options.retry_wait(attempts_here, random.random())
            task.next_attempt_at = time.time() + wait
            task.ended_at = None
            self._mark(task, TaskState.RETRYING)
            heapq.heappush(self.retries, (task.next_attempt_at, task.task_name))
            return
        self._mark(task, TaskState.FAILED)
        if node.step.options.on_failure is not None:
            self.hooks.append((node.step.options.on_failure, self._event(task)))
        self._stop_unless_continuing()
        self._task_finished(task)

    def _stop_unless_continuing(self) -> None:
        if not self.continue_on_failure:
            self.stopping = True

    def _due_retries(self) -> None:
        now = time.time()
        while self.retries and self.retries[0][0] <= now and not self.stopping:
            _, name = heapq.heappop(self.retries)
            self.ready.append(name)

    def _record_success(self, task: TaskRecord, records: list[OutputRecord]) -> None:
        self.batch.outputs.extend(records)
        prepared = self.prepared.get(task.task_name)
        if prepared is not None:
            self.batch.inputs.extend(
                InputRecord(self.run.run_id, task.task_name, name, digest, position)
                for name, position, digest in prepared.lineage
            )
        self._set_outputs(task, records)
        self._task_finished(task)

    def _set_outputs(self, task: TaskRecord, records: Sequence[OutputRecord]) -> None:
        node = self.graph.nodes[task.node_name]
        if task.map_index is not None:
            self.child_outputs.setdefault(node.name, {})[task.map_index] = {
                r.output_name: r for r in records if r.position == WHOLE
            }
            return
        self.available[node.name] = inputs.output_values(
            node, records, self.split.get(node.name, ())
        )

    def _task_finished(self, task: TaskRecord) -> None:
        if task.map_index is None:
            self._node_finished(task.node_name, task.state)
            return
        self.children_left[task.node_name] -= 1
        if self.children_left[task.node_name] == 0:
            self._fan_out_finished(task.node_name)

    def _fan_out_finished(self, name: str) -> None:
        parent = self.tasks[name]
        node = self.graph.nodes[name]
        children = [self.tasks[child] for child in self.children[name]]
        bad = [child for child in children if not child.state.has_outputs]
        parent.ended_at = time.time()
        if bad:
            parent.error = f"{len(bad)} of {len(children)} tasks failed, first {bad[0].task_name}"
            self._mark(parent, TaskState.FAILED)
        else:
            outputs = self.child_outputs[name]
            self.available[name] = {
                output: OutputValue(None, [outputs[i][output] for i in range(len(children))])
                for output in node.output_names
            }
            self._mark(parent, TaskState.SUCCESS)
        self._node_finished(name, parent.state)

    def _node_finished(self, name: str, state: TaskState) -> None:
        self.node_state[name] = state
        self.unflushed.add(name)
        if self.only is not None:
            return
        for child in self.downstream[name]:
            self.pending[child] -= 1
            if self.pending[child] == 0:
                self.to_start.append(child)

    # -- helpers -----------------------------------------------------------------------

    def _blob(self, record: OutputRecord) -> bytes | None:
        if record.digest not in self.blobs:
            self.blobs.update(self.store.get_blobs([record.digest]))
        return self.blobs.get(record.digest)

    def _load(self, record: OutputRecord) -> Any:
        return read_output(record, self.store, self.artifacts, self.registry, self.blobs)

    def _event(self, task: TaskRecord) -> TaskEvent:
        return TaskEvent(
            run_id=self.run.run_id,
            task_name=task.task_name,
            step_name=task.node_name,
            state=task.state,
            attempt=task.attempt,
            error=task.error,
            duration=task.duration,
        )

    def _restore(self, outputs: Sequence[OutputRecord]) -> None:
        """Rebuild in-memory state from stored records (a new run has only queued tasks)."""
        by_task: dict[str, list[OutputRecord]] = {}
        for output in outputs:
            by_task.setdefault(output.task_name, []).append(output)
        self.blobs.update(self.store.get_blobs([o.digest for o in outputs if o.inline]))
        finished: set[str] = set()
        for name in self.graph.topological_order():
            task = self.tasks[name]
            if task.state.has_outputs or task.state == TaskState.SKIPPED:
                if task.state.has_outputs:
                    if self.graph.nodes[name].is_fan_out:
                        self._restore_children(name, by_task)
                        self._fan_out_values(name)
                    else:
                        self._set_outputs(task, by_task.get(name, []))
                self.node_state[name] = task.state
                finished.add(name)
                continue
            if self.only is not None and name != self.only:
                continue  # another process may be running it (tasks driven one by one)
            if self.graph.nodes[name].is_fan_out:
                self._restore_children(name, by_task)
            if task.state != TaskState.QUEUED:
                task.state, task.error, task.next_attempt_at = TaskState.QUEUED, None, None
                self.batch.tasks.append(task)
        for name, node in self.graph.nodes.items():
            if name in finished:
                continue
            self.pending[name] = sum(1 for up in node.upstream() if up not in finished)
            if self.pending[name] == 0 and self.only in (None, name):
                self.to_start.append(name)

    def _restore_children(self, name: str, by_task: dict[str, list[OutputRecord]]) -> None:
        for task in self.tasks.values():
            if task.node_name != name or task.map_index is None:
                continue
            if task.state.has_outputs:
                self._set_outputs(task, by_task.get(task.task_name, []))
            elif task.state != TaskState.QUEUED:
                task.state, task.error, task.next_attempt_at = TaskState.QUEUED, None, None
                self.batch.tasks.append(task)

    def _fan_out_values(self, name: str) -> None:
        outputs = self.child_outputs.get(name, {})
        node = self.graph.nodes[name]
        self.available[name] = {
            output: OutputValue(None, [outputs[i][output] for i in sorted(outputs)])
            for output in node.output_names
        }

    # -- the end ---------------------------------------------------------------------

    def _finish(self) -> RunRecord:
        if self.only is not None:
            return self._finish_one()
        now = time.time()
        for task in self.tasks.values():
            if task.state == TaskState.RETRYING:  # the run stopped before its next attempt
                task.ended_at, task.next_attempt_at = now, None
                self._mark(task, TaskState.FAILED)
        for name, children in self.children.items():
            parent = self.tasks[name]
            if parent.state.finished:
                continue
            if any(self.tasks[c].state in _BAD for c in children):
                parent.ended_at = now
                self._mark(parent, TaskState.FAILED)
            else:  # stopped before all its elements ran: resume expands it again
                parent.started_at = None
                self._mark(parent, TaskState.QUEUED)
        ok = all(
            task.state in (TaskState.SUCCESS, TaskState.CACHED, TaskState.SKIPPED)
            for task in self.tasks.values()
        )
        self.run.state = RunState.SUCCESS if ok else RunState.FAILED
        self.run.ended_at = now
        self.run.error = None if ok else self._failure_summary()
        self.run.engine_pid = None
        self.batch.run = self.run
        self._flush()
        self.observer.run_finished(run=self.run)
        return self.run

    def _finish_one(self) -> RunRecord:
        """After ``cadencia task run``: the run is over only if every task now is."""
        self._flush()
        tasks = self.store.get_tasks(self.run.run_id)
        self.tasks.update({task.task_name: task for task in tasks})
        if all(task.state.finished for task in tasks):
            ok = all(task.state not in _BAD for task in tasks)
            self.run.state = RunState.SUCCESS if ok else RunState.FAILED
            self.run.ended_at = time.time()
            self.run.error = None if ok else self._failure_summary()
            self.batch.run = self.run
            self._flush()
        return self.run

    def _failure_summary(self) -> str:
        failed = [
            t for t in self.tasks.values() if t.state == TaskState.FAILED and t.map_index is None
        ]
        failed = failed or [t for t in self.tasks.values() if t.state == TaskState.FAILED]
        if not failed:
            return "the run stopped before every step ran"
        first = failed[0]
        last_line = (first.error or "").strip().splitlines()[-1:] or [""]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return f"step {first.task_name} failed{more}: {last_line[0]}"

    def _abort(self, exc: BaseException) -> None:
        """The engine itself is stopping (Ctrl-C, an internal error): record it and get out."""
        now = time.time()
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"engine error: {exc!r}"
        for task in self.tasks.values():
            if task.state in (TaskState.RUNNING, TaskState.RETRYING):
                task.error = f"the run was {reason}"
                task.ended_at = now
                self._mark(task, TaskState.FAILED)
        self.run.state = RunState.FAILED
        self.run.ended_at = now
        self.run.error = f"the run was {reason}; finish it with 'cadencia resume {self.run.run_id}'"
        self.run.engine_pid = None
        self.batch.run = self.run
        with contextlib.suppress(Exception):  # the store itself may be what failed
            self._flush()
        with contextlib.suppress(Exception):  # e.g. give the terminal back to the user
            self.observer.run_finished(run=self.run)
