"""Two engines on one cadencia home at once: both complete, the store stays consistent."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cadencia

BUSY = """
from cadencia import pipeline, step

@step(cache=False)
def item(i: int, salt: str) -> str:
    return f"{salt}-{i}"

@step(cache=False)
def join(values: list[str]) -> int:
    return len(values)

@pipeline
def busy(salt: str, n: int = 60):
    join(item.map(numbers(n, salt), salt=salt))

@step(cache=False)
def numbers(n: int, salt: str) -> list[int]:
    return list(range(n))
"""


def test_two_runs_on_the_same_home_both_complete(
    home: Path, write_pipeline: Callable[..., Path]
) -> None:
    path = write_pipeline(BUSY)
    env = {**os.environ, "CADENCIA_HOME": str(home)}
    engines = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cadencia.cli.main",
                "run",
                str(path),
                "-p",
                f"salt={salt}",
                "--json",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for salt in ("a", "b", "c")
    ]
    outcomes = [engine.communicate(timeout=120) for engine in engines]
    for engine, (_, stderr) in zip(engines, outcomes, strict=True):
        assert engine.returncode == 0, stderr
    with cadencia.Client(home) as client:
        runs = client.runs()
        assert len(runs) == 3
        for view in runs:
            assert view.state == "success"
            assert view.output("join") == 60
            assert len(view.tasks) == 63
            salt = view.record.params["salt"]
            assert view.output("item[7]") == f"{salt}-7"
    connection = sqlite3.connect(home / "cadencia.db")
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        connection.close()
