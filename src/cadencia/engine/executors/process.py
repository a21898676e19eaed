"""The process executor (default): a pool of worker processes.

Workers are forked from the engine after the pipeline is built, so they
start in a few milliseconds with the user's modules already imported.
``CADENCIA_START_METHOD=forkserver`` (or ``spawn``) starts them fresh
instead: each imports the pipeline from its recorded source and rebuilds the
graph. That is slower to start but safe when the engine's process already ran
OpenMP code (a LightGBM model trained in a notebook), whose threads do not
survive ``fork`` and would hang a forked worker. Each
worker runs one task at a time and keeps recently produced values in memory:
the engine sends a task to the worker holding its inputs when it is free, so
a chain of steps passing a large DataFrame never reads it back from disk.

A timeout kills the worker running the task (the work really stops) and a
replacement is forked on demand; a worker that dies is reported as the
task's failure. Workers die with the engine (``PR_SET_PDEATHSIG`` on Linux).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from cadencia.engine.executors.base import Executor, ExecutorContext, register_executor
from cadencia.engine.spec import Failure, TaskResult, TaskSpec
from cadencia.engine.task import ObjectCache, TaskContext, execute_task
from cadencia.errors import UsageError
from cadencia.store.records import LogRange


class _Worker:
    def __init__(self, worker_id: int, process: Any, connection: Connection) -> None:
        self.worker_id = worker_id
        self.process = process
        self.connection = connection
        self.spec: TaskSpec | None = None
        self.submitted_at = 0.0
        self.deadline: float | None = None
        self.log_start = 0


class ProcessExecutor(Executor):
    name = "process"

    def __init__(
        self,
        workers: int | None = None,
        memory_mb: int | None = None,
        start_method: str | None = None,
    ) -> None:
        method = start_method or os.environ.get("CADENCIA_START_METHOD") or "fork"
        available = multiprocessing.get_all_start_methods()
        if method not in available:
            raise UsageError(
                f"start method {method!r} (CADENCIA_START_METHOD) is not available here; "
                f"choose one of {', '.join(available)}, or use --executor inline"
            )
        self.start_method = method
        configured = workers or int(os.environ.get("CADENCIA_WORKERS", "0")) or os.cpu_count() or 1
        if configured < 1:
            raise UsageError(f"workers={configured} is invalid: it must be 1 or more")
        self.max_workers = configured
        self.memory_bytes = (
            memory_mb or int(os.environ.get("CADENCIA_WORKER_MEMORY_MB", "1024"))
        ) << 20
        self._workers: dict[int, _Worker] = {}
        self._next_id = 0
        self._context: ExecutorContext | None = None

    def start(self, context: ExecutorContext) -> None:
        if self.start_method != "fork":
            kind = (context.source or {}).get("kind", "unimportable")
            if kind == "unimportable" or context.params is None:
                raise UsageError(
                    f"start method {self.start_method!r} needs a pipeline other processes can "
                    "import (defined at module level in a file); this one is not, so use the "
                    "default start method 'fork' or --executor inline"
                )
        self._context = context

    @property
    def slots(self) -> int:
        return self.max_workers - self.in_flight

    @property
    def in_flight(self) -> int:
        return sum(1 for worker in self._workers.values() if worker.spec is not None)

    def submit(self, spec: TaskSpec, *, prefer_worker: int | None = None) -> None:
        worker = self._idle_worker(prefer_worker)
        worker.spec = spec
        worker.submitted_at = time.monotonic()
        # The worker is idle and flushed: its log's size is where this task's output starts.
        worker.log_start = _size(self._log_file(worker, spec))
        worker.deadline = worker.submitted_at + spec.timeout if spec.timeout else None
        # If the worker died while idle, the next wait() reports it as a crash.
        with contextlib.suppress(BrokenPipeError, OSError):
            worker.connection.send(spec)

    def _idle_worker(self, prefer: int | None) -> _Worker:
        idle = [w for w in self._workers.values() if w.spec is None]
        for worker in idle:
            if worker.worker_id == prefer:
                return worker
        if idle:
            return idle[0]
        if len(self._workers) >= self.max_workers:
            raise RuntimeError("submit() called with no free slot")
        return self._fork_worker()

    def _fork_worker(self) -> _Worker:
        assert self._context is not None, "start() was not called"
        worker_id = self._next_id
        self._next_id += 1
        context: Any = multiprocessing.get_context(self.start_method)
        parent_end, child_end = context.Pipe(duplex=True)
        if self.start_method == "fork":  # the graph and stores are inherited as they are
            target: Any = _worker_main
            setup: Any = self._context
        else:  # a fresh interpreter: it rebuilds them from the run's records
            target = _fresh_worker_main
            settings = self._context.settings
            setup = (
                self._context.source,
                self._context.params,
                (str(settings.home), settings.db_url, settings.artifacts_url),
            )
        process = context.Process(
            target=target,
            # A forkserver's workers are its children, not the engine's: they die with
            # the server, which exits when the engine does.
            args=(
                child_end,
                worker_id,
                setup,
                self.memory_bytes,
                None if self.start_method == "forkserver" else os.getpid(),
            ),
            name=f"cadencia-worker-{worker_id}",
            daemon=True,
        )
        process.start()
        child_end.close()
        worker = _Worker(worker_id, process, parent_end)
        self._workers[worker_id] = worker
        return worker

    def wait(self, timeout: float | None) -> list[TaskResult]:
        busy = [w for w in self._workers.values() if w.spec is not None]
        if not busy:
            if timeout:
                time.sleep(timeout)
            return []
        now = time.monotonic()
        deadlines = [w.deadline - now for w in busy if w.deadline is not None]
        limit = timeout
        if deadlines:
            nearest = max(0.0, min(deadlines))
            limit = nearest if limit is None else min(limit, nearest)
        handles: list[Any] = [w.connection for w in busy] + [w.process.sentinel for w in busy]
        ready = set(wait(handles, timeout=limit))
        results: list[TaskResult] = []
        now = time.monotonic()
        for worker in busy:
            result = None
            if worker.connection in ready:
                with contextlib.suppress(EOFError, OSError):
                    result = worker.connection.recv()
            if result is not None:
                worker.spec = None
                results.append(result)
            elif worker.connection in ready or worker.process.sentinel in ready:
                results.append(self._lost(worker, self._crash_failure(worker)))
            elif worker.deadline is not None and now >= worker.deadline:
                worker.process.kill()
                assert worker.spec is not None and worker.spec.timeout is not None
                failure = Failure(
                    "timeout",
                    f"the step did not finish within its timeout of {worker.spec.timeout:g} s; "
                    "its worker process was killed",
                )
                results.append(self._lost(worker, failure))
        return results

    def _crash_failure(self, worker: _Worker) -> Failure:
        worker.process.join(1.0)
        code = worker.process.exitcode
        if code is not None and code < 0:
            try:
                cause = f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                cause = f"killed by signal {-code}"
        else:
            cause = f"exited with code {code}"
        return Failure(
            "crash",
            f"the worker process running the step died ({cause}); out of memory, a crash in "
            "native code or an external kill are the usual causes",
        )

    def _lost(self, worker: _Worker, failure: Failure) -> TaskResult:
        spec = worker.spec
        assert spec is not None
        worker.process.join(1.0)
        worker.connection.close()
        del self._workers[worker.worker_id]
        ended = time.time()
        started = ended - (time.monotonic() - worker.submitted_at)
        log_file = self._log_file(worker, spec)
        log = None
        if log_file is not None:  # what the step printed before it died is kept
            with contextlib.suppress(OSError), open(log_file, "a", encoding="utf-8") as handle:
                handle.write(f"--- {failure.message} ---\n")
            log = LogRange(log_file.name, worker.log_start, _size(log_file))
        return TaskResult(
            spec.task_name,
            spec.attempt,
            started,
            ended,
            failure=failure,
            worker=worker.worker_id,
            log=log,
        )

    def _log_file(self, worker: _Worker, spec: TaskSpec) -> Path | None:
        if spec.log_dir is None:
            return None
        return Path(spec.log_dir) / f"{worker.process.pid}.log"

    def shutdown(self) -> None:
        for worker in self._workers.values():
            if worker.spec is None:
                with contextlib.suppress(OSError):
                    worker.connection.send(None)
            else:
                worker.process.kill()
        for worker in self._workers.values():
            worker.process.join(2.0)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(1.0)
            worker.connection.close()
        self._workers.clear()


def _size(path: Path | None) -> int:
    try:
        return os.stat(path).st_size if path is not None else 0
    except FileNotFoundError:
        return 0


def _die_with_parent(parent_pid: int | None) -> None:
    """Have the kernel kill this worker when the engine dies (Linux), so a killed
    engine leaves no worker running a step that ``resume`` will run again."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the pipe's EOF stops the worker instead
        pass
    if parent_pid is not None and os.getppid() != parent_pid:  # died before prctl took effect
        os._exit(1)


