"""One contract for every artifact store: the local folder, and fsspec (``memory://``,
``file://``). Content-addressed, idempotent, verified on read, never half-written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cadencia.errors import ArtifactCorruptedError, NotFoundError, StoreError
from cadencia.store import open_artifact_store
from cadencia.store.artifacts import ArtifactStore, FsspecArtifactStore, LocalArtifactStore
from cadencia.store.hashing import digest_bytes

KINDS = ["local", "file-url", "fsspec-file", "fsspec-memory"]
ON_DISK = ["local", "file-url", "fsspec-file"]


def make_store(kind: str, tmp_path: Path) -> ArtifactStore:
    if kind == "local":
        return open_artifact_store(str(tmp_path / "artifacts"))
    if kind == "file-url":
        return open_artifact_store(f"file://{tmp_path / 'artifacts'}")
    if kind == "fsspec-file":
        return FsspecArtifactStore(f"file://{tmp_path / 'artifacts'}")
    return open_artifact_store(f"memory://cadencia-test-{uuid.uuid4().hex}/artifacts")


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(kind: str, tmp_path: Path) -> ArtifactStore:
    return make_store(kind, tmp_path)


def stored_files(store: ArtifactStore) -> list[str]:
    """Every file under the store's root, relative to it."""
    if isinstance(store, LocalArtifactStore):
        return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())
    assert isinstance(store, FsspecArtifactStore)
    found = store.fs.find(store.root)
    return sorted(path[len(store.root) + 1 :] for path in found)


def overwrite(store: ArtifactStore, digest: str, data: bytes) -> None:
    """Damage a stored artifact by writing into its file (as a disk or a person might)."""
    if isinstance(store, LocalArtifactStore):
        path = store.path(digest)
        path.chmod(0o644)
        path.write_bytes(data)
    else:
        assert isinstance(store, FsspecArtifactStore)
        store.fs.pipe_file(store._path(digest), data)


def test_open_artifact_store_picks_the_implementation(kind: str, store: ArtifactStore) -> None:
    expected = LocalArtifactStore if kind in ("local", "file-url") else FsspecArtifactStore
    assert type(store) is expected


def test_put_is_content_addressed_and_reads_back(store: ArtifactStore) -> None:
    data = b"hello, artifacts"
    blob = store.put(data)
    assert blob.digest == digest_bytes(data) and blob.digest.startswith("blake3:")
    assert blob.size == len(data)
    assert bytes(store.read(blob.digest)) == data
    assert store.exists(blob.digest)
    hexpart = blob.digest.split(":")[1]
    assert store.location(blob.digest).endswith(f"blake3/{hexpart[:2]}/{hexpart[2:]}")


@pytest.mark.parametrize(
    "data", [b"", bytearray(b"abc"), memoryview(b"xyz" * 1000)], ids=["empty", "bytearray", "view"]
)
def test_put_accepts_every_buffer_type(store: ArtifactStore, data: bytes) -> None:
    blob = store.put(data)
    assert blob.size == len(bytes(data))
    assert bytes(store.read(blob.digest)) == bytes(data)


def test_put_is_idempotent(store: ArtifactStore) -> None:
    first = store.put(b"same bytes")
    second = store.put(bytearray(b"same bytes"))
    other = store.put(b"other bytes")
    assert first == second
    assert other.digest != first.digest
    artifacts = [f for f in stored_files(store) if not f.startswith("tmp/")]
    assert len(artifacts) == 2


def test_write_with_stores_what_the_callback_writes(store: ArtifactStore) -> None:
    def write(path: str) -> None:
        with open(path, "wb") as handle:
            handle.write(b"written by a materializer")

    blob = store.write_with(write)
    assert blob == store.put(b"written by a materializer")
    assert bytes(store.read(blob.digest)) == b"written by a materializer"
    assert [f for f in stored_files(store) if f.startswith("tmp/")] == []


def test_large_artifacts_round_trip(store: ArtifactStore) -> None:
    data = os.urandom(3 << 20)  # above the memory-map threshold of the local store
    blob = store.put(data)
    read = store.read(blob.digest)
    assert memoryview(read).nbytes == len(data)
    assert bytes(read) == data


@pytest.mark.parametrize("size", [100, 3 << 20], ids=["small", "memory-mapped"])
def test_a_corrupted_artifact_is_an_error_naming_the_path_and_the_fix(
    store: ArtifactStore, size: int
) -> None:
    data = os.urandom(size)
    blob = store.put(data)
    overwrite(store, blob.digest, data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ArtifactCorruptedError) as caught:
        store.read(blob.digest)
    message = str(caught.value)
    assert message.startswith(
        f"artifact {blob.digest} at {store.location(blob.digest)} is corrupted: its bytes now "
        "hash to blake3:"
    )
    assert "it was changed or damaged after it was written" in message
    if isinstance(store, LocalArtifactStore):
        # The damaged file is moved aside, so the step's next run writes it again.
        assert "The damaged file was moved to " in message
        assert not store.exists(blob.digest)
        moved = message.split("moved to ")[1].split(", so")[0]
        assert Path(moved).read_bytes() == data[:-1] + bytes([data[-1] ^ 1])
        assert store.put(data) == blob
        assert bytes(store.read(blob.digest)) == data
    else:
        assert message.endswith("would read the damaged bytes again).")
    assert caught.value.headline == "corrupted artifact"


