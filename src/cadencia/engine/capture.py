"""Capture a task's stdout, stderr and ``logging`` output into its log file.

In a worker process the file descriptors themselves are redirected, so
output from C extensions and child processes lands in the log too. In the
engine's own process (inline executor) only Python-level streams are
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

_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


@contextlib.contextmanager
def capture_output(path: str | None, *, file_descriptors: bool, header: str = "") -> Iterator[IO[str] | None]:
    if path is None:
        yield None
        return
    log = open(path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115 - closed below
    if header:
        log.write(header)
        log.flush()
    handler = logging.StreamHandler(log)
    handler.setFormatter(_FORMAT)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    saved_streams = sys.stdout, sys.stderr
    saved_fds: tuple[int, int] | None = None
    try:
        _flush(saved_streams)
        if file_descriptors:
            saved_fds = os.dup(1), os.dup(2)
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
        else:
            sys.stdout = sys.stderr = log
        yield log
    finally:
        _flush((sys.stdout, sys.stderr))
        sys.stdout, sys.stderr = saved_streams
        if saved_fds is not None:
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            os.close(saved_fds[0])
            os.close(saved_fds[1])
        root.removeHandler(handler)
        root.setLevel(previous_level)
        log.flush()
        empty = os.fstat(log.fileno()).st_size == 0
        log.close()
        if empty:  # most no-op steps print nothing: keep the log folder small
            Path(path).unlink(missing_ok=True)


def _flush(streams: tuple[IO[str], IO[str]]) -> None:
    for stream in streams:
        with contextlib.suppress(Exception):
            stream.flush()
