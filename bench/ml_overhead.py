"""Orchestration overhead of the training pipeline against the same steps as a plain script.

Both sides are whole processes doing the same, deterministic work (feature loading, Optuna
tuning, training, evaluation, MLflow logging, registration, promotion); the
cadencia side runs with ``--no-cache`` so every step executes. Median of N.

    python bench/ml_overhead.py [--repeat 3] [--trials 10] [--home /tmp/bench-ml]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ml_common import median, prepared_home, run_pipeline, table, timed

# Serial tuning on both sides: Optuna's threaded mode is not reproducible (trial order varies,
# so early stopping does different work), which would drown the overhead in noise.
PARAMS = {"train_months": "1,2", "eval_month": 3, "tuning_threads": 1}


def plain(trials: int) -> None:
    """The pipeline's steps called as plain functions, in order (what a script would do)."""
    from cadencia.ml.pipelines import flights as f

    run_params = {
        "train_months": [1, 2],
        "eval_month": 3,
        "trials": trials,
        "seed": 7,
        "experiment": f.EXPERIMENT,
        "model_name": f.MODEL_NAME,
        "owner": "bench",
    }
    policy = {"metric": "roc_auc", "min_improvement": 0.002, "floors": {"roc_auc": 0.6}}
    versions = f.feature_versions([1, 2, 3])
    train, evaluation = f.load_training_sets(versions, [1, 2], 3)
    tuning = f.tune_hyperparameters(train, trials, 7, 1)
    model = f.train_model(train, tuning)
    report = f.evaluate_model(model, evaluation, tuning)
    logged = f.log_training_run(model, tuning, report, versions, evaluation, run_params)
    registered = f.register_model(logged, report, versions, run_params)
    f.promote(registered, evaluation, report, policy)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--home", default=None)
    parser.add_argument("--plain-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_run:
        plain(args.trials)
        return
    prepared_home(Path(args.home or tempfile.mkdtemp(prefix="bench-ml-")))
    params = {**PARAMS, "trials": args.trials}
    cadencia_times, plain_times = [], []
    for _ in range(args.repeat):
        cadencia_times.append(run_pipeline("ml_training_pipeline", params, "--no-cache"))
        plain_times.append(
            timed([sys.executable, __file__, "--plain-run", "--trials", str(args.trials)])
        )
    c, p = median(cadencia_times), median(plain_times)
    print(
        table(
            [f"training pipeline (trials={args.trials})", "median s", "runs (s)"],
            [
                [
                    "plain script (same steps)",
                    f"{p:.2f}",
                    ", ".join(f"{t:.2f}" for t in plain_times),
                ],
                [
                    "cadencia run --no-cache",
                    f"{c:.2f}",
                    ", ".join(f"{t:.2f}" for t in cadencia_times),
                ],
                ["overhead", f"{(c - p) / p:+.1%}", ""],
            ],
        )
    )


if __name__ == "__main__":
    main()
