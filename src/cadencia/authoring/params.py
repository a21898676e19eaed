"""Pipeline parameters: typed by the pipeline function's annotations.

Values come from Python (checked against the annotation) or from the command
line as text (parsed by the annotation). Every problem is reported before
anything runs.
"""

from __future__ import annotations

import datetime as dt
import enum
import inspect
import json
import pathlib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cadencia.authoring import typecheck
from cadencia.errors import ParameterError

_TRUE = {"true", "1", "yes", "on", "y"}
_FALSE = {"false", "0", "no", "off", "n"}


@dataclass(frozen=True)
class ParamSpec:
    name: str
    annotation: Any
    default: Any = inspect.Parameter.empty

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty

    @property
    def type_name(self) -> str:
        if self.annotation is inspect.Parameter.empty:
            return "any"
        return typecheck.describe(self.annotation)


def param_specs(fn: Callable[..., Any]) -> dict[str, ParamSpec]:
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = {}
    specs: dict[str, ParamSpec] = {}
    for param in inspect.signature(fn).parameters.values():
        annotation = hints.get(param.name, param.annotation)
        if annotation is inspect.Parameter.empty and param.default not in (
            inspect.Parameter.empty,
            None,
        ):
            annotation = type(param.default)
        specs[param.name] = ParamSpec(param.name, annotation, param.default)
    return specs


def resolve(
    specs: Mapping[str, ParamSpec],
    given: Mapping[str, Any],
    *,
    from_text: bool = False,
    pipeline_name: str = "",
) -> dict[str, Any]:
    """Check ``given`` against ``specs`` and fill in defaults.

    With ``from_text`` the values are strings from the command line and are
    parsed by each parameter's annotation.
    """
    problems: list[str] = []
    unknown = sorted(set(given) - set(specs))
    for name in unknown:
        valid = ", ".join(specs) or "none"
        problems.append(f"unknown parameter '{name}'; this pipeline's parameters are: {valid}")
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        if name not in given:
            if spec.required:
                problems.append(
                    f"parameter '{name}' ({spec.type_name}) is required; pass it with "
                    f"-p {name}=VALUE or as a keyword argument"
                )
            else:
                values[name] = spec.default
            continue
        raw = given[name]
        try:
            values[name] = parse(raw, spec.annotation) if from_text else check(raw, spec.annotation)
        except (TypeError, ValueError) as exc:
            problems.append(f"parameter '{name}' {exc}")
    if problems:
        title = f"pipeline '{pipeline_name}': " if pipeline_name else ""
        raise ParameterError(title + "; ".join(problems))
    return values


def check(value: Any, annotation: Any) -> Any:
    if typecheck.value_matches(value, annotation) and _items_match(value, annotation):
        if annotation is float and isinstance(value, int):
            return float(value)
        return value
    raise TypeError(
        f"must be {typecheck.describe(annotation)}, got {type(value).__name__} {value!r:.60}"
    )


def _fixed_tuple_types(annotation: Any) -> tuple[Any, ...] | None:
    """The item annotations of ``tuple[int, str]``; None for ``tuple[int, ...]`` and others."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is not tuple or not args or Ellipsis in args:
        return None
    return args


def _items_match(value: Any, annotation: Any) -> bool:
    if isinstance(value, dict):
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) is not dict or len(args) != 2:
            return True
        return all(
            typecheck.value_matches(key, args[0]) and typecheck.value_matches(item, args[1])
            for key, item in value.items()
        )
    if not isinstance(value, list | tuple):
        return True
    fixed = _fixed_tuple_types(annotation)
    if fixed is not None:
        return len(value) == len(fixed) and all(
            typecheck.value_matches(item, item_type)
            for item, item_type in zip(value, fixed, strict=True)
        )
    item_type = typecheck.element_type(annotation)
    if item_type is typecheck.UNKNOWN:
        return True
    return all(typecheck.value_matches(item, item_type) for item in value)


def parse(text: Any, annotation: Any) -> Any:
    """Parse command-line text into a value of ``annotation``'s type."""
    if not isinstance(text, str):
        return check(text, annotation)
    if annotation is inspect.Parameter.empty or annotation is str or annotation is typing.Any:
        return text
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(annotation)
        if type(None) in members and text.lower() in {"none", "null", ""}:
            return None
        errors = []
        for member in members:
            if member is type(None):
                continue
            try:
                return parse(text, member)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ValueError(f"must be {typecheck.describe(annotation)}, got {text!r}")
    if origin is typing.Literal:
        for choice in typing.get_args(annotation):
            if str(choice) == text:
                return choice
        raise ValueError(f"must be one of {list(typing.get_args(annotation))}, got {text!r}")
    if origin in (list, tuple) or annotation in (list, tuple):
        return _parse_sequence(text, annotation, origin or annotation)
    if origin is dict or annotation is dict:
        value = json.loads(text)
        return check(value, annotation)
    return _parse_scalar(text, annotation)


