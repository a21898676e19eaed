"""The promotion policy decides from numbers alone."""

from __future__ import annotations

import pytest

from cadencia.ml.promotion import PromotionPolicy


def test_without_a_champion_the_floors_decide() -> None:
    policy = PromotionPolicy(floors={"roc_auc": 0.65})
    assert policy.decide({"roc_auc": 0.70}, None).promote
    rejected = policy.decide({"roc_auc": 0.60}, None)
    assert not rejected.promote and "roc_auc 0.6000 < floor 0.65" in rejected.reason


def test_the_challenger_must_beat_the_champion_by_the_minimum() -> None:
    policy = PromotionPolicy(min_improvement=0.01)
    close = policy.decide({"roc_auc": 0.705}, {"roc_auc": 0.700})
    assert not close.promote and "improvement +0.0050 is below the required 0.01" in close.reason
    clear = policy.decide({"roc_auc": 0.72}, {"roc_auc": 0.70})
    assert clear.promote and clear.improvement == pytest.approx(0.02)


def test_lower_is_better_metrics_and_ceilings() -> None:
    policy = PromotionPolicy(
        metric="log_loss",
        greater_is_better=False,
        min_improvement=0.001,
        floors={},
        ceilings={"ece": 0.05},
    )
    assert policy.decide({"log_loss": 0.48, "ece": 0.01}, {"log_loss": 0.50}).promote
    miscalibrated = policy.decide({"log_loss": 0.40, "ece": 0.2}, {"log_loss": 0.50})
    assert not miscalibrated.promote and "ece 0.2000 > ceiling 0.05" in miscalibrated.reason


def test_an_unknown_metric_is_an_error() -> None:
    with pytest.raises(KeyError, match="lack 'f2'"):
        PromotionPolicy(metric="f2").decide({"roc_auc": 0.7}, None)
