"""The live view: drawn on a terminal while the run goes, absent when output is piped."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

SLOW = """
import time
from cadencia import pipeline, step

@step
def items(n: int) -> list[int]:
    return list(range(n))

@step
def work(x: int) -> int:
    time.sleep(0.05)
    return x

@step
def total(values: list[int]) -> int:
    time.sleep(0.4)
    return sum(values)

@pipeline
def slow(n: int = 12):
    total(work.map(items(n)))
"""


def run_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(args, stdout=terminal, stderr=terminal, env=env, close_fds=True)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process has exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_sees_running_steps_and_fan_out_progress(
    home: Path, write_pipeline: Callable[..., Path]
) -> None:
    env = {**os.environ, "CADENCIA_HOME": str(home), "COLUMNS": "100"}
    code, output = run_on_a_terminal(
        [sys.executable, "-m", "cadencia.cli.main", "run", str(write_pipeline(SLOW))], env
    )
    assert code == 0, output
    assert "fan-out" in output and "/12" in output
    assert "running" in output and "total" in output
    assert "success in" in output


def test_piped_output_has_no_live_view(home: Path, write_pipeline: Callable[..., Path]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cadencia.cli.main", "run", str(write_pipeline(SLOW))],
        env={**os.environ, "CADENCIA_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "fan-out" not in result.stdout and "\x1b[" not in result.stdout
    assert result.stdout.startswith("run ") and "success" in result.stdout


def test_ctrl_c_records_the_run_and_says_how_to_finish_it(
    home: Path, write_pipeline: Callable[..., Path]
) -> None:
    import signal
    import time

    source = SLOW.replace("time.sleep(0.4)", "time.sleep(30)")
    env = {**os.environ, "CADENCIA_HOME": str(home)}
    process = subprocess.Popen(
        [sys.executable, "-m", "cadencia.cli.main", "run", str(write_pipeline(source))],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        runs = subprocess.run(
            [sys.executable, "-m", "cadencia.cli.main", "runs", "--json"],
            env=env,
            capture_output=True,
            text=True,
        )
        if '"state": "running"' in runs.stdout:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1.0)  # let the fan-out finish and the long step start
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "interrupted" in stderr and "cadencia resume RUN_ID" in stderr
    runs = subprocess.run(
        [sys.executable, "-m", "cadencia.cli.main", "runs", "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert '"state": "failed"' in runs.stdout
    assert "was interrupted" in runs.stdout
