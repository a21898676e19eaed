"""Training the delay model: LightGBM on the model matrix, stored without pickle.

LightGBM was chosen over scikit-learn's gradient boosting and a logistic
regression by measurement (docs/ml.md): on January-February -> March it trains
in under a second on 2 cores, handles missing weather and plane values
natively, and its model is a plain text format that MLflow's ``lightgbm``
flavor stores as is — loading it never runs code, unlike a pickled estimator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from cadencia.ml.features import LABEL, model_matrix

if TYPE_CHECKING:
    import lightgbm as lgb
    import numpy as np
    import pandas as pd

FIXED_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "verbose": -1,
    "bagging_freq": 1,
    "seed": 7,
    "deterministic": True,
    "force_row_wise": True,
}
NUM_ROUNDS_KEY = "num_boost_round"


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with a known outcome (cancelled and diverted flights have none)."""
    return frame.loc[frame[LABEL].notna()].reset_index(drop=True)


def temporal_split(
    frame: pd.DataFrame, valid_fraction: float = 0.25
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Earlier rows to fit, the latest ``valid_fraction`` to validate (as the future will)."""
    ordered = frame.sort_values("event_timestamp", kind="stable").reset_index(drop=True)
    cut = int(len(ordered) * (1 - valid_fraction))
    return ordered.iloc[:cut].reset_index(drop=True), ordered.iloc[cut:].reset_index(drop=True)


def fit(
    frame: pd.DataFrame,
    params: Mapping[str, Any],
    *,
    valid: pd.DataFrame | None = None,
    threads: int = 0,
) -> lgb.Booster:
    """Train on ``frame``'s labelled rows; with ``valid``, stop early on its log loss."""
    import lightgbm as lgb

    train = labelled(frame)
    settings = {**FIXED_PARAMS, **params, "num_threads": threads}
    rounds = int(settings.pop(NUM_ROUNDS_KEY, 300))
    dataset = lgb.Dataset(model_matrix(train), train[LABEL].to_numpy(), free_raw_data=True)
    callbacks: list[Callable[..., Any]] = []
    valid_sets = []
    if valid is not None:
        checked = labelled(valid)
        valid_sets = [
            lgb.Dataset(model_matrix(checked), checked[LABEL].to_numpy(), reference=dataset)
        ]
        callbacks = [lgb.early_stopping(30, verbose=False)]
    return lgb.train(
        settings, dataset, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks
    )


def predict(model: lgb.Booster, frame: pd.DataFrame, *, threads: int = 0) -> np.ndarray:
    """Probability of a 15+ minute arrival delay for each row."""
    import numpy as np

    return np.asarray(model.predict(model_matrix(frame), num_threads=threads), dtype="float64")


def feature_importance(model: lgb.Booster) -> dict[str, float]:
    gains = model.feature_importance(importance_type="gain")
    return {name: float(gain) for name, gain in zip(model.feature_name(), gains, strict=True)}
