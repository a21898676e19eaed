"""Capture each task's stdout, stderr and ``logging`` output.

Every process that runs tasks appends their output to one log file per run
(``logs/<run_id>/<pid>.log``); a task's log is the byte range it wrote,
recorded with the task. One file per process instead of one per task spares
a file creation per task — most of the cost of a no-op step on a real disk —
and the output is on disk as it is written, so the log of a step whose
worker is killed survives it.

In a worker process the file descriptors 1 and 2 themselves point at the
file, so output from C extensions and child processes is captured too. In
the engine's own process (inline executor) only Python-level streams are
swapped, leaving the engine's terminal alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from cadencia.store.records import LogRange

_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


class LogSink:
    """The log file of one process for one run."""

    def __init__(self, log_dir: str, *, file_descriptors: bool) -> None:
        self.name = f"{os.getpid()}.log"
        self.path = Path(log_dir) / self.name
        self.file_descriptors = file_descriptors
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Open for the life of the process; closed by close().
        self.stream: IO[str] = open(  # noqa: SIM115
            self.path, "a", encoding="utf-8", errors="replace"
        )
        self._handler = logging.StreamHandler(self.stream)
        self._handler.setFormatter(_FORMAT)
        if file_descriptors:
            # For the life of the worker: everything it prints goes to the file.
            # Fresh line-buffered streams on fds 1 and 2 replace whatever the
            # engine had (a test runner's capture object, a terminal), so that a
            # line printed just before a crash is already in the log.
            _flush((sys.stdout, sys.stderr))
            os.dup2(self.stream.fileno(), 1)
            os.dup2(self.stream.fileno(), 2)
            sys.stdout = _line_buffered(1)
            sys.stderr = _line_buffered(2)

    def offset(self) -> int:
        _flush((sys.stdout, sys.stderr, self.stream))
        return os.fstat(self.stream.fileno()).st_size

    @contextlib.contextmanager
    def task(self, header: str = "") -> Iterator[IO[str]]:
        """Capture one task; ``last_range`` holds its byte range afterwards."""
        start = self.offset()
        root = logging.getLogger()
        previous_level = root.level
        root.addHandler(self._handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        saved = sys.stdout, sys.stderr
        if not self.file_descriptors:
            sys.stdout = sys.stderr = self.stream
        if header:
            self.stream.write(header)
            self.stream.flush()  # before the step's own output, which bypasses this buffer
        try:
            yield self.stream
        finally:
            sys.stdout, sys.stderr = saved
            root.removeHandler(self._handler)
            root.setLevel(previous_level)
            self.last_range = LogRange(self.name, start, self.offset())

    def close(self) -> None:
        self.stream.close()


def _line_buffered(fd: int) -> IO[str]:
    return open(fd, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")


def _flush(streams: tuple[IO[str], ...]) -> None:
    for stream in streams:
        with contextlib.suppress(Exception):
            stream.flush()


def read_log(log_dir: Path, ranges: list[LogRange] | None) -> str:
    """The text of a task's log: its byte ranges, attempt after attempt."""
    parts = []
    for item in ranges or []:
        if item.end <= item.start:
            continue
        try:
            with open(log_dir / item.file, "rb") as handle:
                handle.seek(item.start)
                parts.append(handle.read(item.end - item.start).decode("utf-8", "replace"))
        except FileNotFoundError:
            parts.append(f"[log file {item.file} is missing]\n")
    return "".join(parts)
