"""The metadata store seam: the single source of truth for runs and tasks.

Every method that changes state is one committed transaction, so the engine
can be killed at any instant and the store still tells exactly what
finished. Implementations pass the contract suite in
``tests/store/test_metadata_contract.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from cadencia.store.records import (
    Batch,
    InputRecord,
    OutputRecord,
    RunRecord,
    RunState,
    TaskRecord,
)


class MetadataStore(ABC):
    url: str

    # -- writing -----------------------------------------------------------------

    @abstractmethod
    def create_run(self, run: RunRecord, tasks: Sequence[TaskRecord]) -> None:
        """Insert a new run and its first tasks in one transaction."""

    @abstractmethod
    def commit(self, batch: Batch) -> None:
        """Upsert the batch's tasks, outputs, inputs and run in one transaction."""

    @abstractmethod
    def claim_run(self, run_id: str, host: str, pid: int, expected_pid: int | None) -> bool:
        """Make (host, pid) the run's engine if its engine is still ``expected_pid``.

        Compare-and-set, so two processes resuming one run cannot both win.
        """

    # -- reading -----------------------------------------------------------------

    @abstractmethod
    def get_run(self, run_id: str) -> RunRecord:
        """The run, or ``NotFoundError``."""

    @abstractmethod
    def list_runs(
        self,
        limit: int = 50,
        pipeline_name: str | None = None,
        state: RunState | None = None,
    ) -> list[RunRecord]:
        """Newest first."""

    @abstractmethod
    def get_tasks(self, run_id: str) -> list[TaskRecord]:
        """The run's tasks in the order they were created."""

    @abstractmethod
    def get_outputs(self, run_id: str, task_name: str | None = None) -> list[OutputRecord]: ...

    @abstractmethod
    def get_inputs(self, run_id: str, task_name: str | None = None) -> list[InputRecord]: ...

    @abstractmethod
    def find_cached(self, cache_key: str) -> tuple[TaskRecord, list[OutputRecord]] | None:
        """The newest successful task with this cache key, and its outputs."""

    @abstractmethod
    def latest_task(
        self, pipeline_name: str, node_name: str, before_run: str | None = None
    ) -> TaskRecord | None:
        """The newest task of ``node_name`` in a run of ``pipeline_name`` that has a cache key."""

    @abstractmethod
    def get_blobs(self, digests: Sequence[str]) -> dict[str, bytes]:
        """The inline artifacts among ``digests`` (missing ones are left out)."""

    @abstractmethod
    def producers(self, digest: str) -> list[OutputRecord]:
        """Which tasks produced (or reused from the cache) this artifact."""

    @abstractmethod
    def consumers(self, digest: str) -> list[InputRecord]:
        """Which tasks read this artifact."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
