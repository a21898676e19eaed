"""The one exception tree of cadencia.

Every error cadencia raises on purpose is a ``CadenciaError``; third-party
errors are translated at the boundary with ``raise ... from exc``. The CLI
prints ``headline: message`` for these and a traceback only for anything else
(an internal bug).

::

    CadenciaError
    ├── UsageError                 exit code 2: the input is wrong, nothing was run
    │   ├── SourceError            a pipeline file or module cannot be found or loaded
    │   ├── DefinitionError        a @step / @pipeline declaration is invalid
    │   ├── ParameterError         a pipeline parameter is unknown, missing or of the wrong type
    │   ├── GraphError             the pipeline graph is invalid (all problems together)
    │   └── NotFoundError          a run, task or artifact named by the user does not exist
    ├── StoreError                 the metadata or artifact store failed
    │   └── ArtifactCorruptedError an artifact's bytes no longer match its digest
    ├── MaterializationError       a value cannot be written or read as an artifact
    ├── RunStateError              the run is in a state that forbids the request
    └── TaskFailedError            a step failed (cadencia.run(..., raise_on_failure=True))

This module imports nothing but the standard library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class CadenciaError(Exception):
    """Base class of every error cadencia raises on purpose."""

    headline = "error"
    exit_code = 1


class UsageError(CadenciaError):
    """The user's input is wrong; nothing was run and nothing was written."""

    headline = "usage error"
    exit_code = 2


class SourceError(UsageError):
    headline = "cannot load pipeline"


class DefinitionError(UsageError):
    headline = "invalid definition"


class ParameterError(UsageError):
    headline = "invalid parameter"


class NotFoundError(UsageError):
    headline = "not found"


@dataclass(frozen=True)
class Problem:
    """One finding of the graph validator: where it is, what is wrong, how to fix it."""

    message: str
    file: str | None = None
    line: int | None = None
    step_name: str | None = None

    def render(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else ""
        who = f"step '{self.step_name}': " if self.step_name else ""
        return f"{where}{who}{self.message}"


class GraphError(UsageError):
    """The pipeline graph is invalid. ``problems`` lists every finding, not just the first."""

    headline = "invalid pipeline"

    def __init__(self, problems: Sequence[Problem], pipeline_name: str = "") -> None:
        self.problems = tuple(problems)
        self.pipeline_name = pipeline_name
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        title = (
            f"pipeline '{pipeline_name}' has {count} {noun}" if pipeline_name else f"{count} {noun}"
        )
        body = "\n".join(f"  - {problem.render()}" for problem in self.problems)
        super().__init__(f"{title}:\n{body}")


class StoreError(CadenciaError):
    headline = "store error"


class ArtifactCorruptedError(StoreError):
    headline = "corrupted artifact"


class MaterializationError(CadenciaError):
    headline = "cannot store value"


class RunStateError(CadenciaError):
    headline = "run state"


class TaskFailedError(CadenciaError):
    headline = "run failed"

    def __init__(self, message: str, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id


__all__ = [
    "ArtifactCorruptedError",
    "CadenciaError",
    "DefinitionError",
    "GraphError",
    "MaterializationError",
    "NotFoundError",
    "ParameterError",
    "Problem",
    "RunStateError",
    "SourceError",
    "StoreError",
    "TaskFailedError",
    "UsageError",
]
