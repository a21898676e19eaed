"""``MLFLOW_TRACKING_URI`` pointing at a real ``mlflow server`` on 127.0.0.1 works unchanged."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import cadencia

FLOWS = "cadencia.ml.pipelines.flights"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    mlflow = Path(sys.executable).with_name("mlflow")
    process = subprocess.Popen(
        [
            str(mlflow),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "mlflow server did not start:\n" + (tmp_path / "server.log").read_text()
                )
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.slow
def test_training_logs_and_registers_on_a_tracking_server(
    home: Path, mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    for month in (1, 2):
        assert (
            cadencia.run(
                f"{FLOWS}:etl_feature_engineering", {"month": month}, executor="inline"
            ).state
            == "success"
        )
    run = cadencia.run(
        f"{FLOWS}:ml_training_pipeline",
        {"train_months": [1], "eval_month": 2, "trials": 1},
        executor="inline",
    )
    assert run.state == "success", run.record.error

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    version = client.get_model_version_by_alias("flights-delay", "production")
    assert version.tags["cadencia.run_id"] == run.run_id
    logged = client.get_run(version.run_id)
    assert logged.data.metrics["eval.roc_auc"] > 0.6
    assert not (home / "mlflow.db").exists()  # nothing went to the embedded default
