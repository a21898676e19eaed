"""MLflow tracking for cadencia pipelines: one MLflow run per pipeline run, batch logging.

MLflow is the tracker; this module only wires it: where it stores (the
cadencia home by default, ``MLFLOW_TRACKING_URI`` otherwise), how a training
run's parameters, metrics, tuning trials, plots and model are logged (each
group in one ``log_batch`` call), and the tags that link an MLflow run to the
cadencia run and data that produced it.
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadencia.ml import paths

if TYPE_CHECKING:
    from mlflow import MlflowClient

MAX_PARAM_LENGTH = 6000
TAG_PREFIX = "cadencia."


def client() -> MlflowClient:
    """An MLflow client on the configured tracking and registry URIs."""
    import mlflow
    from mlflow import MlflowClient

    uri = paths.mlflow_tracking_uri()
    mlflow.set_tracking_uri(uri)
    registry = paths.mlflow_registry_uri(uri)
    mlflow.set_registry_uri(registry)
    return MlflowClient(tracking_uri=uri, registry_uri=registry)


def experiment_id(mlflow_client: MlflowClient, name: str) -> str:
    """The experiment's id, creating it (artifacts under the cadencia home) if needed."""
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    from mlflow.exceptions import MlflowException

    try:
        return str(
            mlflow_client.create_experiment(
                name, artifact_location=paths.mlflow_artifact_location()
            )
        )
    except MlflowException:  # created by a concurrent run in the meantime
        found = mlflow_client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


def git_sha(start: Path | None = None) -> str | None:
    """The commit of the repository holding ``start`` (this package by default), if any."""
    folder = start or Path(__file__).parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def _param_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:MAX_PARAM_LENGTH]


def log_batch(
    mlflow_client: MlflowClient,
    run_id: str,
    *,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    tags: Mapping[str, Any] | None = None,
    step: int = 0,
) -> None:
    """Params, metrics and tags in one request (non-finite metrics are skipped)."""
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    mlflow_client.log_batch(
        run_id,
        metrics=[
            Metric(key, float(value), now, step)
            for key, value in (metrics or {}).items()
            if value is not None and math.isfinite(float(value))
        ],
        params=[Param(key, _param_text(value)) for key, value in (params or {}).items()],
        tags=[RunTag(key, _param_text(value)) for key, value in (tags or {}).items()],
    )


def start_run(
    mlflow_client: MlflowClient, experiment: str, *, run_name: str, tags: Mapping[str, Any]
) -> str:
    run = mlflow_client.create_run(
        experiment_id(mlflow_client, experiment),
        run_name=run_name,
        tags={key: _param_text(value) for key, value in tags.items()},
    )
    return str(run.info.run_id)


@contextlib.contextmanager
def failing_marks_run(mlflow_client: MlflowClient, run_id: str) -> Iterator[None]:
    """Mark the MLflow run FAILED if the block raises, FINISHED otherwise."""
    try:
        yield
    except BaseException:
        mlflow_client.set_terminated(run_id, status="FAILED")
        raise
    mlflow_client.set_terminated(run_id, status="FINISHED")


def log_trials(
    mlflow_client: MlflowClient, parent_run_id: str, experiment: str, tuning: Mapping[str, Any]
) -> None:
    """Each tuning trial as a nested run (params and AUC in one batch), plus a table."""
    import pandas as pd

    exp = experiment_id(mlflow_client, experiment)
    for row in tuning["trials"]:
        child = mlflow_client.create_run(
            exp,
            run_name=f"trial-{row['number']:03d}",
            tags={"mlflow.parentRunId": parent_run_id, f"{TAG_PREFIX}kind": "tuning-trial"},
        )
        params = {k.removeprefix("param_"): v for k, v in row.items() if k.startswith("param_")}
        metrics = {
            "valid_roc_auc": row["value"],
            "seconds": row["seconds"],
            "rounds": row["rounds"],
        }
        log_batch(
            mlflow_client,
            child.info.run_id,
            params=params,
            metrics=metrics,
            tags={"state": row["state"]},
        )
        mlflow_client.set_terminated(
            child.info.run_id, status="FINISHED" if row["state"] == "COMPLETE" else "FAILED"
        )
    table = pd.DataFrame(tuning["trials"]).sort_values("value", ascending=False)
    mlflow_client.log_text(parent_run_id, table.to_csv(index=False), "tuning/trials.csv")
    mlflow_client.log_text(
        parent_run_id,
        table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False),
        "tuning/trials.txt",
    )


def _has_tabulate() -> bool:
    import importlib.util

    return importlib.util.find_spec("tabulate") is not None


def log_plots(mlflow_client: MlflowClient, run_id: str, report: Mapping[str, Any]) -> None:
    from cadencia.ml import plots

    for artifact_file, figure in plots.all_plots(report).items():
        mlflow_client.log_figure(run_id, figure, artifact_file)


def log_report(
    mlflow_client: MlflowClient, run_id: str, report: Mapping[str, Any], name: str
) -> None:
    mlflow_client.log_dict(run_id, dict(report), name)


def log_lightgbm_model(run_id: str, model: Any, input_example: Any, *, name: str = "model") -> str:
    """Log the booster with MLflow's lightgbm flavor, a signature and an input example;
    returns the model URI (``models:/<model id>``)."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    # object-dtype column labels: MLflow compares them with a range, which pandas 3 warns
    # about for its Arrow-backed string labels
    input_example = input_example.set_axis(
        pd.Index(list(input_example.columns), dtype=object), axis=1
    )
    signature = infer_signature(input_example, model.predict(input_example))
    with mlflow.start_run(run_id=run_id):
        info = mlflow.lightgbm.log_model(
            model, name=name, signature=signature, input_example=input_example
        )
    return str(info.model_uri)
