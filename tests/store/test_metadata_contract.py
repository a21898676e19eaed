"""One contract for every metadata store backend: the standard library's sqlite3,
SQLAlchemy on SQLite, and SQLAlchemy on PostgreSQL (skipped visibly when no server
answers; a failure when CADENCIA_REQUIRE_POSTGRES is set)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cadencia.errors import NotFoundError, StoreError
from cadencia.store import open_metadata_store
from cadencia.store.metadata import MetadataStore
from cadencia.store.records import (
    WHOLE,
    Batch,
    InputRecord,
    LogRange,
    OutputRecord,
    RunRecord,
    RunState,
    TaskRecord,
    TaskState,
)
from cadencia.store.sql import SCHEMA_VERSION, SQLMetadataStore
from cadencia.store.sqlalchemy import SQLAlchemyBackend
from cadencia.store.sqlite import SQLiteBackend

Opener = Callable[[], MetadataStore]
BACKENDS = ["sqlite", "sqlalchemy-sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A URL of an empty database of the backend under test."""
    if backend == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'meta' / 'cadencia.db'}"


@pytest.fixture
def open_store(backend: str, store_url: str) -> Iterator[Opener]:
    """Opens a new connection to the database under test; closes them all afterwards."""
    opened: list[MetadataStore] = []

    def opener() -> MetadataStore:
        if backend == "sqlalchemy-sqlite":
            store: MetadataStore = SQLMetadataStore(SQLAlchemyBackend(store_url))
        else:
            store = open_metadata_store(store_url)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Opener) -> MetadataStore:
    return open_store()


def test_the_backend_is_the_one_under_test(backend: str, store: MetadataStore) -> None:
    assert isinstance(store, SQLMetadataStore)
    expected = SQLiteBackend if backend == "sqlite" else SQLAlchemyBackend
    assert type(store.backend) is expected


def make_run(run_id: str = "run-1", created_at: float = 100.0, **changes: object) -> RunRecord:
    run = RunRecord(
        run_id=run_id,
        pipeline_name="demo",
        source={"kind": "file", "target": "/flows/demo.py", "attribute": "demo"},
        params={"n": 3, "day": "2013-01-01", "months": [1, 2]},
        options={"executor": "process", "use_cache": True},
        state=RunState.QUEUED,
        created_at=created_at,
    )
    return replace(run, **changes)  # type: ignore[arg-type]


def make_task(name: str, run_id: str = "run-1", seq: int = 0, **changes: object) -> TaskRecord:
    node, _, rest = name.partition("[")
    map_index = int(rest.rstrip("]")) if rest else None
    task = TaskRecord(run_id=run_id, task_name=name, node_name=node, seq=seq, map_index=map_index)
    return replace(task, **changes)  # type: ignore[arg-type]


def digest(char: str) -> str:
    return "blake3:" + char * 64