def _worker_main(
    connection: Connection,
    worker_id: int,
    context: ExecutorContext,
    memory_bytes: int,
    parent_pid: int | None,
) -> None:
    """A forked worker: the engine's graph and stores are already in memory."""
    _prepare_worker(parent_pid)
    task_context = TaskContext(
        graph=context.graph,
        artifacts=context.artifacts,
        registry=context.registry,
        memory=ObjectCache(memory_bytes),
        file_descriptors=True,
        worker=worker_id,
        home=str(context.settings.home),
    )
    _serve(connection, task_context)


def _fresh_worker_main(
    connection: Connection,
    worker_id: int,
    setup: tuple[dict[str, Any], dict[str, Any], tuple[str, str, str]],
    memory_bytes: int,
    parent_pid: int | None,
) -> None:
    """A worker in a fresh interpreter: import the pipeline and rebuild the graph."""
    _prepare_worker(parent_pid)
    from cadencia.authoring import params as params_module
    from cadencia.engine.source import PipelineSource, load_source
    from cadencia.store import open_artifact_store
    from cadencia.store.config import Settings
    from cadencia.store.materializers import registry

    source, params, (home, db_url, artifacts_url) = setup
    try:
        settings = Settings.resolve(home, db_url, artifacts_url)
        pipeline = load_source(PipelineSource.from_json(source))
        graph = pipeline.build_resolved(params_module.from_json(params, pipeline.params))
    except BaseException as exc:
        _refuse_tasks(connection, Failure.from_exception(exc, kind="internal", retryable=False))
        return
    task_context = TaskContext(
        graph=graph,
        artifacts=open_artifact_store(settings.artifacts_url),
        registry=registry,
        memory=ObjectCache(memory_bytes),
        file_descriptors=True,
        worker=worker_id,
        home=home,
    )
    _serve(connection, task_context)


