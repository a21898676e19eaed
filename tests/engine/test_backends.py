"""The same engine on the other backends: PostgreSQL metadata, an fsspec artifact store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import cadencia

PIPELINE = """
import time
from pathlib import Path
from cadencia import pipeline, step

@step
def numbers(n: int) -> list[int]:
    return list(range(n))

@step
def payload(x: int) -> bytes:
    return bytes([x % 256]) * 50_000

@step
def sizes(blobs: list[bytes], marks: str) -> int:
    (Path(marks) / "sizes.start").touch()
    time.sleep(1.0)
    return sum(len(b) for b in blobs)

@pipeline
def backends(marks: str, n: int = 6):
    sizes(payload.map(numbers(n)), marks)
"""


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadencia.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.postgres
def test_a_run_killed_and_resumed_on_postgresql(
    postgres_url: str, tmp_path: Path, write_pipeline: Callable[..., Path]
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {
        **os.environ,
        "CADENCIA_HOME": str(tmp_path / "home"),
        "CADENCIA_DB_URL": postgres_url,
    }
    path = write_pipeline(PIPELINE)
    engine = subprocess.Popen(
        [sys.executable, "-m", "cadencia.cli.main", "run", str(path), "-p", f"marks={marks}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (marks / "sizes.start").exists():
        assert time.monotonic() < deadline, "the run never reached its last step"
        time.sleep(0.02)
    engine.send_signal(signal.SIGKILL)
    engine.wait()
    listed = run_cli(["runs", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    assert '"state": "running"' in listed.stdout
    run_id = listed.stdout.split('"run_id": "')[1].split('"')[0]
    resumed = run_cli(["resume", run_id, "--json"], env)
    assert resumed.returncode == 0, resumed.stderr
    assert '"state": "success"' in resumed.stdout
    assert not (tmp_path / "home" / "cadencia.db").exists()  # the metadata went to PostgreSQL


def test_a_run_on_an_fsspec_artifact_store(
    home: Path,
    tmp_path: Path,
    write_pipeline: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = tmp_path / "objects"
    monkeypatch.setenv("CADENCIA_ARTIFACTS_URL", f"local://{store}")
    marks = tmp_path / "marks"
    marks.mkdir()
    view = cadencia.run(str(write_pipeline(PIPELINE)), {"marks": str(marks), "n": 3})
    assert view.state == "success", view.record.error
    assert view.output("sizes") == 150_000
    record = view.output_record("payload[1]")
    assert not record.inline
    location = view.client.artifacts.location(record.digest)
    assert location.startswith(("local://", "file://"))
    assert sum(1 for path in store.rglob("*") if path.is_file()) == 3
