"""Execute one task: load its inputs, call the step, store its outputs.

``execute_task`` is the one place a step's function is called. Every
executor ends here — in the engine's process (inline), in a pool worker
(process) or in a fresh process started by ``cadencia task run`` — so a step
behaves the same wherever it runs. It never writes to the metadata store: it
returns a ``TaskResult`` and its caller records it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cadencia.authoring.graph import RETURN, Collect, Const, Graph, Node
from cadencia.engine.capture import LogSink
from cadencia.engine.context import TaskInfo, running
from cadencia.engine.spec import (
    ArtifactInput,
    Failure,
    InputTemplate,
    StoredOutput,
    TaskResult,
    TaskSpec,
)
from cadencia.errors import CadenciaError, MaterializationError
from cadencia.store.artifacts import ArtifactStore, Buffer
from cadencia.store.hashing import check_digest, digest_bytes
from cadencia.store.materializers import MaterializerRegistry, qualified_name


class ObjectCache:
    """Values a worker produced or loaded recently, so a consumer running in the
    same worker skips reading and decoding the artifact (bounded by stored size)."""

    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, str], tuple[Any, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple[str, str]) -> Any:
        item = self._items.get(key)
        if item is None:
            return _MISSING
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: tuple[str, str], value: Any, size: int) -> None:
        if size > self.max_bytes or key in self._items:
            return
        self._items[key] = (value, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, (_, dropped) = self._items.popitem(last=False)
            self._bytes -= dropped

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._items


_MISSING = object()


INLINE_MAX_BYTES = 32 * 1024
"""Artifacts up to this size are stored inline in the metadata store, not as files."""


@dataclass
class TaskContext:
    graph: Graph
    artifacts: ArtifactStore
    registry: MaterializerRegistry
    memory: ObjectCache | None = None
    file_descriptors: bool = False
    """Point fds 1 and 2 at the log (only in a process that runs nothing else)."""
    worker: int | None = None
    home: str | None = None
    """The run's cadencia home, exported to the step (see ``engine.context``)."""
    _sinks: dict[str, LogSink] = field(default_factory=dict)

    def sink(self, log_dir: str | None) -> LogSink | None:
        if log_dir is None:
            return None
        if log_dir not in self._sinks:
            self._sinks[log_dir] = LogSink(log_dir, file_descriptors=self.file_descriptors)
        return self._sinks[log_dir]

    def close(self) -> None:
        for sink in self._sinks.values():
            sink.close()
        self._sinks.clear()


class TaskTimeout(Exception):
    pass


def execute_task(spec: TaskSpec, context: TaskContext) -> TaskResult:
    node = context.graph.nodes[spec.node_name]
    started = time.time()
    header = f"--- attempt {spec.attempt} ---\n" if spec.attempt > 1 else ""
    stage = "input"
    outputs: list[StoredOutput] = []
    failure: Failure | None = None
    sink = None
    try:
        sink = context.sink(spec.log_dir)
        capture = sink.task(header) if sink is not None else contextlib.nullcontext(None)
        with capture as log:
            try:
                kwargs = _arguments(spec, node, context)
                stage = "error"
                info = TaskInfo(
                    spec.run_id,
                    spec.task_name,
                    spec.node_name,
                    spec.attempt,
                    spec.map_index,
                    context.home,
                )
                with running(info), _deadline(spec.timeout, threaded=context.file_descriptors):
                    value = node.step.fn(**kwargs)
                stage = "output"
                outputs = _store_outputs(value, spec, node, context)
            except BaseException as exc:
                failure = _failure(exc, stage, node)
                if log is not None:
                    log.write(failure.render() + "\n")
    except BaseException as exc:  # the log itself could not be opened or written
        failure = Failure.from_exception(exc, kind="internal", retryable=False)
    return TaskResult(
        spec.task_name,
        spec.attempt,
        started,
        time.time(),
        outputs=[] if failure else outputs,
        failure=failure,
        worker=context.worker,
        log=getattr(sink, "last_range", None),
    )


def _failure(exc: BaseException, stage: str, node: Node) -> Failure:
    if isinstance(exc, TaskTimeout):
        return Failure("timeout", str(exc), retryable=True)
    if stage == "output" and isinstance(exc, CadenciaError):
        site = node.step.defined_at
        return Failure("output", f"{site}: step '{node.name}': {exc}", retryable=False)
    if stage == "input" and isinstance(exc, CadenciaError):
        return Failure(
            "input", f"step '{node.name}' cannot read its inputs: {exc}", retryable=False
        )
    return Failure.from_exception(exc, kind="error")


