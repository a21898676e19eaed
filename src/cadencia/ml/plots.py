"""Plots a person wants to see, drawn from an evaluation report: ROC curve, feature
importance, confusion matrix and calibration. Returned as matplotlib figures (Agg)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(width: float = 5.0, height: float = 4.0) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)  # no pyplot: no global state, no GUI
    return figure, figure.add_subplot()


def roc_curve(report: Mapping[str, Any]) -> Figure:
    figure, axes = _figure()
    axes.plot(
        report["roc"]["fpr"], report["roc"]["tpr"], label=f"AUC {report['metrics']['roc_auc']:.3f}"
    )
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def feature_importance(report: Mapping[str, Any], top: int = 15) -> Figure:
    ranked = sorted(report["importance"].items(), key=lambda item: item[1])[-top:]
    figure, axes = _figure(6.0, 5.0)
    axes.barh([name for name, _ in ranked], [value for _, value in ranked])
    axes.set(xlabel="total gain", title="feature importance")
    figure.tight_layout()
    return figure


def confusion_matrix(report: Mapping[str, Any]) -> Figure:
    matrix = report["confusion"]
    figure, axes = _figure(4.5, 4.0)
    axes.imshow(matrix, cmap="Blues")
    for row in range(2):
        for column in range(2):
            axes.text(column, row, str(matrix[row][column]), ha="center", va="center")
    axes.set_xticks([0, 1], labels=["on time", "delayed"])
    axes.set_yticks([0, 1], labels=["on time", "delayed"])
    threshold = report["metrics"]["threshold"]
    axes.set(
        xlabel="predicted", ylabel="actual", title=f"confusion matrix (threshold {threshold:.2f})"
    )
    figure.tight_layout()
    return figure


def calibration(report: Mapping[str, Any]) -> Figure:
    bins = report["calibration"]
    figure, axes = _figure()
    axes.plot([b["mean_score"] for b in bins], [b["observed_rate"] for b in bins], marker="o")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    axes.set(
        xlabel="mean predicted probability",
        ylabel="observed delay rate",
        title=f"calibration (ECE {report['metrics']['ece']:.3f})",
    )
    figure.tight_layout()
    return figure


def all_plots(report: Mapping[str, Any]) -> dict[str, Figure]:
    return {
        "plots/roc_curve.png": roc_curve(report),
        "plots/feature_importance.png": feature_importance(report),
        "plots/confusion_matrix.png": confusion_matrix(report),
        "plots/calibration.png": calibration(report),
    }
