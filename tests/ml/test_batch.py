"""Batch scoring in chunks equals scoring at once; partitions are replaced whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cadencia.ml import batch
from cadencia.ml.features import MODEL_FEATURES
from cadencia.ml.registry import ModelRef


class _Doubler:
    """A stand-in model (the thing under test is the chunking, not a model)."""

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, matrix: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        return np.asarray(matrix["distance"] / 10_000.0)


def _month(rows: int) -> pd.DataFrame:
    frame = pd.DataFrame({name: np.zeros(rows) for name in MODEL_FEATURES})
    frame["distance"] = np.arange(rows, dtype="float64")
    frame["flight_id"] = [f"f{i}" for i in range(rows)]
    frame["event_timestamp"] = pd.Timestamp("2013-04-01", tz="UTC")
    frame["month"] = 4
    return frame


def test_chunked_scores_match_one_call_and_carry_the_model_version() -> None:
    model = _Doubler()
    scored_at = pd.Timestamp("2026-01-01", tz="UTC")
    out = batch.score(
        model, _month(2500), ModelRef("m", "7"), threshold=0.1, scored_at=scored_at, chunk_rows=1000
    )
    assert model.calls == 3
    assert out["delay_probability"].tolist() == pytest.approx(np.arange(2500) / 10_000.0)
    assert out["predicted_delayed"].sum() == 1500
    assert set(out["model_version"]) == {"7"} and (out["scored_at"] == scored_at).all()
    with pytest.raises(ValueError, match="chunk_rows=0 is invalid"):
        list(batch.chunks(_month(3), 0))


def test_a_partition_is_replaced_atomically(tmp_path: Path) -> None:
    first = pd.DataFrame({"flight_id": ["a", "b"], "model_version": ["1", "1"]})
    batch.write_partition(first, tmp_path, 4)
    second = pd.DataFrame({"flight_id": ["c"], "model_version": ["2"]})
    written = batch.write_partition(second, tmp_path, 4)
    assert written["rows"] == 1
    assert pd.read_parquet(tmp_path / "month=04")["flight_id"].tolist() == ["c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["month=04"]  # no staging left


def test_a_failed_write_keeps_the_previous_partition(tmp_path: Path) -> None:
    batch.write_partition(pd.DataFrame({"flight_id": ["a"]}), tmp_path, 4)
    unwritable = pd.DataFrame({"flight_id": [object()]})
    with pytest.raises(Exception, match="object"):
        batch.write_partition(unwritable, tmp_path, 4)
    assert pd.read_parquet(tmp_path / "month=04")["flight_id"].tolist() == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["month=04"]
