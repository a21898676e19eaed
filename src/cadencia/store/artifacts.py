"""Immutable, content-addressed artifact storage.

An artifact is a blob of bytes named by its digest. Writing the same bytes
twice stores them once; reading checks the bytes against the digest, so a
corrupted artifact is an error and never silently used. Two implementations
share one contract (tests/store/test_artifacts.py): a local folder (the fast
default) and any fsspec URL (object storage).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import secrets
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cadencia.errors import ArtifactCorruptedError, NotFoundError, StoreError
from cadencia.store.hashing import DEFAULT_ALGORITHM, check_digest, digest_bytes, split_digest

Buffer = bytes | bytearray | memoryview | mmap.mmap

# Below this size a file is read into memory; above it, it is memory-mapped so
# that Arrow and NumPy can use the bytes without copying them.
_MMAP_THRESHOLD = 1 << 20


@dataclass(frozen=True)
class StoredBlob:
    digest: str
    size: int


class ArtifactStore(ABC):
    """Where artifact bytes live. Implementations must be safe for concurrent writers."""

    url: str

    @abstractmethod
    def put(self, data: Buffer) -> StoredBlob:
        """Store ``data`` (idempotent) and return its digest and size."""

    @abstractmethod
    def read(self, digest: str) -> Buffer:
        """The bytes of ``digest``, verified; ``ArtifactCorruptedError`` if they do not match."""

    def write_with(self, write: Callable[[str], None]) -> StoredBlob:
        """Store what ``write(path)`` writes into a fresh local file.

        For large values: materializers that can write a file themselves avoid
        building the whole artifact in memory first.
        """
        with tempfile.TemporaryDirectory(prefix="cadencia-") as folder:
            path = os.path.join(folder, "artifact")
            write(path)
            with open(path, "rb") as handle:
                return self.put(handle.read())

    @abstractmethod
    def exists(self, digest: str) -> bool: ...

    @abstractmethod
    def location(self, digest: str) -> str:
        """Where the artifact is (a path or URL), for people and for lineage."""

    def _verify(self, digest: str, data: Buffer) -> Buffer:
        try:
            check_digest(digest, data, self.location(digest))
        except ArtifactCorruptedError as exc:
            moved = self._quarantine(digest)
            if moved is None:
                raise
            raise ArtifactCorruptedError(
                f"{exc} The damaged file was moved to {moved}, so the next run of that step "
                "will not find it in the cache and will write it again."
            ) from None
        return data

    def _quarantine(self, digest: str) -> str | None:
        """Move a damaged artifact aside (kept for inspection, never deleted)."""
        return None


def _relative_path(digest: str) -> str:
    algorithm, hexpart = split_digest(digest)
    return f"{algorithm}/{hexpart[:2]}/{hexpart[2:]}"


class LocalArtifactStore(ArtifactStore):
    """Artifacts as read-only files in a local folder: ``<root>/<algorithm>/ab/cdef…``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.url = str(self.root)
        self._tmp = self.root / "tmp"
        self._ready = False

    def _prepare(self) -> None:
        if not self._ready:
            self._tmp.mkdir(parents=True, exist_ok=True)
            self._ready = True

    def path(self, digest: str) -> Path:
        return self.root / _relative_path(digest)

    def location(self, digest: str) -> str:
        return str(self.path(digest))

    def exists(self, digest: str) -> bool:
        return self.path(digest).exists()

    def put(self, data: Buffer) -> StoredBlob:
        digest = digest_bytes(data, DEFAULT_ALGORITHM)
        size = memoryview(data).nbytes
        final = self.path(digest)
        if final.exists():
            return StoredBlob(digest, size)
        temporary = self._temporary()
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
            self._publish(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return StoredBlob(digest, size)

    def _temporary(self) -> Path:
        # Written beside the final place and renamed: readers never see a
        # partial file, and a crash leaves only a temporary file behind.
        self._prepare()
        return self._tmp / f"{secrets.token_hex(8)}.part"

    def _publish(self, temporary: Path, final: Path) -> None:
        if final.exists():  # the same bytes are already stored
            temporary.unlink()
            return
        temporary.chmod(0o444)
        try:
            os.replace(temporary, final)
        except FileNotFoundError:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, final)

    def _quarantine(self, digest: str) -> str | None:
        target = self.root / "corrupted" / f"{digest.replace(':', '-')}-{secrets.token_hex(3)}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.path(digest), target)
        except OSError:
            return None
        return str(target)

    def write_with(self, write: Callable[[str], None]) -> StoredBlob:
        temporary = self._temporary()
        try:
            write(str(temporary))
            with open(temporary, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size == 0:
                    data: Buffer = b""
                else:
                    data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
                try:
                    digest = digest_bytes(data, DEFAULT_ALGORITHM)
                finally:
                    if isinstance(data, mmap.mmap):
                        data.close()
            self._publish(temporary, self.path(digest))
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return StoredBlob(digest, size)

    def read(self, digest: str) -> Buffer:
        path = self.path(digest)
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < _MMAP_THRESHOLD:
                    data: Buffer = handle.read()
                else:
                    data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            raise NotFoundError(
                f"artifact {digest} is missing from {self.root}; it was deleted or the "
                "artifact store setting (CADENCIA_ARTIFACTS_URL / CADENCIA_HOME) changed"
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot read artifact {digest} at {path}: {exc}") from exc
        return self._verify(digest, data)


class FsspecArtifactStore(ArtifactStore):
    """Artifacts on any filesystem fsspec knows (``s3://``, ``gcs://``, ``memory://``…)."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        import fsspec  # imported only when a non-local store is configured

        try:
            self.fs, self.root = fsspec.core.url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise StoreError(f"cannot open artifact store {url!r}: {exc}") from exc
        self.url = url
        self.root = self.root.rstrip("/")

    def _path(self, digest: str) -> str:
        return f"{self.root}/{_relative_path(digest)}"

    def location(self, digest: str) -> str:
        return self.fs.unstrip_protocol(self._path(digest))  # type: ignore[no-any-return]

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self._path(digest)))

    def put(self, data: Buffer) -> StoredBlob:
        digest = digest_bytes(data, DEFAULT_ALGORITHM)
        size = memoryview(data).nbytes
        final = self._path(digest)
        if self.fs.exists(final):
            return StoredBlob(digest, size)
        temporary = f"{self.root}/tmp/{secrets.token_hex(8)}.part"
        try:
            self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
            self.fs.pipe_file(temporary, bytes(data))
            self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
            self.fs.mv(temporary, final)
        except Exception as exc:
            with contextlib.suppress(Exception):  # best effort: it may not exist
                self.fs.rm(temporary)
            raise StoreError(f"cannot write artifact to {self.url}: {exc}") from exc
        return StoredBlob(digest, size)

    def read(self, digest: str) -> Buffer:
        path = self._path(digest)  # a malformed digest is its own error, not a read failure
        try:
            data = self.fs.cat_file(path)
        except FileNotFoundError:
            raise NotFoundError(f"artifact {digest} is missing from {self.url}") from None
        except Exception as exc:
            raise StoreError(f"cannot read artifact {digest} from {self.url}: {exc}") from exc
        return self._verify(digest, data)


def open_artifact_store(url: str) -> ArtifactStore:
    """A local folder path or ``file://`` URL gets the fast local store; anything else fsspec."""
    if "://" not in url:
        return LocalArtifactStore(url)
    if url.startswith("file://"):
        return LocalArtifactStore(url.removeprefix("file://"))
    return FsspecArtifactStore(url)
