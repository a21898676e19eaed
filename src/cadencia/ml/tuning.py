"""Hyperparameter tuning with Optuna: serial, threaded, or across processes via storage.

The objective fits LightGBM on the earlier 75% of the training months and
scores ROC AUC on the latest 25% (a temporal split: the model will be used on
the future). Three ways to run trials, measured in ``bench/ml_tuning.py``:

* ``tune(..., n_jobs=1)`` — serial, each trial using every core;
* ``tune(..., n_jobs=k)`` — Optuna's thread pool, one core per trial;
* ``run_trials`` in several processes (cadencia's executor workers through
  ``step.map``, or any processes) sharing a study in a journal file — Optuna's
  own storage — then ``collect``.

Every mode returns the same JSON-able result: the best parameters (with the
number of boosting rounds found by early stopping), the best AUC, the F1
threshold chosen on the validation slice, and every trial as a table row.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadencia.ml import training
from cadencia.ml.evaluation import best_threshold
from cadencia.ml.features import LABEL

if TYPE_CHECKING:
    import optuna
    import pandas as pd

MAX_ROUNDS = 400


def suggest(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 7, 63, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 20, 500, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
    }


class Objective:
    """Validation ROC AUC of one parameter set (records rounds and threshold on the trial)."""

    def __init__(self, frame: pd.DataFrame, *, threads: int = 0) -> None:
        self.fit_part, self.valid_part = training.temporal_split(training.labelled(frame))
        self.threads = threads

    def __call__(self, trial: optuna.Trial) -> float:
        from sklearn.metrics import roc_auc_score

        params = {**suggest(trial), training.NUM_ROUNDS_KEY: MAX_ROUNDS}
        model = training.fit(self.fit_part, params, valid=self.valid_part, threads=self.threads)
        scores = training.predict(model, self.valid_part, threads=self.threads)
        labels = self.valid_part[LABEL].to_numpy()
        trial.set_user_attr("rounds", int(model.best_iteration or MAX_ROUNDS))
        trial.set_user_attr("threshold", best_threshold(labels, scores))
        return float(roc_auc_score(labels, scores))


def _quiet() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _sampler(seed: int, parallel: bool) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.TPESampler(
        seed=seed, multivariate=True, constant_liar=parallel, n_startup_trials=5
    )


def tune(frame: pd.DataFrame, trials: int, *, seed: int = 7, n_jobs: int = 1) -> dict[str, Any]:
    """Run ``trials`` trials in this process (``n_jobs`` > 1: Optuna's threads)."""
    import optuna

    _quiet()
    started = time.perf_counter()
    study = optuna.create_study(direction="maximize", sampler=_sampler(seed, n_jobs > 1))
    study.optimize(Objective(frame, threads=1 if n_jobs > 1 else 0), n_trials=trials, n_jobs=n_jobs)
    mode = "serial" if n_jobs == 1 else f"threads x{n_jobs}"
    return summarize(study, mode=mode, seconds=time.perf_counter() - started)


def journal_storage(path: Path) -> optuna.storages.BaseStorage:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def run_trials(
    frame: pd.DataFrame, trials: int, *, storage_path: Path, study_name: str, seed: int
) -> int:
    """Add ``trials`` trials to a shared study (one of several processes); returns the count."""
    import optuna

    _quiet()
    study = optuna.create_study(
        study_name=study_name,
        storage=journal_storage(storage_path),
        direction="maximize",
        sampler=_sampler(seed, parallel=True),
        load_if_exists=True,
    )
    study.optimize(Objective(frame, threads=1), n_trials=trials)
    return trials


def collect(*, storage_path: Path, study_name: str, mode: str, seconds: float) -> dict[str, Any]:
    import optuna

    _quiet()
    study = optuna.load_study(study_name=study_name, storage=journal_storage(storage_path))
    return summarize(study, mode=mode, seconds=seconds)


def summarize(study: optuna.Study, *, mode: str, seconds: float) -> dict[str, Any]:
    from optuna.trial import TrialState

    finished = [t for t in study.trials if t.state == TrialState.COMPLETE]
    if not finished:
        raise RuntimeError(f"no tuning trial finished ({len(study.trials)} started); see the log")
    best = max(finished, key=lambda t: t.value if t.value is not None else float("-inf"))
    rows = [
        {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "seconds": (t.duration.total_seconds() if t.duration else None),
            "rounds": t.user_attrs.get("rounds"),
            **{f"param_{k}": v for k, v in t.params.items()},
        }
        for t in study.trials
    ]
    return {
        "best_params": {**best.params, training.NUM_ROUNDS_KEY: int(best.user_attrs["rounds"])},
        "best_value": float(best.value or 0.0),
        "best_trial": best.number,
        "threshold": float(best.user_attrs["threshold"]),
        "trials": rows,
        "mode": mode,
        "seconds": seconds,
        "trials_per_second": len(finished) / seconds if seconds > 0 else 0.0,
    }