def output(
    task: str, name: str = "return", run_id: str = "run-1", **changes: object
) -> OutputRecord:
    record = OutputRecord(
        run_id=run_id,
        task_name=task,
        output_name=name,
        digest=digest("a"),
        materializer="json@1",
        type_name="builtins.int",
        size=2,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


# -- runs ------------------------------------------------------------------------------


def test_a_created_run_reads_back_field_for_field(store: MetadataStore) -> None:
    run = make_run(
        started_at=101.5,
        engine_host="host-a",
        engine_pid=4242,
        code_version="abc123",
        state=RunState.RUNNING,
    )
    store.create_run(run, [make_task("first"), make_task("second", seq=1)])
    assert store.get_run("run-1") == run
    assert [t.task_name for t in store.get_tasks("run-1")] == ["first", "second"]


def test_a_missing_run_is_not_found_with_a_hint(store: MetadataStore) -> None:
    with pytest.raises(
        NotFoundError, match=r"^no run with id 'nope' in .+; list runs with 'cadencia runs'$"
    ):
        store.get_run("nope")
    assert store.get_tasks("nope") == []
    assert store.get_outputs("nope") == []


def test_commit_updates_the_run_and_tasks_in_one_go(store: MetadataStore) -> None:
    first = make_task("first", queued_at=100.0)
    store.create_run(make_run(), [first])
    first.state = TaskState.SUCCESS
    first.attempt = 2
    first.started_at, first.ended_at = 101.0, 102.5
    first.cache_key = "key-1"
    first.cache_parts = {"code": "c0de", "args": {"n": {"token": "t", "value": 3}}}
    first.logs = [LogRange("123.log", 0, 10), LogRange("124.log", 5, 7)]
    first.error = "Traceback ...\nValueError: bad\n"
    run = replace(store.get_run("run-1"), state=RunState.SUCCESS, ended_at=103.0)
    store.commit(Batch(tasks=[first, first], run=run))
    (stored,) = store.get_tasks("run-1")
    assert stored == first
    assert stored.duration == 1.5
    assert store.get_run("run-1").state == RunState.SUCCESS
    assert store.get_run("run-1").ended_at == 103.0


def test_an_empty_batch_writes_nothing(store: MetadataStore) -> None:
    assert not Batch()
    store.commit(Batch())
    assert store.list_runs() == []


def test_a_failing_batch_is_rolled_back_whole(store: MetadataStore) -> None:
    task = make_task("first")
    store.create_run(make_run(), [task])
    task.state = TaskState.SUCCESS
    broken = output("first", size=None)  # violates NOT NULL
    with pytest.raises(StoreError, match="metadata transaction failed on"):
        store.commit(Batch(tasks=[task], outputs=[output("first", "ok"), broken]))
    assert store.get_tasks("run-1")[0].state == TaskState.QUEUED
    assert store.get_outputs("run-1") == []
    store.commit(Batch(tasks=[task]))  # the store is usable afterwards
    assert store.get_tasks("run-1")[0].state == TaskState.SUCCESS


def test_list_runs_newest_first_with_filters_and_limit(store: MetadataStore) -> None:
    store.create_run(make_run("a", 10.0, state=RunState.SUCCESS), [])
    store.create_run(make_run("b", 30.0, pipeline_name="other", state=RunState.FAILED), [])
    store.create_run(make_run("c", 20.0, state=RunState.FAILED), [])
    store.create_run(make_run("d", 20.0, state=RunState.SUCCESS), [])  # same time: by id
    assert [r.run_id for r in store.list_runs()] == ["b", "d", "c", "a"]
    assert [r.run_id for r in store.list_runs(limit=2)] == ["b", "d"]
    assert [r.run_id for r in store.list_runs(pipeline_name="demo")] == ["d", "c", "a"]
    assert [r.run_id for r in store.list_runs(state=RunState.FAILED)] == ["b", "c"]
    assert [
        r.run_id for r in store.list_runs(pipeline_name="demo", state=RunState.SUCCESS, limit=1)
    ] == ["d"]
    assert store.list_runs(pipeline_name="nothing") == []


# -- tasks -----------------------------------------------------------------------------


def test_tasks_are_ordered_by_seq_then_map_index(store: MetadataStore) -> None:
    tasks = [
        make_task("join", seq=2),
        make_task("fan[10]", seq=1),
        make_task("fan[2]", seq=1),
        make_task("fan", seq=1, map_size=11),
        make_task("fan[0]", seq=1),
        make_task("start", seq=0),
    ]
    store.create_run(make_run(), tasks)
    assert [t.task_name for t in store.get_tasks("run-1")] == [
        "start",
        "fan",
        "fan[0]",
        "fan[2]",
        "fan[10]",
        "join",
    ]
    assert store.get_tasks("run-1")[1].map_size == 11
    assert store.get_tasks("run-1")[4].map_index == 10


def test_tasks_of_other_runs_are_separate(store: MetadataStore) -> None:
    store.create_run(make_run("r1"), [make_task("a", run_id="r1")])
    store.create_run(make_run("r2"), [make_task("a", run_id="r2"), make_task("b", run_id="r2")])
    assert [t.task_name for t in store.get_tasks("r1")] == ["a"]
    assert [t.task_name for t in store.get_tasks("r2")] == ["a", "b"]


# -- outputs, inputs, lineage ----------------------------------------------------------


def test_outputs_and_inputs_round_trip_with_filters(store: MetadataStore) -> None:
    store.create_run(make_run(), [make_task("a"), make_task("b", seq=1)])
    outputs = [
        output("b", "return", digest=digest("b"), inline=True),
        output("a", "second", digest=digest("c"), materializer="parquet@1", size=10**10),
        output("a", "first", position=1, digest=digest("d")),
        output("a", "first", position=0, digest=digest("e")),
        output("a", "first", digest=digest("f")),
    ]
    inputs = [
        InputRecord("run-1", "b", "values", digest("d"), position=1),
        InputRecord("run-1", "b", "values", digest("e"), position=0),
        InputRecord("run-1", "b", "model", digest("c")),
    ]
    store.commit(Batch(outputs=outputs, inputs=inputs))
    assert store.get_outputs("run-1") == [
        outputs[4],
        outputs[3],
        outputs[2],
        outputs[1],
        outputs[0],
    ]
    assert store.get_outputs("run-1", "b") == [outputs[0]]
    assert store.get_outputs("run-1", "b")[0].inline is True
    assert store.get_outputs("run-1", "a")[0].position == WHOLE
    assert store.get_outputs("run-1", "a")[-1].size == 10**10
    assert store.get_inputs("run-1") == [inputs[2], inputs[1], inputs[0]]
    assert store.get_inputs("run-1", "a") == []


def test_writing_an_output_again_replaces_it(store: MetadataStore) -> None:
    store.create_run(make_run(), [make_task("a")])
    store.commit(Batch(outputs=[output("a", digest=digest("1"))]))
    store.commit(Batch(outputs=[output("a", digest=digest("2"))]))
    assert [o.digest for o in store.get_outputs("run-1")] == [digest("2")]


def test_producers_and_consumers_of_an_artifact(store: MetadataStore) -> None:
    shared = digest("5")
    store.create_run(make_run("r2"), [])
    store.create_run(make_run("r1"), [])
    store.commit(
        Batch(
            outputs=[
                output("make", run_id="r2", digest=shared),
                output("make", run_id="r1", digest=shared),
                output("other", run_id="r1", digest=digest("6")),
            ],
            inputs=[
                InputRecord("r2", "use", "x", shared),
                InputRecord("r1", "use", "x", shared),
                InputRecord("r1", "use", "y", digest("6")),
            ],
        )
    )
    assert [(o.run_id, o.task_name) for o in store.producers(shared)] == [
        ("r1", "make"),
        ("r2", "make"),
    ]
    assert [(i.run_id, i.input_name) for i in store.consumers(shared)] == [("r1", "x"), ("r2", "x")]
    assert store.producers(digest("7")) == []
    assert store.consumers(digest("7")) == []


def test_inline_blobs_are_found_by_digest_and_a_rewrite_repairs_them(
    store: MetadataStore,
) -> None:
    payload = bytes(range(256)) * 4
    store.commit(Batch(blobs={digest("1"): b"damaged", digest("2"): b""}))
    # A step run again writes the right bytes under the same digest: they replace a damaged copy.
    store.commit(Batch(blobs={digest("1"): payload}))
    assert store.get_blobs([digest("1"), digest("2"), digest("3"), digest("1")]) == {
        digest("1"): payload,
        digest("2"): b"",
    }
    assert store.get_blobs([]) == {}


def test_get_blobs_handles_more_digests_than_one_query_takes(store: MetadataStore) -> None:
    blobs = {f"blake3:{index:064x}": index.to_bytes(2, "big") for index in range(1203)}
    store.commit(Batch(blobs=blobs))
    assert store.get_blobs(list(blobs)) == blobs


# -- the cache -------------------------------------------------------------------------


def test_find_cached_returns_the_newest_success_and_its_outputs(store: MetadataStore) -> None:
    for run_id, ended, state in [
        ("old", 10.0, TaskState.SUCCESS),
        ("new", 20.0, TaskState.SUCCESS),
        ("newest-failed", 30.0, TaskState.FAILED),
        ("newest-cached", 40.0, TaskState.CACHED),
    ]:
        task = make_task("train", run_id=run_id, cache_key="k", state=state, ended_at=ended)
        store.create_run(make_run(run_id), [task])
        store.commit(Batch(outputs=[output("train", run_id=run_id, digest=digest("9"))]))
    store.create_run(make_run("other"), [make_task("train", run_id="other", cache_key="x")])
    found = store.find_cached("k")
    assert found is not None
    task, outputs = found
    assert (task.run_id, task.state) == ("new", TaskState.SUCCESS)
    assert [(o.run_id, o.task_name) for o in outputs] == [("new", "train")]
    assert store.find_cached("missing") is None


def test_latest_task_finds_the_previous_run_of_a_step(store: MetadataStore) -> None:
    parts = {"code": "c", "args": {}}
    for run_id, created in [("r1", 1.0), ("r2", 2.0), ("r3", 3.0)]:
        store.create_run(
            make_run(run_id, created),
            [
                make_task("train", run_id=run_id, cache_parts={**parts, "run": run_id}),
                make_task("train[0]", run_id=run_id, cache_parts=parts),
                make_task("plain", run_id=run_id),
            ],
        )
    store.create_run(
        make_run("r9", 9.0, pipeline_name="other"),
        [make_task("train", run_id="r9", cache_parts=parts)],
    )
    latest = store.latest_task("demo", "train")
    assert latest is not None and latest.run_id == "r3"
    assert latest.cache_parts == {**parts, "run": "r3"}
    before = store.latest_task("demo", "train", before_run="r3")
    assert before is not None and before.run_id == "r2"
    assert store.latest_task("demo", "plain") is None  # no cache parts recorded
    assert store.latest_task("demo", "missing") is None


# -- engines claiming a run ------------------------------------------------------------


def test_claim_run_is_compare_and_set(open_store: Opener) -> None:
    first, second = open_store(), open_store()
    first.create_run(make_run(), [])
    assert first.claim_run("run-1", "host-a", 100, expected_pid=None)
    assert not second.claim_run("run-1", "host-b", 200, expected_pid=None)
    assert (second.get_run("run-1").engine_host, second.get_run("run-1").engine_pid) == (
        "host-a",
        100,
    )
    # taking over from a dead engine names the pid it saw
    assert not second.claim_run("run-1", "host-b", 200, expected_pid=999)
    assert second.claim_run("run-1", "host-b", 200, expected_pid=100)
    assert first.get_run("run-1").engine_pid == 200
    assert not first.claim_run("missing", "host-a", 1, expected_pid=None)


def test_concurrent_claimers_have_exactly_one_winner(open_store: Opener) -> None:
    stores = [open_store() for _ in range(6)]
    stores[0].create_run(make_run(), [])
    barrier = threading.Barrier(len(stores))
    results: dict[int, bool] = {}

    def claim(index: int) -> None:
        barrier.wait()
        results[index] = stores[index].claim_run("run-1", "host", 1000 + index, expected_pid=None)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [index for index, won in results.items() if won]
    assert len(results) == len(stores)
    assert len(winners) == 1
    assert stores[0].get_run("run-1").engine_pid == 1000 + winners[0]


# -- the schema ------------------------------------------------------------------------


def test_reopening_keeps_the_data(open_store: Opener) -> None:
    first = open_store()
    first.create_run(make_run(), [make_task("a")])
    first.close()
    assert open_store().get_run("run-1").pipeline_name == "demo"


OPEN_CONCURRENTLY = """
import sys
from cadencia.store import open_metadata_store
from cadencia.store.sql import SCHEMA_VERSION, SQLMetadataStore
from cadencia.store.sqlalchemy import SQLAlchemyBackend

url, kind = sys.argv[1], sys.argv[2]
print("ready", flush=True)
sys.stdin.readline()
if kind == "sqlalchemy-sqlite":
    store = SQLMetadataStore(SQLAlchemyBackend(url))
else:
    store = open_metadata_store(url)
store.close()
print("opened", flush=True)
"""


def test_two_processes_opening_a_new_store_at_once_create_the_schema_once(
    backend: str, store_url: str, open_store: Opener
) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_CONCURRENTLY, store_url, backend],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for process in processes:  # every process is past its imports: release them together
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        assert stdout == "opened\n"
    store = open_store()
    assert isinstance(store, SQLMetadataStore)
    assert store.backend.fetch("SELECT version FROM cadencia_schema") == [
        {"version": SCHEMA_VERSION}
    ]
    store.create_run(make_run(), [])
    assert store.get_run("run-1").run_id == "run-1"


def test_a_database_of_another_schema_version_is_refused(open_store: Opener) -> None:
    store = open_store()
    assert isinstance(store, SQLMetadataStore)
    with store.backend.transaction() as cursor:
        cursor.execute("UPDATE cadencia_schema SET version = 1")
    store.close()
    with pytest.raises(
        StoreError,
        match=r"^the metadata database .+ has schema version 1, but this cadencia uses version "
        rf"{SCHEMA_VERSION} and cannot read it; use a new home \(CADENCIA_HOME\)",
    ):
        open_store()
