"""Linking MLflow runs and model versions back to the cadencia run that made them.

The tags: the cadencia run id, the code version the engine recorded, and the
digest of every artifact the run had produced so far (the exact data the
model was trained and evaluated on; ``cadencia lineage DIGEST`` walks on from
there).

Where the engine offers ``current_task()`` the step tags what it writes
itself (``step_links``). Otherwise an ``on_success`` hook, run by the engine
once the step's outcome is committed, reads the step's output (an MLflow run
id and/or a model version) and tags them afterwards; it costs an MLflow import
in the engine process, so it does nothing when the step already linked.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("cadencia.ml.linking")


def run_links(run_id: str) -> dict[str, str]:
    """Tags describing a cadencia run: its id, code version and artifact digests."""
    from cadencia.client import Client

    with Client() as client:
        run = client.run(run_id)
        tags = {
            "cadencia.run_id": run_id,
            "cadencia.pipeline": run.record.pipeline_name,
            "cadencia.home": str(client.settings.home),
        }
        if run.record.code_version:
            tags["cadencia.code_version"] = run.record.code_version
        for output in run.outputs:
            if output.position == -1 and not output.materializer.startswith("json"):
                tags[f"cadencia.artifact.{output.task_name}.{output.output_name}"] = output.digest
    return tags


def step_links() -> dict[str, str]:
    """Link tags for the step running now, or none when the engine cannot say which it is."""
    try:
        from cadencia.engine.context import current_task  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return {}
    from cadencia.errors import CadenciaError

    try:
        info = current_task()
    except CadenciaError:  # called as a plain function, outside a run
        return {}
    return {**run_links(info.run_id), "cadencia.step": info.task_name}


def link_cadencia_run(event: Any) -> None:
    """``on_success`` hook: tag the MLflow run / model version a step returned."""
    from cadencia.client import Client
    from cadencia.ml import tracking

    with Client() as client:
        produced = client.run(event.run_id).output(event.task_name)
    if produced.get("linked"):
        return
    tags = run_links(event.run_id)
    mlflow_client = tracking.client()
    if produced.get("mlflow_run_id"):
        tracking.log_batch(mlflow_client, produced["mlflow_run_id"], tags=tags)
    if produced.get("version"):
        for key, value in tags.items():
            mlflow_client.set_model_version_tag(produced["name"], produced["version"], key, value)
    logger.info("linked %s of cadencia run %s to MLflow", event.task_name, event.run_id)
