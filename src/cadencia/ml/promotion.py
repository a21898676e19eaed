"""Promotion as a policy: champion against challenger on a named metric, with floors.

``PromotionPolicy.decide`` is pure: given the challenger's metrics and the
champion's (both measured on the same evaluation month), it says whether the
challenger should become ``production`` and why. ``apply`` carries the
decision out in the MLflow registry — moving the ``production`` alias or
leaving the challenger on ``staging`` — and records the decision and its
numbers as tags on the challenger's version.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from cadencia.ml.registry import PRODUCTION, ModelRef, set_tags

if TYPE_CHECKING:
    from mlflow import MlflowClient


@dataclass(frozen=True)
class PromotionPolicy:
    """Promote when ``metric`` beats the champion by ``min_improvement`` and every floor holds.

    ``floors`` are minimums (``{"roc_auc": 0.6}``); ``ceilings`` are maximums for
    metrics where lower is better (``{"log_loss": 0.6}``). Without a champion, the
    floors alone decide.
    """

    metric: str = "roc_auc"
    greater_is_better: bool = True
    min_improvement: float = 0.002
    floors: Mapping[str, float] = field(default_factory=lambda: {"roc_auc": 0.6})
    ceilings: Mapping[str, float] = field(default_factory=dict)

    def decide(
        self, challenger: Mapping[str, float], champion: Mapping[str, float] | None
    ) -> Decision:
        if self.metric not in challenger:
            raise KeyError(f"the challenger's metrics lack {self.metric!r}: {sorted(challenger)}")
        broken = [
            f"{name} {challenger.get(name, float('nan')):.4f} < floor {floor:g}"
            for name, floor in self.floors.items()
            if not challenger.get(name, float("-inf")) >= floor
        ] + [
            f"{name} {challenger.get(name, float('nan')):.4f} > ceiling {ceiling:g}"
            for name, ceiling in self.ceilings.items()
            if not challenger.get(name, float("inf")) <= ceiling
        ]
        value = float(challenger[self.metric])
        if champion is None:
            if broken:
                return Decision(False, "no champion, but " + "; ".join(broken), value, None, None)
            return Decision(True, "no champion yet and every floor holds", value, None, None)
        champion_value = float(champion[self.metric])
        gain = value - champion_value if self.greater_is_better else champion_value - value
        if broken:
            return Decision(False, "; ".join(broken), value, champion_value, gain)
        if gain < self.min_improvement:
            return Decision(
                False,
                f"{self.metric} {value:.4f} vs champion {champion_value:.4f}: improvement "
                f"{gain:+.4f} is below the required {self.min_improvement:g}",
                value,
                champion_value,
                gain,
            )
        return Decision(
            True,
            f"{self.metric} {value:.4f} beats champion {champion_value:.4f} by {gain:+.4f} "
            f"(required {self.min_improvement:g})",
            value,
            champion_value,
            gain,
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["floors"], data["ceilings"] = dict(self.floors), dict(self.ceilings)
        return data


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    challenger_value: float
    champion_value: float | None
    improvement: float | None


def apply(
    mlflow_client: MlflowClient,
    policy: PromotionPolicy,
    decision: Decision,
    challenger: ModelRef,
    champion: ModelRef | None,
) -> dict[str, Any]:
    """Move the aliases as decided and record the decision on the challenger's version."""
    tags = {
        "promotion.decision": "promoted" if decision.promote else "rejected",
        "promotion.reason": decision.reason,
        "promotion.metric": policy.metric,
        "promotion.min_improvement": policy.min_improvement,
        "promotion.challenger_value": f"{decision.challenger_value:.6f}",
        "promotion.champion_value": (
            "" if decision.champion_value is None else f"{decision.champion_value:.6f}"
        ),
        "promotion.champion_version": champion.version if champion else "",
        "promotion.decided_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    set_tags(mlflow_client, challenger, tags)
    if decision.promote:
        mlflow_client.set_registered_model_alias(challenger.name, PRODUCTION, challenger.version)
        if champion is not None:
            set_tags(mlflow_client, champion, {"superseded_by": challenger.version})
    return {
        "model": challenger.to_json(),
        "promoted": decision.promote,
        "reason": decision.reason,
        "metric": policy.metric,
        "challenger_value": decision.challenger_value,
        "champion_value": decision.champion_value,
        "champion_version": champion.version if champion else None,
        "production_version": challenger.version
        if decision.promote
        else (champion.version if champion else None),
    }
