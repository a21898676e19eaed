"""The public API is explicit: ``cadencia.__all__`` is sorted, complete, and every name in
it resolves (lazily loaded ones included) in a fresh interpreter."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import types

import pytest

import cadencia
import cadencia.authoring
import cadencia.errors
import cadencia.store


@pytest.mark.parametrize(
    "module",
    [cadencia, cadencia.authoring, cadencia.errors, cadencia.store],
    ids=lambda m: m.__name__,
)
def test_all_is_sorted_without_duplicates(module: types.ModuleType) -> None:
    assert module.__all__ == sorted(set(module.__all__))


def test_every_public_cadencia_object_at_the_top_level_is_exported() -> None:
    defined_here = {
        name
        for name, value in vars(cadencia).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", "").startswith("cadencia")
    }
    lazy = set(cadencia._LAZY)
    assert defined_here - set(cadencia.__all__) == set()
    assert lazy - set(cadencia.__all__) == set()
    assert set(cadencia.__all__) == defined_here | lazy | {"__version__"}


def test_every_exported_name_resolves_in_a_fresh_interpreter() -> None:
    code = (
        "import json, cadencia\n"
        "print(json.dumps({n: type(getattr(cadencia, n)).__name__ for n in cadencia.__all__}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    kinds = json.loads(result.stdout)
    assert set(kinds) == set(cadencia.__all__)
    assert kinds["__version__"] == "str"
    assert kinds["run"] == kinds["step"] == "function"
    assert kinds["Client"] == "type"


def test_dir_lists_the_public_api() -> None:
    assert dir(cadencia) == sorted(cadencia.__all__)


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'cadencia' has no attribute 'nope'"):
        cadencia.nope  # noqa: B018


def test_errors_exports_exactly_its_exception_tree() -> None:
    defined = {
        name
        for name, value in vars(cadencia.errors).items()
        if inspect.isclass(value) and value.__module__ == "cadencia.errors"
    }
    assert set(cadencia.errors.__all__) == defined
