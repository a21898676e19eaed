"""Tuning: serial, threaded and multi-process (shared journal storage) give the same shape."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pandas as pd
import pytest

from cadencia.ml import features, tuning
from cadencia.ml.feature_store import FeatureStore


@pytest.fixture(scope="module")
def january(packaged_root: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    from cadencia.ml import cleaning, joins
    from cadencia.ml.sources import PartitionSource

    source = PartitionSource(str(packaged_root))
    flights = cleaning.clean_flights(source.read_partition("flights", 1)).head(6000)
    weather = cleaning.clean_weather(source.read_partition("weather", 1))
    joined = joins.join_planes(
        joins.join_weather(flights, weather), source.read_file("planes.parquet")
    )
    store = FeatureStore(tmp_path_factory.mktemp("features"))
    store.write(features.FLIGHTS_VIEW, features.flight_features(joined), "month=01")
    for view, entity in ((features.CARRIER_DAILY, "carrier"), (features.ORIGIN_DAILY, "origin")):
        store.write(view, features.daily_stats(joined, entity), "month=01")
    return features.training_frame(store, [1])


def _check(result: dict, trials: int) -> None:
    assert len(result["trials"]) == trials
    assert 0.5 < result["best_value"] <= 1.0
    assert result["best_params"]["num_boost_round"] >= 1
    assert 0 < result["threshold"] < 1


def test_serial_and_threaded(january: pd.DataFrame) -> None:
    _check(tuning.tune(january, 3, seed=1), 3)
    threaded = tuning.tune(january, 4, seed=1, n_jobs=2)
    _check(threaded, 4)
    assert threaded["mode"] == "threads x2"


def test_processes_share_one_study(january: pd.DataFrame, tmp_path: Path) -> None:
    storage = tmp_path / "study.journal"
    # spawn, not fork: this process has run LightGBM's OpenMP threads, which a forked
    # child cannot use (it would hang)
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(
            target=tuning.run_trials,
            args=(january, 2),
            kwargs={"storage_path": storage, "study_name": "s", "seed": seed},
        )
        for seed in (1, 2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        if worker.exitcode is None:
            worker.kill()
        assert worker.exitcode == 0
    result = tuning.collect(storage_path=storage, study_name="s", mode="processes x2", seconds=1.0)
    _check(result, 4)
