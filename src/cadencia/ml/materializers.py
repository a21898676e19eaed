"""Materializers for models passed between steps: LightGBM boosters as their text format.

Registered by ``register()`` (the pipelines call it at import). The format is
LightGBM's own model text — the same bytes MLflow's ``lightgbm`` flavor
writes — so passing a model between steps never needs pickle.
"""

from __future__ import annotations

from typing import Any

from cadencia.store.artifacts import Buffer
from cadencia.store.materializers import Materializer, register_materializer


class LightGBMBoosterMaterializer(Materializer):
    name = "lightgbm-booster"
    version = "1"
    type_names = ("lightgbm.basic.Booster", "lightgbm.Booster")

    def dump(self, value: Any) -> bytes:
        return str(value.model_to_string()).encode()

    def load(self, data: Buffer) -> Any:
        import lightgbm as lgb

        return lgb.Booster(model_str=bytes(data).decode())


_registered = False


def register() -> None:
    """Make the model materializers available here (idempotent; imports nothing heavy)."""
    global _registered
    if not _registered:
        register_materializer(LightGBMBoosterMaterializer())
        _registered = True
