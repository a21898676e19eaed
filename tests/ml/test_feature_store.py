"""The feature store: atomic partitions, point-in-time-correct joins, fast online reads."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from pathlib import Path

import pandas as pd
import pytest

from cadencia.ml.errors import FeatureStoreError
from cadencia.ml.feature_store import FeatureStore, FeatureView

STATS = FeatureView("carrier_stats", entities=("carrier",), features=("delay_rate",))


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    store = FeatureStore(tmp_path / "features")
    store.write(
        STATS,
        pd.DataFrame(
            {
                "carrier": ["UA", "UA", "UA", "AA"],
                "event_timestamp": [
                    _ts("2013-01-01 04:00"),
                    _ts("2013-01-02 04:00"),
                    _ts("2013-01-03 04:00"),
                    _ts("2013-01-02 04:00"),
                ],
                "delay_rate": [0.1, 0.2, 0.3, 0.9],
            }
        ),
        "month=01",
    )
    return store


def test_historical_features_never_come_from_the_future(store: FeatureStore) -> None:
    entities = pd.DataFrame(
        {
            "flight_id": ["a", "b", "c", "d", "e"],
            "carrier": ["UA", "UA", "UA", "AA", "AA"],
            "event_timestamp": [
                _ts("2013-01-01 03:59"),
                _ts("2013-01-02 03:59"),
                _ts("2013-01-02 04:00"),
                _ts("2013-01-01 12:00"),
                _ts("2013-01-09 00:00"),
            ],
        }
    )
    joined = store.get_historical_features(entities, [STATS])
    assert joined["flight_id"].tolist() == ["a", "b", "c", "d", "e"]  # order kept
    values = joined["carrier_stats__delay_rate"].tolist()
    # a: before any stats → null; b: one minute before the 2nd → the 1st; c: exactly at → the 2nd;
    # d: AA before its only row → null; e: long after → the latest (0.9), never UA's.
    assert pd.isna(values[0]) and pd.isna(values[3])
    assert values[1:3] == [0.1, 0.2] and values[4] == 0.9


def test_a_ttl_hides_stale_values(store: FeatureStore) -> None:
    fresh = FeatureView("carrier_stats", ("carrier",), ("delay_rate",), ttl=dt.timedelta(days=2))
    entities = pd.DataFrame(
        {"carrier": ["AA", "AA"], "event_timestamp": [_ts("2013-01-03"), _ts("2013-01-09")]}
    )
    values = store.get_historical_features(entities, [fresh])["carrier_stats__delay_rate"]
    assert values.iloc[0] == 0.9 and pd.isna(values.iloc[1])


def test_online_store_holds_latest_values_and_reads_fast(store: FeatureStore) -> None:
    assert store.materialize(STATS, end=dt.datetime(2013, 1, 2, 12, tzinfo=dt.UTC)) == 2
    assert store.online().get(STATS, {"carrier": "UA"})["delay_rate"] == 0.2
    store.materialize(STATS)
    online = store.online()
    assert online.get(STATS, {"carrier": "UA"})["delay_rate"] == 0.3
    assert online.get(STATS, {"carrier": "ZZ"}) is None
    timings = []
    for _ in range(2000):
        started = time.perf_counter()
        online.get(STATS, {"carrier": "UA"})
        timings.append(time.perf_counter() - started)
    assert statistics.median(timings) < 0.0005  # target: well under a millisecond


def test_online_reads_before_materializing_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FeatureStoreError, match="never materialized"):
        FeatureStore(tmp_path).online().get(STATS, {"carrier": "UA"})


def test_a_missing_partition_says_how_to_make_it(store: FeatureStore) -> None:
    with pytest.raises(
        FeatureStoreError, match=r"no partition month=07 .* \(it has: month=01\); run the ETL"
    ):
        store.read(STATS, ["month=07"])


def test_partitions_are_replaced_whole(store: FeatureStore, tmp_path: Path) -> None:
    bad = pd.DataFrame({"carrier": ["UA"], "event_timestamp": [pd.NaT], "delay_rate": [1.0]})
    with pytest.raises(FeatureStoreError, match="event_timestamp has nulls"):
        store.write(STATS, bad, "month=01")
    assert len(store.read(STATS)) == 4
    files = sorted(p.name for p in (tmp_path / "features" / "offline" / "carrier_stats").iterdir())
    assert files == ["month=01.parquet"]
