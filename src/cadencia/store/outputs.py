"""Reading a task's recorded outputs back, wherever they are stored.

One place knows that an output is either inline in the metadata store or a
file in the artifact store, how to check its digest and which materializer
loads it; the runner, the planner and the client all go through here.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Any

from cadencia.errors import NotFoundError
from cadencia.store.artifacts import ArtifactStore
from cadencia.store.hashing import check_digest
from cadencia.store.materializers import MaterializerRegistry
from cadencia.store.metadata import MetadataStore
from cadencia.store.records import OutputRecord


def read_output(
    record: OutputRecord,
    metadata: MetadataStore,
    artifacts: ArtifactStore,
    registry: MaterializerRegistry,
    blobs: MutableMapping[str, bytes] | None = None,
) -> Any:
    """The value of one output, its bytes checked against its digest.

    ``blobs`` is a cache of inline artifacts already fetched (filled as needed).
    """
    materializer = registry.get(record.materializer.partition("@")[0])
    if not record.inline:
        return materializer.load(artifacts.read(record.digest))
    data = blobs.get(record.digest) if blobs is not None else None
    if data is None:
        data = metadata.get_blobs([record.digest]).get(record.digest)
        if data is None:
            raise NotFoundError(f"inline artifact {record.digest} is missing from {metadata.url}")
        if blobs is not None:
            blobs[record.digest] = data
    check_digest(record.digest, data, f"{metadata.url} (inline)")
    return materializer.load(data)


def still_usable(
    outputs: Sequence[OutputRecord],
    metadata: MetadataStore,
    artifacts: ArtifactStore,
    registry: MaterializerRegistry,
) -> dict[str, bytes] | None:
    """Can a cached result be reused? Its inline bytes if so, None if not.

    Every output must still be stored and written by the materializer version
    registered now (a format change invalidates the cache).
    """
    blobs = metadata.get_blobs([o.digest for o in outputs if o.inline])
    for output in outputs:
        name, _, version = output.materializer.partition("@")
        stored = output.digest in blobs if output.inline else artifacts.exists(output.digest)
        if registry.get(name).version != version or not stored:
            return None
    return blobs
