from typing import NamedTuple

import numpy as np

from cadencia import pipeline, step


class Dataset(NamedTuple):
    features: np.ndarray
    target: np.ndarray


@step
def make_data(rows: int, columns: int) -> Dataset:
    rng = np.random.default_rng(0)
    features = rng.standard_normal((rows, columns))
    target = features @ rng.standard_normal(columns) + rng.standard_normal(rows)
    return Dataset(features, target)


@step
def fit(alpha: float, features: np.ndarray, target: np.ndarray) -> float:
    from sklearn.linear_model import Ridge

    split = len(target) * 4 // 5
    model = Ridge(alpha=alpha).fit(features[:split], target[:split])
    return float(model.score(features[split:], target[split:]))


@step
def pick_best(scores: list[float], alphas: list[float]) -> float:
    return alphas[scores.index(max(scores))]


@pipeline
def w4(rows: int = 200_000, columns: int = 50):
    alphas = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]
    data = make_data(rows, columns)
    scores = fit.map(alphas, features=data.features, target=data.target)
    pick_best(scores, alphas)
