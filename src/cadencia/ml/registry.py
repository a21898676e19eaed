"""The model registry is MLflow's: registering versions with lineage tags, and aliases.

The seeds' stages map onto MLflow 3 aliases: ``staging`` (every newly
registered version) and ``production`` (the champion, moved only by a
promotion policy). Tags on a version lead back to what produced it: the
cadencia run and its input artifacts' digests, the feature partitions'
digests (the data version), the git commit, the parameters and the owner.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cadencia.ml.errors import ModelRegistryError

if TYPE_CHECKING:
    from mlflow import MlflowClient

STAGING = "staging"
PRODUCTION = "production"


@dataclass(frozen=True)
class ModelRef:
    """A registered model version, as passed between steps (JSON-able)."""

    name: str
    version: str
    run_id: str | None = None

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "run_id": self.run_id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelRef:
        return cls(str(data["name"]), str(data["version"]), data.get("run_id"))


def register(
    mlflow_client: MlflowClient,
    model_uri: str,
    name: str,
    *,
    run_id: str,
    tags: Mapping[str, Any],
    description: str = "",
) -> ModelRef:
    """Register ``model_uri`` as a new version of ``name``, tag it and alias it ``staging``."""
    from mlflow.exceptions import MlflowException

    try:
        mlflow_client.get_registered_model(name)
    except MlflowException:
        with contextlib.suppress(MlflowException):  # created concurrently
            mlflow_client.create_registered_model(
                name, description="Probability that a NYC departure arrives 15+ minutes late."
            )
    import mlflow

    # mlflow.register_model (not create_model_version) links a logged model's
    # ``models:/<id>`` source to the version, which a tracking server requires.
    version = mlflow.register_model(model_uri, name, tags={k: str(v) for k, v in tags.items()})
    if description:
        mlflow_client.update_model_version(name, version.version, description=description)
    mlflow_client.set_registered_model_alias(name, STAGING, version.version)
    return ModelRef(name, str(version.version), run_id)


def resolve_alias(mlflow_client: MlflowClient, name: str, alias: str) -> ModelRef | None:
    """The version behind ``name@alias``, or None when there is none."""
    from mlflow.exceptions import MlflowException

    try:
        version = mlflow_client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    return ModelRef(name, str(version.version), version.run_id)


def require_alias(mlflow_client: MlflowClient, name: str, alias: str) -> ModelRef:
    found = resolve_alias(mlflow_client, name, alias)
    if found is None:
        raise ModelRegistryError(
            f"no version of model {name!r} has the {alias!r} alias in the registry at "
            f"{mlflow_client._registry_uri}; run the training pipeline so a model passes the "
            f"promotion policy (cadencia run cadencia.ml.pipelines.flights:ml_training_pipeline), "
            f"or set the alias yourself: MlflowClient().set_registered_model_alias({name!r}, "
            f"{alias!r}, VERSION)"
        )
    return found


def load_booster(ref: ModelRef) -> Any:
    """The LightGBM booster of a registered version (MLflow's lightgbm flavor: no pickle)."""
    import mlflow.lightgbm

    return mlflow.lightgbm.load_model(ref.uri)


def set_tags(mlflow_client: MlflowClient, ref: ModelRef, tags: Mapping[str, Any]) -> None:
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(ref.name, ref.version, key, str(value))
