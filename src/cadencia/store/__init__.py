"""Store: where state lives — the metadata database and the artifact store.

May import: the standard library, ``cadencia.errors``. SQLAlchemy, fsspec,
pandas, pyarrow and numpy are imported inside the functions that use them.
"""

from __future__ import annotations

from cadencia.store.artifacts import ArtifactStore, open_artifact_store
from cadencia.store.config import Settings
from cadencia.store.metadata import MetadataStore


def open_metadata_store(url: str) -> MetadataStore:
    """SQLite URLs use the standard library; every other URL goes through SQLAlchemy."""
    from cadencia.store.sql import SQLMetadataStore

    if url.startswith("sqlite:///") and "?" not in url:
        from cadencia.store.sqlite import SQLiteBackend

        return SQLMetadataStore(SQLiteBackend(url.removeprefix("sqlite:///")))
    from cadencia.store.sqlalchemy import SQLAlchemyBackend

    return SQLMetadataStore(SQLAlchemyBackend(url))


__all__ = [
    "ArtifactStore",
    "MetadataStore",
    "Settings",
    "open_artifact_store",
    "open_metadata_store",
]
