"""Reading partitions from folders and HTTP servers on 127.0.0.1: checksums, retries, errors."""

from __future__ import annotations

import http.server
import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from cadencia.ml.errors import DataSourceError
from cadencia.ml.sources import PartitionSource, write_manifest


def test_reads_a_month_from_a_folder(source_dir: Path) -> None:
    flights = PartitionSource(str(source_dir)).read_partition("flights", 2)
    assert len(flights) == 24951
    assert set(flights["month"]) == {2}


def test_reads_a_month_over_http(source_dir: Path, serve: Callable[..., str]) -> None:
    source = PartitionSource(serve(source_dir))
    assert source.months("flights") == list(range(1, 13))
    assert len(source.read_partition("weather", 1)) > 2000


def test_reads_csv_partitions(source_dir: Path, serve: Callable[..., str]) -> None:
    import pandas as pd

    parquet = source_dir / "flights" / "month=04.parquet"
    pd.read_parquet(parquet).to_csv(source_dir / "flights" / "month=04.csv", index=False)
    parquet.unlink()
    write_manifest(source_dir)
    frame = PartitionSource(serve(source_dir)).read_partition("flights", 4)
    assert len(frame) == 28330


def test_a_missing_month_names_the_months_available(source_dir: Path) -> None:
    (source_dir / "flights" / "month=12.parquet").unlink()
    write_manifest(source_dir)
    with pytest.raises(DataSourceError, match=r"month 12 of 'flights' does not exist .*1, 2, 3"):
        PartitionSource(str(source_dir)).read_partition("flights", 12)
    with pytest.raises(
        DataSourceError, match="month 13 is invalid: it must be a whole number 1-12"
    ):
        PartitionSource(str(source_dir)).read_partition("flights", 13)


def test_a_corrupt_file_fails_its_checksum(source_dir: Path, serve: Callable[..., str]) -> None:
    path = source_dir / "flights" / "month=03.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataSourceError, match=r"month=03.parquet .* is corrupt or truncated"):
        PartitionSource(serve(source_dir)).read_partition("flights", 3)


def test_a_truncated_file_is_reported_with_sizes(source_dir: Path) -> None:
    path = source_dir / "flights" / "month=03.parquet"
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size // 3])
    with pytest.raises(DataSourceError, match=rf"{size // 3} bytes received, {size} expected"):
        PartitionSource(str(source_dir)).read_partition("flights", 3)


def test_a_malformed_file_with_a_matching_checksum_is_reported(source_dir: Path) -> None:
    (source_dir / "flights" / "month=03.parquet").write_bytes(b"not parquet at all")
    write_manifest(source_dir)
    with pytest.raises(DataSourceError, match=r"month=03.parquet .* is malformed"):
        PartitionSource(str(source_dir)).read_partition("flights", 3)


def test_a_source_without_manifest_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match=r"the manifest cannot be read .* no such file"):
        PartitionSource(str(tmp_path)).read_partition("flights", 1)
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"nope": 1}))
    with pytest.raises(DataSourceError, match="is not a valid manifest"):
        PartitionSource(str(tmp_path)).read_partition("flights", 1)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_url_fails_after_retries() -> None:
    source = PartitionSource(f"http://127.0.0.1:{_closed_port()}/data", retries=2, retry_delay=0.01)
    with pytest.raises(
        DataSourceError, match=r"could not be fetched .* after 3 attempts .*reachable"
    ):
        source.read_partition("flights", 1)


def test_transient_server_errors_are_retried(source_dir: Path, serve: Callable[..., str]) -> None:
    failures = {"left": 2}
    folder = str(source_dir)

    class Flaky(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=folder, **kwargs)  # type: ignore[arg-type]

        def do_GET(self) -> None:
            if self.path.endswith(".parquet") and failures["left"]:
                failures["left"] -= 1
                self.send_error(503, "busy")
                return
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    source = PartitionSource(serve(handler=Flaky), retries=3, retry_delay=0.01)
    assert len(source.read_partition("flights", 1)) == 27004
    assert failures["left"] == 0


def test_not_found_is_not_retried(source_dir: Path, serve: Callable[..., str]) -> None:
    base = serve(source_dir)
    (source_dir / "flights" / "month=05.parquet").unlink()  # listed, but gone
    with pytest.raises(
        DataSourceError, match=r"partition flights/month=05.parquet cannot be read .* HTTP 404"
    ):
        PartitionSource(base, retries=5, retry_delay=5).read_partition("flights", 5)
