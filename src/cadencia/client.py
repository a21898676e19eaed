"""Reading history from Python: runs, their tasks, outputs, logs and lineage.

>>> from cadencia import Client
>>> client = Client()                                  # doctest: +SKIP
>>> run = client.runs()[0]                             # doctest: +SKIP
>>> run.task("train").state, run.output("train")       # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cadencia.errors import NotFoundError
from cadencia.store import open_artifact_store, open_metadata_store
from cadencia.store.artifacts import ArtifactStore
from cadencia.store.config import Settings
from cadencia.store.metadata import MetadataStore
from cadencia.store.records import WHOLE, InputRecord, OutputRecord, RunRecord, TaskRecord


class Client:
    def __init__(
        self, home: str | os.PathLike[str] | None = None, *, settings: Settings | None = None
    ) -> None:
        self.settings = settings or Settings.resolve(home)

    @cached_property
    def metadata(self) -> MetadataStore:
        return open_metadata_store(self.settings.db_url)

    @cached_property
    def artifacts(self) -> ArtifactStore:
        return open_artifact_store(self.settings.artifacts_url)

    def close(self) -> None:
        if "metadata" in self.__dict__:
            self.metadata.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def runs(self, limit: int = 50, pipeline: str | None = None) -> list[RunView]:
        return [RunView(self, record) for record in self.metadata.list_runs(limit, pipeline)]

    def run(self, run_id: str) -> RunView:
        return RunView(self, self.metadata.get_run(run_id))

    def load(self, output: OutputRecord) -> Any:
        from cadencia.store.materializers import registry
        from cadencia.store.outputs import read_output

        return read_output(output, self.metadata, self.artifacts, registry)

    def lineage(self, digest: str) -> Lineage:
        """Which tasks produced an artifact, from which inputs, and which tasks read it."""
        producers = self.metadata.producers(digest)
        if not producers:
            raise NotFoundError(f"no task produced an artifact with digest {digest}")
        inputs = [
            record
            for producer in producers
            for record in self.metadata.get_inputs(producer.run_id, producer.task_name)
        ]
        return Lineage(digest, producers, inputs, self.metadata.consumers(digest))


@dataclass(frozen=True)
class Lineage:
    digest: str
    produced_by: list[OutputRecord]
    inputs: list[InputRecord]
    """The inputs of every producer (see ``inputs_of`` for one producer's)."""
    read_by: list[InputRecord]

    def inputs_of(self, producer: OutputRecord) -> list[InputRecord]:
        return [
            record
            for record in self.inputs
            if (record.run_id, record.task_name) == (producer.run_id, producer.task_name)
        ]


class RunView:
    """A run as recorded: its state, its tasks and their outputs (loaded on demand)."""

    def __init__(self, client: Client, record: RunRecord) -> None:
        self.client = client
        self.record = record

    def __repr__(self) -> str:
        return f"<Run {self.run_id} {self.record.pipeline_name} {self.state}>"

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def state(self) -> str:
        return str(self.record.state)

    @cached_property
    def tasks(self) -> list[TaskRecord]:
        return self.client.metadata.get_tasks(self.run_id)

    @cached_property
    def outputs(self) -> list[OutputRecord]:
        return self.client.metadata.get_outputs(self.run_id)

    def task(self, task_name: str) -> TaskRecord:
        for task in self.tasks:
            if task.task_name == task_name:
                return task
        names = ", ".join(t.task_name for t in self.tasks if t.map_index is None)
        raise NotFoundError(f"run {self.run_id} has no task {task_name!r}; its steps: {names}")

    def output_record(self, task_name: str, output: str = "return") -> OutputRecord:
        self.task(task_name)
        for record in self.outputs:
            if (
                record.task_name == task_name
                and record.output_name == output
                and record.position == WHOLE
            ):
                return record
        raise NotFoundError(
            f"task {task_name!r} of run {self.run_id} has no stored output {output!r} "
            f"(its state is {self.task(task_name).state})"
        )

    def output(self, task_name: str, output: str = "return") -> Any:
        """The value a task returned (for a fan-out step: the list of its tasks' values)."""
        task = self.task(task_name)
        if task.map_size is not None:
            return [self.output(f"{task_name}[{index}]", output) for index in range(task.map_size)]
        return self.client.load(self.output_record(task_name, output))

    def inputs(self, task_name: str) -> list[InputRecord]:
        return self.client.metadata.get_inputs(self.run_id, task_name)

    def log(self, task_name: str) -> str:
        """Everything the task printed or logged, attempt after attempt."""
        from cadencia.engine.capture import read_log

        task = self.task(task_name)
        return read_log(self.client.settings.logs_dir / self.run_id, task.logs)
