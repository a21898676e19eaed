"""The lifecycle demo: ETL → tuning and training → registration and promotion → batch scoring.

Each pipeline runs as its own ``cadencia run`` process (as a scheduler would
start it), on the embedded defaults: the packaged data, a feature store,
MLflow on SQLite and the artifacts, all under one cadencia home. A second
demo in the same home reuses every cached step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODULE = "cadencia.ml.pipelines.flights"


@dataclass
class DemoRun:
    label: str
    pipeline: str
    params: dict[str, Any]
    result: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def counts(self) -> str:
        states: dict[str, int] = {}
        for task in self.result.get("tasks", []):
            if task.get("map_index") is None:
                states[task["state"]] = states.get(task["state"], 0) + 1
        return ", ".join(f"{count} {state}" for state, count in sorted(states.items()))


def plan(trials: int) -> list[DemoRun]:
    etl = [DemoRun(f"ETL month {m}", "etl_feature_engineering", {"month": m}) for m in range(1, 6)]
    return [
        *etl,
        DemoRun(
            "train Jan-Feb, eval Mar",
            "ml_training_pipeline",
            {"train_months": "1,2", "eval_month": 3, "trials": trials},
        ),
        DemoRun(
            "train Jan-Mar, eval Apr",
            "ml_training_pipeline",
            {"train_months": "1,2,3", "eval_month": 4, "trials": trials},
        ),
        DemoRun("batch predict May", "batch_prediction_pipeline", {"month": 5}),
    ]


def run_one(run: DemoRun, home: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "cadencia.cli.main",
        "run",
        f"{MODULE}:{run.pipeline}",
        "--json",
        "--home",
        str(home),
    ]
    for name, value in run.params.items():
        command += ["-p", f"{name}={value}"]
    started = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, env=os.environ.copy(), check=False
    )
    run.seconds = time.perf_counter() - started
    try:
        run.result = json.loads(done.stdout)
    except json.JSONDecodeError:
        run.result = {"state": "error", "error": (done.stderr or done.stdout).strip()}
    if run.result.get("state") != "success":
        detail = run.result.get("error") or done.stderr.strip()
        raise RuntimeError(f"{run.label} ({run.pipeline}) failed:\n{detail}")


def execute(home: Path, trials: int, echo: Callable[[str], None]) -> list[DemoRun]:
    os.environ["CADENCIA_HOME"] = str(home)  # steps, hooks and MLflow all use this home
    runs = plan(trials)
    for run in runs:
        echo(f"  running {run.label:<26} ({run.pipeline}) …")
        run_one(run, home)
        echo(f"    {run.result['run_id']}  {run.seconds:6.1f} s  {run.counts}")
    return runs


def output_of(run: DemoRun, home: Path, step_name: str) -> Any:
    from cadencia.client import Client

    with Client(home) as client:
        return client.run(run.result["run_id"]).output(step_name)


def model_versions(model_name: str) -> list[dict[str, Any]]:
    from cadencia.ml import tracking

    client = tracking.client()
    rows = []
    for version in client.search_model_versions(f"name = '{model_name}'"):
        detail = client.get_model_version(model_name, version.version)
        rows.append(
            {
                "version": str(version.version),
                "aliases": ",".join(getattr(detail, "aliases", []) or []),
                "roc_auc": detail.tags.get("eval.roc_auc", ""),
                "eval_month": detail.tags.get("eval_month", ""),
                "decision": detail.tags.get("promotion.decision", ""),
                "reason": detail.tags.get("promotion.reason", ""),
            }
        )
    return sorted(rows, key=lambda row: int(row["version"]))
