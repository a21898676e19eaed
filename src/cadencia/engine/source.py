"""Finding a pipeline from text (``FILE.py[:NAME]`` or ``package.module:NAME``), and again later.

A run records its ``PipelineSource`` so that any fresh process — ``cadencia
task run``, ``cadencia resume``, an Airflow worker — can import the same
pipeline and rebuild the same graph.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cadencia.authoring.pipeline import Pipeline
from cadencia.errors import CadenciaError, SourceError


@dataclass(frozen=True)
class PipelineSource:
    """Where a pipeline lives: a file or an importable module, and the attribute holding it."""

    kind: str  # "file" | "module" | "unimportable"
    target: str
    attribute: str
    path: str | None = None
    """A module's file, used when the module cannot be imported by name later."""

    def to_json(self) -> dict[str, str]:
        data = {"kind": self.kind, "target": self.target, "attribute": self.attribute}
        if self.path:
            data["path"] = self.path
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PipelineSource:
        path = data.get("path")
        return cls(str(data["kind"]), str(data["target"]), str(data["attribute"]), path)

    def __str__(self) -> str:
        return f"{self.target}:{self.attribute}"


def parse_target(text: str) -> tuple[str, str | None]:
    """``"flows.py:train"`` -> ``("flows.py", "train")``; the name part is optional."""
    head, sep, tail = text.rpartition(":")
    if sep and head and tail and "/" not in tail and not tail.startswith("\\"):
        return head, tail
    return text, None


def load_target(text: str) -> tuple[Pipeline, PipelineSource]:
    location, name = parse_target(text)
    if location.endswith(".py") or "/" in location or Path(location).is_file():
        path = Path(location).absolute()
        module = import_file(path)
        kind, target = "file", str(path)
    else:
        module = _import_module(location)
        kind, target = "module", location
    pipeline, attribute = _find_pipeline(module, name, location)
    file = getattr(module, "__file__", None) if kind == "module" else None
    return pipeline, PipelineSource(kind, target, attribute, file)


def load_source(source: PipelineSource) -> Pipeline:
    """Import the pipeline a run recorded (in a fresh process, or again in this one)."""
    if source.kind == "unimportable":
        raise SourceError(
            f"the pipeline '{source.attribute}' was defined where no other process can import "
            "it (inside a function or an interactive session); define it at module level in a "
            "file to run it with the process executor, resume it or run its tasks alone"
        )
    if source.kind == "file":
        module = import_file(Path(source.target))
    else:
        try:
            module = _import_module(source.target)
        except SourceError:
            if not source.path or not Path(source.path).is_file():
                raise
            module = import_file(Path(source.path))
    pipeline, _ = _find_pipeline(module, source.attribute, source.target)
    return pipeline


def source_of(pipeline: Pipeline) -> PipelineSource:
    """The source of a pipeline object that user code already imported."""
    module = sys.modules.get(pipeline.fn.__module__)
    attribute = None
    if module is not None:
        attribute = next((key for key, value in vars(module).items() if value is pipeline), None)
    if module is None or attribute is None or "<locals>" in pipeline.fn.__qualname__:
        return PipelineSource("unimportable", pipeline.fn.__module__, pipeline.name)
    file = getattr(module, "__file__", None)
    if module.__name__ == "__main__" or module.__name__.startswith(_FILE_MODULE_PREFIX):
        if file is None:
            return PipelineSource("unimportable", module.__name__, attribute)
        return PipelineSource("file", str(Path(file).absolute()), attribute)
    return PipelineSource("module", module.__name__, attribute, file)


_FILE_MODULE_PREFIX = "cadencia_pipeline_"


def import_file(path: Path) -> ModuleType:
    """Import a pipeline file once per process under a stable private module name."""
    if not path.is_file():
        hint = " (it is a directory)" if path.is_dir() else ""
        raise SourceError(f"pipeline file {path} does not exist{hint}; check the path")
    resolved = path.resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    name = f"{_FILE_MODULE_PREFIX}{resolved.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise SourceError(f"{path} cannot be imported as Python source")
    module = importlib.util.module_from_spec(spec)
    # Registered before running it, so that classes and functions defined in the
    # file can be found by name (pickling, dataclasses, typing).
    sys.modules[name] = module
    folder = str(resolved.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except CadenciaError:
        del sys.modules[name]
        raise
    except SyntaxError as exc:
        del sys.modules[name]
        raise SourceError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from None
    except BaseException as exc:
        del sys.modules[name]
        raise SourceError(_import_failure(resolved, exc)) from None
    return module


def _import_module(name: str) -> ModuleType:
    # Like `python -m`: modules in the current folder are importable by name.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise SourceError(
                f"no module named {name!r} and no file of that name; pass a FILE.py path or an "
                "importable module"
            ) from None
        raise SourceError(f"importing module {name!r} failed: {exc}") from None
    except CadenciaError:
        raise
    except Exception as exc:
        raise SourceError(
            f"importing module {name!r} failed: {type(exc).__name__}: {exc}"
        ) from None


def _import_failure(path: Path, exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    where = f"{path}:{frames[-1].lineno}" if frames else str(path)
    return f"{where}: importing the pipeline file raised {type(exc).__name__}: {exc}"


def _find_pipeline(module: ModuleType, name: str | None, location: str) -> tuple[Pipeline, str]:
    found = {key: value for key, value in vars(module).items() if isinstance(value, Pipeline)}
    if name is not None:
        value = getattr(module, name, None)
        if isinstance(value, Pipeline):
            return value, name
        by_pipeline_name = [key for key, p in found.items() if p.name == name]
        if len(by_pipeline_name) == 1:
            return found[by_pipeline_name[0]], by_pipeline_name[0]
        available = ", ".join(sorted(found)) or "none"
        what = "is not a @pipeline" if value is not None else "does not exist"
        raise SourceError(
            f"{location}: '{name}' {what}; pipelines defined there: {available}. "
            f"Use {location}:NAME"
        )
    if len(found) == 1:
        ((attribute, pipeline),) = found.items()
        return pipeline, attribute
    if not found:
        raise SourceError(f"{location} defines no @pipeline function")
    raise SourceError(
        f"{location} defines several pipelines ({', '.join(sorted(found))}); "
        f"choose one with {location}:NAME"
    )
