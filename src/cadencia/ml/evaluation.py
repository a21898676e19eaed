"""Evaluating a model on a held-out month: metrics and the data behind the plots.

The report is a JSON-able dict (stored as an artifact, logged to MLflow):
``metrics`` (ROC AUC, log loss, Brier score, precision/recall/F1/accuracy at
the chosen threshold, expected calibration error), and ``roc``,
``confusion``, ``calibration`` and ``importance`` for the plots.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

CALIBRATION_BINS = 10
ROC_POINTS = 200


def best_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score cut-off that maximizes F1 (chosen on validation data, never on the test month)."""
    import numpy as np
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))]) if len(thresholds) else 0.5


def evaluate(
    labels: np.ndarray,
    scores: np.ndarray,
    *,
    threshold: float,
    importance: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    import numpy as np
    from sklearn import metrics

    labels = np.asarray(labels, dtype="int64")
    scores = np.clip(np.asarray(scores, dtype="float64"), 1e-7, 1 - 1e-7)
    predicted = (scores >= threshold).astype("int64")
    tn, fp, fn, tp = (
        int(v) for v in metrics.confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    )
    calibration = _calibration(labels, scores)
    fpr, tpr, _ = metrics.roc_curve(labels, scores)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(ROC_POINTS, len(fpr))).astype(int))
    return {
        "metrics": {
            "roc_auc": float(metrics.roc_auc_score(labels, scores)),
            "log_loss": float(metrics.log_loss(labels, scores, labels=[0, 1])),
            "brier": float(metrics.brier_score_loss(labels, scores)),
            "precision": tp / (tp + fp) if tp + fp else 0.0,
            "recall": tp / (tp + fn) if tp + fn else 0.0,
            "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
            "accuracy": (tp + tn) / len(labels),
            "threshold": float(threshold),
            "ece": _expected_calibration_error(calibration, len(labels)),
            "positive_rate": float(labels.mean()),
            "rows": float(len(labels)),
        },
        "confusion": [[tn, fp], [fn, tp]],
        "roc": {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()},
        "calibration": calibration,
        "importance": dict(importance or {}),
    }


def _calibration(labels: np.ndarray, scores: np.ndarray) -> list[dict[str, float]]:
    import numpy as np

    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    bins = []
    for index in range(CALIBRATION_BINS):
        mask = which == index
        if mask.any():
            bins.append(
                {
                    "mean_score": float(scores[mask].mean()),
                    "observed_rate": float(labels[mask].mean()),
                    "count": float(mask.sum()),
                }
            )
    return bins


def _expected_calibration_error(bins: list[dict[str, float]], total: int) -> float:
    return float(sum(b["count"] / total * abs(b["mean_score"] - b["observed_rate"]) for b in bins))
