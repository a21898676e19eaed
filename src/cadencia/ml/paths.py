"""Where the ML blocks keep their state: folders and URIs under the cadencia home.

Everything defaults to the cadencia home (``CADENCIA_HOME`` or ``./.cadencia``),
so a fresh machine needs no service: packaged data sets, the feature store,
predictions, and MLflow on SQLite with a local artifact folder.
``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI`` override the MLflow part.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The cadencia home of this process (steps inherit the engine's environment)."""
    from cadencia.store.config import Settings

    return Settings.resolve().home


def datasets_dir() -> Path:
    return home() / "datasets"


def feature_store_dir() -> Path:
    return home() / "features"


def predictions_dir() -> Path:
    return home() / "predictions"


def optuna_dir() -> Path:
    return home() / "optuna"


_defaults_set: set[str] = set()
"""URIs this process derived from a cadencia home. ``mlflow.set_tracking_uri`` copies
its argument into ``MLFLOW_TRACKING_URI``, which must not then pass for the user's choice
(a later run in the same process may use another home)."""


def user_tracking_uri() -> str | None:
    """``MLFLOW_TRACKING_URI`` as the user set it, if they did."""
    configured = os.environ.get("MLFLOW_TRACKING_URI")
    return configured if configured and configured not in _defaults_set else None


def mlflow_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when the user set it, else MLflow on SQLite in the cadencia home."""
    configured = user_tracking_uri()
    if configured:
        return configured
    root = home()
    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    _defaults_set.add(uri)
    return uri


def mlflow_registry_uri(tracking_uri: str) -> str:
    configured = os.environ.get("MLFLOW_REGISTRY_URI")
    return configured if configured and configured not in _defaults_set else tracking_uri


def mlflow_artifact_location() -> str | None:
    """Where new experiments keep artifacts: a local folder, unless a server decides."""
    if user_tracking_uri():
        return None
    return (home() / "mlartifacts").as_uri()
