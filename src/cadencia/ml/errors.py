"""Errors of the ML lifecycle blocks, under cadencia's one exception tree.

::

    CadenciaError
    └── MLError                      a lifecycle step cannot go on
        ├── DataSourceError          a partition is missing, unreachable or corrupt
        ├── DataValidationError      a partition breaks the schema or value rules (has a report)
        ├── FeatureStoreError        the feature store lacks what was asked for
        ├── ModelRegistryError       no model behind an alias, or registration failed
        └── NotificationError        a notifier could not deliver

Imports nothing but ``cadencia.errors``.
"""

from __future__ import annotations

from typing import Any

from cadencia.errors import CadenciaError


class MLError(CadenciaError):
    headline = "ml error"


class DataSourceError(MLError):
    headline = "data source"


class DataValidationError(MLError):
    """The partition failed validation; ``report`` says which rules and how many rows."""

    headline = "data validation failed"

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


class FeatureStoreError(MLError):
    headline = "feature store"


class ModelRegistryError(MLError):
    headline = "model registry"


class NotificationError(MLError):
    headline = "notification"


__all__ = [
    "DataSourceError",
    "DataValidationError",
    "FeatureStoreError",
    "MLError",
    "ModelRegistryError",
    "NotificationError",
]
