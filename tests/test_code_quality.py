"""Lint, format and type checks are tests: the same commands as ``make lint``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINTED = ["src", "tests", "bench", "examples"]  # as in the Makefile's lint target


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("path", LINTED)
def test_ruff_check(path: str) -> None:
    result = run("ruff", "check", "--no-cache", "--output-format", "concise", path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", LINTED)
def test_ruff_format(path: str) -> None:
    result = run("ruff", "format", "--no-cache", "--check", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy() -> None:
    result = run("mypy")  # files and strictness come from pyproject.toml
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found")