# -- inputs ----------------------------------------------------------------------


def _arguments(spec: TaskSpec, node: Node, context: TaskContext) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for param, arg in node.args.items():
        template = spec.inputs.get(param)
        if template is None:
            assert isinstance(arg, Const), f"no input for {param} of {node.name}"
            kwargs[param] = arg.value
        else:
            constants = arg.items if isinstance(arg, Collect) else ()
            kwargs[param] = _resolve(template, constants, context)
    return kwargs


def _resolve(template: InputTemplate, constants: tuple[Any, ...], context: TaskContext) -> Any:
    if isinstance(template, ArtifactInput):
        return load_artifact(template, context)
    items = []
    for index, item in enumerate(template.items):
        if item is None:
            items.append(constants[index].value)
        else:
            items.append(_resolve(item, (), context))
    return tuple(items) if template.as_tuple else items


def load_artifact(source: ArtifactInput, context: TaskContext) -> Any:
    key = (source.digest, source.materializer)
    if context.memory is not None:
        value = context.memory.get(key)
        if value is not _MISSING:
            return value
    if source.data is not None:
        data: Buffer = verify_inline(source.digest, source.data)
    else:
        data = context.artifacts.read(source.digest)
    value = context.registry.get(source.materializer.partition("@")[0]).load(data)
    if context.memory is not None:
        context.memory.put(key, value, memoryview(data).nbytes)
    return value


def verify_inline(digest: str, data: bytes) -> bytes:
    check_digest(digest, data, "the metadata store (inline)")
    return data


# -- outputs ---------------------------------------------------------------------


def split_outputs(value: Any, node: Node) -> dict[str, Any]:
    names = node.output_names
    if names == (RETURN,):
        return {RETURN: value}
    if isinstance(value, Mapping) and set(value) == set(names):
        return {name: value[name] for name in names}
    if isinstance(value, tuple) and len(value) == len(names):
        return dict(zip(names, value, strict=True))
    raise MaterializationError(
        f"the step declares {len(names)} outputs ({', '.join(names)}) but returned "
        f"{qualified_name(type(value))}; return a tuple of {len(names)} values or a dict "
        "with those keys"
    )


def _store_outputs(
    value: Any, spec: TaskSpec, node: Node, context: TaskContext
) -> list[StoredOutput]:
    stored: list[StoredOutput] = []
    for name, output in split_outputs(value, node).items():
        stored.append(store_value(name, output, node, context))
        if name in spec.split_outputs:
            if not isinstance(output, list | tuple):
                raise MaterializationError(
                    f"output '{name}' is mapped over by a fan-out, so it must be a list or "
                    f"tuple, but it is {qualified_name(type(output))}"
                )
            stored.extend(
                store_value(name, element, node, context, position)
                for position, element in enumerate(output)
            )
    return stored


def store_value(
    name: str, value: Any, node: Node, context: TaskContext, position: int = -1
) -> StoredOutput:
    materializer = context.registry.for_value(value, allow_pickle=node.step.options.pickle)
    label = f"{materializer.name}@{materializer.version}"
    type_name = qualified_name(type(value))
    try:
        estimate = materializer.estimated_size(value) if materializer.writes_files else None
        if materializer.writes_files and (estimate is None or estimate > INLINE_MAX_BYTES):
            blob = context.artifacts.write_with(lambda path: materializer.dump_to_file(value, path))
        else:
            data = materializer.dump(value)
            if memoryview(data).nbytes <= INLINE_MAX_BYTES:
                raw = bytes(data)
                digest = digest_bytes(raw)
                if context.memory is not None:
                    context.memory.put((digest, label), value, len(raw))
                return StoredOutput(name, digest, label, type_name, len(raw), position, raw)
            blob = context.artifacts.put(data)
    except CadenciaError:
        raise
    except Exception as exc:
        raise MaterializationError(
            f"output '{name}' ({type_name}) could not be written by the "
            f"'{materializer.name}' materializer: {exc}"
        ) from exc
    if context.memory is not None:
        context.memory.put((blob.digest, label), value, blob.size)
    return StoredOutput(name, blob.digest, label, type_name, blob.size, position)


# -- timeouts --------------------------------------------------------------------


@contextlib.contextmanager
def _deadline(seconds: float | None, *, threaded: bool) -> Iterator[None]:
    """Raise ``TaskTimeout`` in the step after ``seconds``.

    Used where the engine cannot kill the task's process (inline executor,
    ``cadencia task run``); pool workers are killed by the process executor.
    """
    if seconds is None or threaded or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise TaskTimeout(f"the step did not finish within its timeout of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