def _refuse_tasks(connection: Connection, failure: Failure) -> None:
    """A worker that could not load the pipeline answers every task with why."""
    while True:
        try:
            spec = connection.recv()
        except (EOFError, OSError):
            os._exit(1)
        if spec is None:
            os._exit(1)
        now = time.time()
        message = f"the worker could not load the pipeline: {failure.message}"
        reply = Failure("internal", message, failure.traceback, retryable=False)
        connection.send(TaskResult(spec.task_name, spec.attempt, now, now, failure=reply))


def _prepare_worker(parent_pid: int | None) -> None:
    _die_with_parent(parent_pid)
    # Ctrl-C reaches the whole process group; the engine decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from cadencia.store import hashing

    hashing.allow_threads()


def _serve(connection: Connection, task_context: TaskContext) -> None:
    """Run tasks until the engine says stop or goes away."""
    code = 0
    try:
        while True:
            try:
                spec = connection.recv()
            except (EOFError, OSError):
                break
            if spec is None:
                break
            result = execute_task(spec, task_context)
            try:
                connection.send(result)
            except (BrokenPipeError, OSError):
                break
    except BaseException:
        code = 1
    task_context.close()
    # Skip the atexit handlers and finalizers inherited from the engine.
    os._exit(code)


register_executor("process", ProcessExecutor)
