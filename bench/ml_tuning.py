"""Tuning trials per second: serial, Optuna's threads, and cadencia executor workers.

Runs the training pipeline (``--no-cache``) in each tuning mode and reads the
tuning step's own wall time from its output, so only the trials are compared:

* serial — one trial at a time, LightGBM on every core (``tuning_threads=1``);
* Optuna threads — ``study.optimize(n_jobs=2)``, one core per trial (``tuning_threads=2``);
* executor workers — ``tune_worker.map`` over 2 cadencia process workers sharing an Optuna
  journal-file study (``tuning_workers=2``).

    python bench/ml_tuning.py [--repeat 3] [--trials 16] [--home /tmp/bench-ml]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ml_common import CADENCIA, FLOWS, median, prepared_home, table

MODES = {
    "serial (1 trial at a time, 2 threads each)": {"tuning_threads": 1, "tuning_workers": 1},
    "Optuna threads (n_jobs=2, 1 thread each)": {"tuning_threads": 2, "tuning_workers": 1},
    "cadencia executor workers x2 + journal storage": {"tuning_workers": 2},
}


def tuning_result(params: dict[str, object]) -> dict[str, object]:
    command = [*CADENCIA, "run", f"{FLOWS}:ml_training_pipeline", "--no-cache", "--json"]
    for key, value in params.items():
        command += ["-p", f"{key}={value}"]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    run_id = json.loads(done.stdout)["run_id"]
    from cadencia.client import Client

    with Client() as client:
        run = client.run(run_id)
        step = "collect_tuning" if params["tuning_workers"] != 1 else "tune_hyperparameters"
        return dict(run.output(step))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--home", default=None)
    args = parser.parse_args()
    prepared_home(Path(args.home or tempfile.mkdtemp(prefix="bench-ml-")))
    rows = []
    for label, extra in MODES.items():
        params = {"train_months": "1,2", "eval_month": 3, "trials": args.trials, **extra}
        results = [tuning_result(params) for _ in range(args.repeat)]
        seconds = median([float(r["seconds"]) for r in results])  # type: ignore[arg-type]
        best = median([float(r["best_value"]) for r in results])  # type: ignore[arg-type]
        rows.append([label, f"{seconds:.2f}", f"{args.trials / seconds:.2f}", f"{best:.4f}"])
    print(
        table(
            [
                f"tuning mode ({args.trials} trials, months 1-2)",
                "median s",
                "trials/s",
                "best valid AUC",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
