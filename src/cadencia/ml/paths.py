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


def mlflow_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set, else MLflow on SQLite inside the cadencia home."""
    configured = os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    root = home()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'mlflow.db'}"


def mlflow_artifact_location() -> str | None:
    """Where new experiments keep artifacts: a local folder, unless a server decides."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    return (home() / "mlartifacts").as_uri()
