"""A step's output is captured whatever writes it: print, logging, C code, child processes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import cadencia

NOISY = """
import logging, os, subprocess, sys
from cadencia import pipeline, step

@step
def noisy(n: int) -> int:
    print("from print")
    print("to stderr", file=sys.stderr)
    logging.getLogger("noisy").info("from logging %d", n)
    os.write(1, b"from the file descriptor\\n")
    subprocess.run([sys.executable, "-c", "print('from a child process')"], check=True)
    return n

@step
def quiet(n: int) -> int:
    return n

@pipeline
def loud(n: int = 1):
    quiet(noisy(n))
"""


def test_every_kind_of_output_lands_in_the_step_log(
    home: Path, write_pipeline: Callable[..., Path]
) -> None:
    view = cadencia.run(str(write_pipeline(NOISY)), executor="process")
    assert view.state == "success"
    log = view.log("noisy")
    for line in (
        "from print",
        "to stderr",
        "INFO noisy: from logging 1",
        "from the file descriptor",
        "from a child process",
    ):
        assert line in log
    assert view.log("quiet") == ""


def test_inline_captures_python_output(
    home: Path, write_pipeline: Callable[..., Path], capfd: pytest.CaptureFixture[str]
) -> None:
    source = NOISY.replace('    os.write(1, b"from the file descriptor\\n")\n', "").replace(
        '    subprocess.run([sys.executable, "-c", "print(\'from a child process\')"],'
        " check=True)\n",
        "",
    )
    view = cadencia.run(str(write_pipeline(source)), executor="inline")
    log = view.log("noisy")
    assert "from print" in log and "to stderr" in log and "from logging 1" in log
    assert "from print" not in capfd.readouterr().out  # the engine's terminal stays clean
