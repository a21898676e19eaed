"""The one exception tree: its shape, headlines, exit codes and the graph report."""

from __future__ import annotations

import re

import pytest

from cadencia import errors
from cadencia.errors import (
    ArtifactCorruptedError,
    CadenciaError,
    DefinitionError,
    GraphError,
    MaterializationError,
    NotFoundError,
    ParameterError,
    Problem,
    RunStateError,
    SourceError,
    StoreError,
    TaskFailedError,
    UsageError,
)

TREE = {
    UsageError: CadenciaError,
    SourceError: UsageError,
    DefinitionError: UsageError,
    ParameterError: UsageError,
    GraphError: UsageError,
    NotFoundError: UsageError,
    StoreError: CadenciaError,
    ArtifactCorruptedError: StoreError,
    MaterializationError: CadenciaError,
    RunStateError: CadenciaError,
    TaskFailedError: CadenciaError,
}


def drawn_depths() -> dict[str, int]:
    """Class name -> depth below CadenciaError in the tree drawn in the module docstring."""
    depths = {}
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^(\s*[│ ]*)[├└]── (\w+)", line)
        if match:
            depths[match.group(2)] = (len(match.group(1)) - 4) // 4 + 1
    return depths


@pytest.mark.parametrize(("error", "parent"), TREE.items(), ids=lambda c: c.__name__)
def test_the_tree_matches_the_module_docstring(error: type, parent: type) -> None:
    assert error.__bases__ == (parent,)
    depth = error.__mro__.index(CadenciaError)
    assert drawn_depths()[error.__name__] == depth


def test_the_docstring_draws_every_error() -> None:
    assert set(drawn_depths()) == {error.__name__ for error in TREE}


def test_usage_errors_exit_2_and_the_others_1() -> None:
    for error in TREE:
        expected = 2 if issubclass(error, UsageError) else 1
        assert error.exit_code == expected, error
    assert CadenciaError.exit_code == 1


def test_every_error_has_its_own_headline() -> None:
    headlines = [error.headline for error in TREE]
    assert len(set(headlines)) == len(headlines)
    assert SourceError.headline == "cannot load pipeline"


def test_problem_render() -> None:
    assert Problem("bad", "f.py", 3, "train").render() == "f.py:3: step 'train': bad"
    assert Problem("bad", "f.py", None, None).render() == "bad"
    assert Problem("bad").render() == "bad"


def test_graph_error_lists_every_problem() -> None:
    error = GraphError([Problem("one", "f.py", 1, "a"), Problem("two")], "flow")
    assert str(error) == "pipeline 'flow' has 2 problems:\n  - f.py:1: step 'a': one\n  - two"
    assert error.problems == (Problem("one", "f.py", 1, "a"), Problem("two"))
    assert str(GraphError([Problem("only")])) == "1 problem:\n  - only"


def test_task_failed_error_carries_the_run_id() -> None:
    error = TaskFailedError("step x failed", "run-1")
    assert (str(error), error.run_id) == ("step x failed", "run-1")
