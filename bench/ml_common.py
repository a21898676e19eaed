"""Shared set-up of the ML benchmarks: a cadencia home with features for months 1-4."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CADENCIA = [sys.executable, "-m", "cadencia.cli.main"]
FLOWS = "cadencia.ml.pipelines.flights"


def prepared_home(path: Path, months: range = range(1, 5)) -> Path:
    os.environ["CADENCIA_HOME"] = str(path)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    for month in months:
        if not (path / "features" / "offline" / "flights" / f"month={month:02d}.parquet").exists():
            run_pipeline("etl_feature_engineering", {"month": month})
    return path


def run_pipeline(name: str, params: dict[str, object], *extra: str) -> float:
    """Wall time of one whole ``cadencia run`` process."""
    command = [*CADENCIA, "run", f"{FLOWS}:{name}", *extra]
    for key, value in params.items():
        command += ["-p", f"{key}={value}"]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
