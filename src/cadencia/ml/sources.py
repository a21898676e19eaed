"""Reading monthly data partitions from a folder or a URL, with retries and checksums.

A source is a base location (local path, ``file://``, ``http(s)://`` or any
fsspec URL) holding partitions such as ``flights/month=03.parquet`` (or
``.csv``) and a ``MANIFEST.json`` that lists every file with its SHA-256 and
size. Reading a partition fetches its bytes (retrying transient failures with
exponential backoff), checks them against the manifest, then parses them; any
problem is a ``DataSourceError`` that names the partition, the rule broken and
what to do. Nothing is written by this module except by ``write_manifest``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadencia.ml.errors import DataSourceError

if TYPE_CHECKING:
    import pandas as pd

MANIFEST = "MANIFEST.json"
_FORMATS = (".parquet", ".csv")


class _Permanent(Exception):
    """A failure that retrying cannot fix (404, permission denied, bad URL)."""


@dataclass(frozen=True)
class PartitionSource:
    """Monthly partitions under ``base_url``, described by its ``MANIFEST.json``."""

    base_url: str
    retries: int = 3
    retry_delay: float = 0.2
    timeout: float = 30.0
    _manifest: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def manifest(self) -> dict[str, Any]:
        """The source's manifest: ``{"files": {relative_path: {"sha256", "bytes"}}}``."""
        if not self._manifest:
            raw = self._fetch(MANIFEST, what="the manifest")
            try:
                manifest = json.loads(raw)
                files = manifest["files"]
                if not isinstance(files, dict):
                    raise TypeError("'files' is not an object")
            except (ValueError, KeyError, TypeError) as exc:
                raise DataSourceError(
                    f"{self._url(MANIFEST)} is not a valid manifest ({exc}); it must be JSON "
                    'like {"files": {"flights/month=01.parquet": {"sha256": "...", "bytes": 123}}}'
                ) from exc
            self._manifest.update(manifest)
        return self._manifest

    def months(self, table: str) -> list[int]:
        found = []
        for path in self.manifest()["files"]:
            folder, _, name = path.rpartition("/")
            if folder == table and name.startswith("month="):
                found.append(int(name.removeprefix("month=").split(".")[0]))
        return sorted(found)

    def partition_path(self, table: str, month: int) -> str:
        """The manifest entry for ``table`` and ``month`` (Parquet preferred over CSV)."""
        if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
            raise DataSourceError(f"month {month!r} is invalid: it must be a whole number 1-12")
        files = self.manifest()["files"]
        for suffix in _FORMATS:
            candidate = f"{table}/month={month:02d}{suffix}"
            if candidate in files:
                return candidate
        available = self.months(table)
        listed = ", ".join(str(m) for m in available) or "none"
        raise DataSourceError(
            f"month {month} of '{table}' does not exist in {self.base_url} (months available: "
            f"{listed}); pick one of those or publish the partition and its manifest entry"
        )

    def checksum(self, relative: str) -> str:
        entry = self.manifest()["files"].get(relative)
        if not entry or "sha256" not in entry:
            raise DataSourceError(
                f"{relative} has no sha256 in {self._url(MANIFEST)}; every file a source "
                "serves must be listed with its checksum (see write_manifest)"
            )
        return str(entry["sha256"])

    def read_partition(self, table: str, month: int) -> pd.DataFrame:
        return self.read_file(self.partition_path(table, month))

    def read_file(self, relative: str) -> pd.DataFrame:
        """Fetch, verify and parse one file listed in the manifest."""
        expected = self.checksum(relative)
        data = self._fetch(relative, what=f"partition {relative}")
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            size = self.manifest()["files"][relative].get("bytes")
            sizes = f"{len(data)} bytes received" + (f", {size} expected" if size else "")
            raise DataSourceError(
                f"partition {relative} from {self.base_url} is corrupt or truncated: its sha256 "
                f"is {actual[:16]}… but the manifest says {expected[:16]}… ({sizes}); "
                "re-publish the file or fix its manifest entry"
            )
        return parse_table(data, relative, origin=self.base_url)

    # -- fetching ----------------------------------------------------------------------

    def _url(self, relative: str) -> str:
        return self.base_url.rstrip("/") + "/" + relative

    def _fetch(self, relative: str, *, what: str) -> bytes:
        url = self._url(relative)
        last: Exception | None = None
        for attempt in range(1, self.retries + 2):
            try:
                return _read_bytes(url, self.timeout)
            except _Permanent as exc:
                raise DataSourceError(f"{what} cannot be read from {url}: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                last = exc
                if attempt <= self.retries:
                    wait = self.retry_delay * 2 ** (attempt - 1)
                    time.sleep(wait * (0.9 + 0.2 * random.random()))
        raise DataSourceError(
            f"{what} could not be fetched from {url} after {self.retries + 1} attempts "
            f"({type(last).__name__}: {last}); check that the URL is right and reachable"
        ) from last


def _read_bytes(url: str, timeout: float) -> bytes:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("http", "https"):
        return _read_http(url, timeout)
    if scheme in ("", "file"):
        path = Path(url.removeprefix("file://")) if scheme else Path(url)
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise _Permanent(f"no such file {path}") from exc
        except IsADirectoryError as exc:
            raise _Permanent(f"{path} is a folder, not a file") from exc
        except PermissionError as exc:
            raise _Permanent(f"permission denied on {path}") from exc
    import fsspec

    try:
        with fsspec.open(url, "rb", timeout=timeout) as handle:
            return bytes(handle.read())
    except FileNotFoundError as exc:
        raise _Permanent(f"no such object {url}") from exc
    except (ValueError, ImportError) as exc:
        raise _Permanent(f"cannot open {url}: {exc}") from exc


def _read_http(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "cadencia"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = bytes(response.read())
            length = response.headers.get("Content-Length")
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the response's socket
        if exc.code >= 500 or exc.code in (408, 429):
            raise OSError(f"HTTP {exc.code} {exc.reason}") from exc
        raise _Permanent(f"HTTP {exc.code} {exc.reason}") from exc
    if length is not None and int(length) != len(data):
        raise OSError(f"connection closed after {len(data)} of {length} bytes")
    return data


def parse_table(data: bytes, name: str, *, origin: str = "") -> pd.DataFrame:
    """Parse Parquet or CSV bytes; a file that is neither is a ``DataSourceError``."""
    import io

    import pandas as pd

    where = f" from {origin}" if origin else ""
    if not data:
        raise DataSourceError(f"{name}{where} is an empty file; re-publish it")
    try:
        if name.endswith(".csv"):
            return pd.read_csv(io.BytesIO(data))
        import pyarrow as pa
        import pyarrow.parquet as pq

        return pq.read_table(pa.BufferReader(data)).to_pandas()
    except Exception as exc:  # pyarrow/pandas raise many types for a malformed file
        raise DataSourceError(
            f"{name}{where} is malformed and cannot be parsed ({type(exc).__name__}: {exc}); "
            "re-publish the partition"
        ) from exc


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: str | os.PathLike[str]) -> Path:
    """Write ``MANIFEST.json`` for every Parquet/CSV file under ``folder`` (atomically)."""
    root = Path(folder)
    files = {
        path.relative_to(root).as_posix(): {
            "sha256": file_digest(path),
            "bytes": path.stat().st_size,
        }
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix in _FORMATS
    }
    target = root / MANIFEST
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps({"files": files}, indent=1, sort_keys=True))
    os.replace(temporary, target)
    return target