def test_a_truncated_artifact_is_corrupted(store: ArtifactStore) -> None:
    blob = store.put(b"some bytes")
    overwrite(store, blob.digest, b"")
    with pytest.raises(ArtifactCorruptedError, match="is corrupted"):
        store.read(blob.digest)


def test_a_missing_artifact_is_not_found(kind: str, store: ArtifactStore) -> None:
    digest = digest_bytes(b"never stored")
    assert not store.exists(digest)
    where = re.escape(
        str(getattr(store, "root", "")) if kind in ("local", "file-url") else store.url
    )
    with pytest.raises(NotFoundError, match=rf"^artifact {digest} is missing from {where}"):
        store.read(digest)


@pytest.mark.parametrize("bad", ["abc", "md5:" + "0" * 32, "blake3:xyz", "blake3:ABCDEF0123456789"])
def test_a_malformed_digest_is_refused(store: ArtifactStore, bad: str) -> None:
    with pytest.raises(StoreError, match=rf"^{re.escape(repr(bad))} is not an artifact digest"):
        store.read(bad)


def test_a_failing_writer_leaves_no_file(store: ArtifactStore) -> None:
    def write(path: str) -> None:
        with open(path, "wb") as handle:
            handle.write(b"half of it")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.write_with(write)
    assert [f for f in stored_files(store) if not f.startswith("tmp/")] == []
    assert [f for f in stored_files(store) if f.endswith(".part")] == []


@pytest.mark.parametrize("kind", ON_DISK)
def test_a_failed_put_leaves_no_partial_file(store: ArtifactStore) -> None:
    data = b"cannot be placed"
    digest = digest_bytes(data)
    hexpart = digest.split(":")[1]
    root = Path(store.root if isinstance(store, LocalArtifactStore) else str(store.root))
    blocker = root / "blake3" / hexpart[:2]
    blocker.parent.mkdir(parents=True)
    blocker.write_bytes(b"a file where the artifact's folder should be")
    with pytest.raises((OSError, StoreError)):
        store.put(data)
    assert not store.exists(digest)
    assert list(root.rglob("*.part")) == []
    blocker.unlink()
    assert bytes(store.read(store.put(data).digest)) == data


def test_local_artifacts_are_read_only_files(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    blob = store.put(b"immutable")
    assert store.path(blob.digest).stat().st_mode & 0o777 == 0o444


CONCURRENT_WRITER = """
import sys
from cadencia.store import open_artifact_store
from cadencia.store.artifacts import FsspecArtifactStore

url, kind = sys.argv[1], sys.argv[2]
store = FsspecArtifactStore(url) if kind == "fsspec-file" else open_artifact_store(url)
data = bytes(range(256)) * 8192  # 2 MiB, the same in every process
print("ready", flush=True)
sys.stdin.readline()
digests = {store.put(data).digest for _ in range(20)}
digests.add(store.write_with(lambda path: open(path, "wb").write(data)).digest)
print(*digests, flush=True)
"""


@pytest.mark.parametrize("kind", ON_DISK)
def test_concurrent_writers_of_the_same_content(
    kind: str, store: ArtifactStore, tmp_path: Path
) -> None:
    url = {
        "local": str(tmp_path / "artifacts"),
        "file-url": f"file://{tmp_path / 'artifacts'}",
        "fsspec-file": f"file://{tmp_path / 'artifacts'}",
    }[kind]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_WRITER, url, kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in processes:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        outputs.append(stdout.strip())
    data = bytes(range(256)) * 8192
    assert outputs == [digest_bytes(data)] * 4
    assert bytes(store.read(digest_bytes(data))) == data
    artifacts = [f for f in stored_files(store) if not f.startswith("tmp/")]
    assert len(artifacts) == 1
    assert [f for f in stored_files(store) if f.endswith(".part")] == []


def test_stores_share_one_layout(tmp_path: Path) -> None:
    """A folder written by the local store reads through fsspec's file:// and back."""
    local = LocalArtifactStore(tmp_path / "shared")
    remote = FsspecArtifactStore(f"file://{tmp_path / 'shared'}")
    blob = local.put(b"portable")
    assert bytes(remote.read(blob.digest)) == b"portable"
    other = remote.put(b"the other way")
    assert bytes(local.read(other.digest)) == b"the other way"


def test_an_unknown_fsspec_protocol_is_a_store_error() -> None:
    with pytest.raises(StoreError, match=r"^cannot open artifact store 'nosuchfs://x'"):
        open_artifact_store("nosuchfs://x")
