"""Importing a pipeline file stays cheap; the core never imports cadencia.ml."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["mlflow", "pandas", "sklearn", "optuna", "lightgbm", "duckdb", "pyarrow", "matplotlib"]


def _loaded_after(statement: str) -> list[str]:
    code = (
        f"import sys, json; {statement}; "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout))


def test_importing_the_flights_pipelines_loads_no_heavy_library() -> None:
    assert _loaded_after("import cadencia.ml.pipelines.flights") == []


def test_the_core_does_not_import_the_ml_package() -> None:
    code = (
        "import sys, cadencia, cadencia.api, cadencia.client; print('cadencia.ml' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
