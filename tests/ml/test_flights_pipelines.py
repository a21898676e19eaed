"""The reference pipelines end to end on the packaged data, with real MLflow on SQLite.

One module-scoped home runs ETL (Jan, Feb), training (2 trials) and batch
prediction once; the tests then read what they left behind. Bad-input tests
use their own homes and HTTP sources on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import cadencia
from cadencia.client import RunView
from cadencia.ml.sources import write_manifest

FLOWS = "cadencia.ml.pipelines.flights"


def _run(name: str, params: dict[str, Any], executor: str = "inline") -> RunView:
    return cadencia.run(f"{FLOWS}:{name}", params, executor=executor)


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("lifecycle") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CADENCIA_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.delenv("CADENCIA_DB_URL", raising=False)
        patch.delenv("CADENCIA_ARTIFACTS_URL", raising=False)
        etl = [_run("etl_feature_engineering", {"month": m}, "process") for m in (1, 2, 3)]
        train = _run(
            "ml_training_pipeline", {"train_months": [1], "eval_month": 2, "trials": 2}, "process"
        )
        batch = _run("batch_prediction_pipeline", {"month": 3})
        yield {"home": home, "etl": etl, "train": train, "batch": batch}


def _mlflow() -> Any:
    from cadencia.ml import tracking

    return tracking.client()


def test_etl_writes_features_of_each_month(lifecycle: dict[str, Any]) -> None:
    assert [run.state for run in lifecycle["etl"]] == ["success"] * 3
    written = lifecycle["etl"][0].output("write_features")
    assert written["flights/month=01"]["rows"] == 27004
    offline = lifecycle["home"] / "features" / "offline"
    assert sorted(p.name for p in (offline / "flights").iterdir()) == [
        "month=01.parquet",
        "month=02.parquet",
        "month=03.parquet",
    ]
    assert (lifecycle["home"] / "features" / "online.db").exists()


def test_training_registers_a_traceable_model(lifecycle: dict[str, Any]) -> None:
    train = lifecycle["train"]
    assert train.state == "success", train.record.error
    registered = train.output("register_model")
    client = _mlflow()
    version = client.get_model_version(registered["name"], registered["version"])
    tags = version.tags
    assert tags["cadencia.run_id"] == train.run_id
    assert tags["owner"] == "cadencia" and tags["eval_month"] == "2"
    assert tags["cadencia.artifact.load_training_sets.train"] == (
        train.output_record("load_training_sets", "train").digest
    )
    assert json.loads(tags["data_versions"])["flights/month=01"]
    assert tags["promotion.decision"] == "promoted"
    assert str(client.get_model_version_by_alias(registered["name"], "production").version) == "1"
    assert set(version.aliases) == {"staging", "production"}
    # from the model version to its MLflow run, and from the run back to cadencia
    run = client.get_run(version.run_id)
    assert run.data.tags["cadencia.run_id"] == train.run_id
    assert run.data.metrics["eval.roc_auc"] > 0.6
    assert {"model.num_leaves", "train_months", "tuning.mode"} <= set(run.data.params)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert artifacts == {
        "plots/roc_curve.png",
        "plots/feature_importance.png",
        "plots/confusion_matrix.png",
        "plots/calibration.png",
    }
    trials = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )
    assert len(trials) == 2 and all("valid_roc_auc" in t.data.metrics for t in trials)


def test_the_registered_model_has_a_signature_and_example(lifecycle: dict[str, Any]) -> None:
    from mlflow.models import get_model_info

    from cadencia.ml.features import MODEL_FEATURES

    registered = lifecycle["train"].output("register_model")
    info = get_model_info(f"models:/{registered['name']}/{registered['version']}")
    assert info.signature.inputs.input_names() == list(MODEL_FEATURES)
    assert "lightgbm" in info.flavors and info.saved_input_example_info is not None


def test_a_cached_rerun_registers_nothing_new(lifecycle: dict[str, Any]) -> None:
    again = _run("ml_training_pipeline", {"train_months": [1], "eval_month": 2, "trials": 2})
    assert again.state == "success"
    states = {task.task_name: task.state for task in again.tasks}
    assert states["tune_hyperparameters"] == "cached" and states["register_model"] == "cached"
    assert again.output("promote")["reason"] == "already production"
    assert len(_mlflow().search_model_versions("name = 'flights-delay'")) == 1


def test_batch_prediction_writes_a_partition_with_model_version(lifecycle: dict[str, Any]) -> None:
    batch = lifecycle["batch"]
    assert batch.state == "success", batch.record.error
    written = batch.output("write_predictions")
    predictions = pd.read_parquet(Path(written["path"]))
    assert len(predictions) == 28834 == written["rows"]
    assert set(predictions["model_version"]) == {"1"}
    assert predictions["scored_at"].notna().all()
    assert predictions["delay_probability"].between(0, 1).all()
    assert "notified" not in batch.log("notify") and "28834 flights scored" in batch.log("notify")


def test_batch_scores_match_the_model_called_directly(lifecycle: dict[str, Any]) -> None:
    from cadencia.ml import features, registry
    from cadencia.ml.feature_store import FeatureStore

    frame = features.training_frame(FeatureStore(lifecycle["home"] / "features"), [3])
    booster = registry.load_booster(registry.ModelRef("flights-delay", "1"))
    direct = booster.predict(features.model_matrix(frame))
    scored = lifecycle["batch"].output("score_month")
    assert scored["delay_probability"].to_numpy() == pytest.approx(direct)


# -- bad input: clear errors, nothing partial, nothing registered -----------------------------


def _damage_source(folder: Path, month: int, how: str) -> None:
    path = folder / "flights" / f"month={month:02d}.parquet"
    frame = pd.read_parquet(path)
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
        return  # the manifest keeps the old checksum
    if how == "renamed column":
        frame = frame.rename(columns={"arr_delay": "arrival_delay"})
    elif how == "wrong type":
        frame["distance"] = frame["distance"].astype(str) + " miles"
    elif how == "all-null column":
        frame["arr_delay"] = float("nan")
    elif how == "empty month":
        frame = frame.iloc[:0]
    frame.to_parquet(path, index=False)
    write_manifest(folder)


def _nothing_left(home: Path) -> None:
    assert not (home / "features" / "offline" / "flights").exists()
    mlflow_db = home / "mlflow.db"
    if mlflow_db.exists():
        assert _mlflow().search_registered_models() == []


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncated", "is corrupt or truncated"),
        ("renamed column", "column 'arr_delay' .* is missing \\(renamed to 'arrival_delay'\\?\\)"),
        ("wrong type", "column 'distance' has type str"),
        ("all-null column", "column 'arr_delay' is entirely null"),
        ("empty month", "the partition has no rows"),
    ],
)
def test_bad_partitions_stop_the_etl(
    home: Path, source_dir: Path, serve: Callable[..., str], how: str, message: str
) -> None:
    _damage_source(source_dir, 2, how)
    run = _run("etl_feature_engineering", {"month": 2, "source": serve(source_dir)})
    assert run.state == "failed"
    errors = "\n".join(task.error or "" for task in run.tasks)
    assert pytest.importorskip("re").search(message, errors), errors
    _nothing_left(home)


def test_a_missing_month_and_an_unreachable_source(home: Path, source_dir: Path) -> None:
    (source_dir / "flights" / "month=07.parquet").unlink()
    write_manifest(source_dir)
    missing = _run("etl_feature_engineering", {"month": 7, "source": str(source_dir)})
    assert missing.state == "failed"
    assert "month 7 of 'flights' does not exist" in missing.task("locate_partition").error
    shutil.rmtree(source_dir)
    gone = _run("etl_feature_engineering", {"month": 1, "source": "http://127.0.0.1:9/none"})
    assert "could not be fetched from http://127.0.0.1:9/none/MANIFEST.json" in (
        gone.task("locate_partition").error or ""
    )
    _nothing_left(home)


def test_training_without_features_registers_nothing(home: Path) -> None:
    run = _run("ml_training_pipeline", {"train_months": [1], "eval_month": 2, "trials": 1})
    assert run.state == "failed"
    assert "has no partition month=01, month=02" in (run.task("feature_versions").error or "")
    _nothing_left(home)


def test_training_rejects_evaluating_on_a_training_month(home: Path) -> None:
    from cadencia.errors import ParameterError

    with pytest.raises(ParameterError, match="eval_month=2 is one of train_months"):
        _run("ml_training_pipeline", {"train_months": [1, 2], "eval_month": 2})


def test_batch_prediction_without_a_production_model(home: Path) -> None:
    assert _run("etl_feature_engineering", {"month": 3}).state == "success"
    run = _run("batch_prediction_pipeline", {"month": 3})
    assert run.state == "failed", (run.output("production_model"), str(home))
    error = run.task("production_model").error or ""
    assert "no version of model 'flights-delay' has the 'production' alias" in error
    assert "run the training pipeline" in error
    assert not (home / "predictions").exists()