def _parse_sequence(text: str, annotation: Any, origin: Any) -> Any:
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValueError(f"must be a JSON list or comma-separated values: {exc}") from None
        if not isinstance(items, list):
            raise ValueError(f"must be a JSON list or comma-separated values, got {text!r}")
    else:
        items = [part.strip() for part in stripped.split(",") if part.strip()]
    fixed = _fixed_tuple_types(annotation)
    if fixed is not None and len(items) != len(fixed):
        raise ValueError(
            f"must be {len(fixed)} comma-separated values ({typecheck.describe(annotation)}), "
            f"got {text!r}"
        )
    item_types = fixed or [typecheck.element_type(annotation)] * len(items)
    values = [
        parse(item, item_type) if isinstance(item, str) else check(item, item_type)
        for item, item_type in zip(items, item_types, strict=True)
    ]
    return tuple(values) if origin is tuple else values


def _parse_scalar(text: str, annotation: Any) -> Any:
    if annotation is bool:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"must be true or false, got {text!r}")
    if annotation is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"must be an integer, got {text!r}") from None
    if annotation is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"must be a number, got {text!r}") from None
    if annotation is dt.date:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"must be a date like 2013-01-31, got {text!r}") from None
    if annotation is dt.datetime:
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"must be a datetime like 2013-01-31T06:00, got {text!r}") from None
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        for member in annotation:
            if text in (member.name, str(member.value)):
                return member
        raise ValueError(f"must be one of {[m.name for m in annotation]}, got {text!r}")
    if annotation is pathlib.Path:
        return pathlib.Path(text)
    if isinstance(annotation, type):
        try:
            return annotation(text)
        except Exception as exc:
            raise ValueError(
                f"cannot be made a {annotation.__name__} from {text!r}: {exc}"
            ) from None
    return text


def to_json(values: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-ready copy of resolved parameter values (dates as ISO text, paths as text)."""
    return {name: _jsonable(value) for name, value in values.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):  # first: IntEnum and StrEnum members are ints and strs too
        return value.name
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def from_json(data: Mapping[str, Any], specs: Mapping[str, ParamSpec]) -> dict[str, Any]:
    """The parameter values stored by ``to_json``, with their types restored."""
    values: dict[str, Any] = {}
    for name, raw in data.items():
        spec = specs.get(name)
        values[name] = raw if spec is None else _restore(raw, spec.annotation)
    return values


def _restore(raw: Any, annotation: Any) -> Any:
    try:
        return check(raw, annotation)
    except TypeError:
        pass
    if isinstance(raw, list):
        fixed = _fixed_tuple_types(annotation)
        if fixed is not None and len(fixed) == len(raw):
            item_types: Sequence[Any] = fixed
        else:
            item_types = [typecheck.element_type(annotation)] * len(raw)
        items = [_restore(item, t) for item, t in zip(raw, item_types, strict=True)]
        return tuple(items) if typing.get_origin(annotation) is tuple else items
    return parse(raw, annotation)
