"""The layers of DESIGN.md, checked: ``import cadencia`` stays light, and the core
(authoring, engine, store) never imports the layers above it or integrations."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import cadencia

PACKAGE = Path(cadencia.__file__).parent
CORE = ("authoring", "engine", "store")
HEAVY = ("mlflow", "pandas", "sklearn", "fastapi", "airflow", "dask", "sqlalchemy", "optuna")
UPPER = ("cadencia.ml", "cadencia.serving", "cadencia.ui", "cadencia.cli", "cadencia.integrations")


def imported_after(code: str) -> set[str]:
    """Top-level names of the modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return {name.split(".")[0] for name in json.loads(result.stdout.splitlines()[-1])}


def core_modules() -> list[str]:
    names = []
    for layer in CORE:
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_import_cadencia_loads_no_third_party_module() -> None:
    baseline = imported_after("pass")  # what the interpreter loads by itself (.pth hooks)
    loaded = imported_after("import cadencia") - baseline
    assert {name for name in loaded if name not in sys.stdlib_module_names} == {"cadencia"}


def test_importing_every_core_module_loads_nothing_heavy() -> None:
    modules = core_modules()
    assert "cadencia.engine.runner" in modules and "cadencia.store.sqlalchemy" in modules
    code = "import cadencia\n" + "\n".join(f"import {name}" for name in modules)
    assert imported_after(code) & set(HEAVY) == set()


def test_the_probe_would_see_a_heavy_import() -> None:
    assert "sqlalchemy" in imported_after("import cadencia.store.sqlalchemy\nimport sqlalchemy")


def imports_of(path: Path, root: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, anywhere in the file (functions and TYPE_CHECKING too),
    with relative imports resolved against the file's package (``root`` holds the top one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = list(path.relative_to(root).parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return found


def violations(layer: str, forbidden: tuple[str, ...], package: Path = PACKAGE) -> list[str]:
    problems = []
    for path in sorted((package / layer).rglob("*.py")):
        for line, module in imports_of(path, package.parent):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                problems.append(f"{path.relative_to(package)}:{line} imports {module}")
    return problems


@pytest.mark.parametrize("layer", CORE)
def test_the_core_never_imports_upper_layers_or_integrations(layer: str) -> None:
    assert violations(layer, UPPER) == []


def test_authoring_and_store_do_not_import_the_engine() -> None:
    assert violations("authoring", ("cadencia.engine", "cadencia.store", "cadencia.api")) == []
    assert violations("store", ("cadencia.engine", "cadencia.authoring", "cadencia.api")) == []


def test_the_ast_walk_finds_every_kind_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "cadencia" / "engine" / "executors" / "probe.py"
    sample.parent.mkdir(parents=True)
    sample.write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from cadencia.ml import tracking\n"
        "def late():\n"
        "    import cadencia.cli.main\n"
        "    from ...serving import app\n"
        "    from . import base\n"
    )
    assert violations("engine", UPPER, tmp_path / "cadencia") == [
        "engine/executors/probe.py:4 imports cadencia.ml",
        "engine/executors/probe.py:4 imports cadencia.ml.tracking",
        "engine/executors/probe.py:6 imports cadencia.cli.main",
        "engine/executors/probe.py:7 imports cadencia.serving",
        "engine/executors/probe.py:7 imports cadencia.serving.app",
    ]
    assert (8, "cadencia.engine.executors.base") in imports_of(sample, tmp_path)
