"""Batch scoring: a month of features scored in chunks, written as a Parquet partition.

Each prediction row carries the flight, its score and decision at the model's
threshold, the registered model's name and version, and the scoring time.
The partition ``<root>/month=MM/`` is written to a temporary folder and
swapped in whole, so a failed run leaves the previous partition (or none),
never part of one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from cadencia.ml.registry import ModelRef

DEFAULT_CHUNK_ROWS = 50_000


def chunks(frame: pd.DataFrame, rows: int) -> Iterator[pd.DataFrame]:
    if rows < 1:
        raise ValueError(f"chunk_rows={rows} is invalid: it must be 1 or more")
    for start in range(0, len(frame), rows):
        yield frame.iloc[start : start + rows]


def score(
    model: Any,
    frame: pd.DataFrame,
    ref: ModelRef,
    *,
    threshold: float,
    scored_at: pd.Timestamp,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> pd.DataFrame:
    """Predictions for every row of ``frame`` (features of one month), chunk by chunk."""
    import numpy as np
    import pandas as pd

    from cadencia.ml.features import model_matrix

    parts = []
    for chunk in chunks(frame, chunk_rows):
        probability = np.asarray(model.predict(model_matrix(chunk)), dtype="float64")
        parts.append(
            pd.DataFrame(
                {
                    "flight_id": chunk["flight_id"].to_numpy(),
                    "event_timestamp": chunk["event_timestamp"].to_numpy(),
                    "month": chunk["month"].to_numpy(),
                    "delay_probability": probability,
                    "predicted_delayed": probability >= threshold,
                }
            )
        )
    predictions = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    predictions["model_name"] = ref.name
    predictions["model_version"] = ref.version
    predictions["scored_at"] = scored_at
    return predictions


def write_partition(predictions: pd.DataFrame, root: Path, month: int) -> dict[str, Any]:
    """Replace ``root/month=MM`` with ``predictions`` atomically; returns what was written."""
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"month={month:02d}"
    staging = Path(tempfile.mkdtemp(prefix=f".month={month:02d}-", dir=root))
    try:
        predictions.to_parquet(staging / "part-0.parquet", index=False)
        old = None
        if target.exists():
            old = root / f".old-{target.name}-{os.getpid()}"
            os.replace(target, old)
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"path": str(target), "rows": len(predictions), "month": month}
