"""From a node and its upstream outputs to a task's inputs, lineage and cache key.

Shared by the runner (to run a task) and the planner (to predict what a run
would do), so both always agree on what a cache key is.

The cache key is the hash of: the step's code (or its ``cache_version``), the
function's qualified name, every argument's token — an artifact's digest and
materializer version, or a constant's canonical encoding — and the format
version of this scheme.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
import math
import pathlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cadencia.authoring.graph import Collect, Const, Node, Ref
from cadencia.engine.spec import ArtifactInput, InputTemplate, ListInput
from cadencia.store.records import WHOLE, OutputRecord

KEY_SCHEME = "cadencia-cache-1"


@dataclass
class OutputValue:
    """One output of a finished node as the engine sees it.

    ``whole`` is the stored value; ``elements`` are its elements stored one by
    one (when a fan-out maps over it) or, for a fan-out node, its tasks' outputs.
    """

    whole: OutputRecord | None = None
    elements: list[OutputRecord] | None = None


Available = Mapping[str, Mapping[str, OutputValue]]


@dataclass
class PreparedInputs:
    template: dict[str, InputTemplate] = field(default_factory=dict)
    lineage: list[tuple[str, int, str]] = field(default_factory=list)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    unstable: list[str] = field(default_factory=list)

    def cache_parts(self, node: Node) -> dict[str, Any]:
        return {
            "code": node.step.code_hash,
            "function": node.step.fn.__qualname__,
            "args": self.tokens,
        }

    def cache_key(self, node: Node) -> str | None:
        if self.unstable:
            return None
        material = {
            "scheme": KEY_SCHEME,
            "code": node.step.code_hash,
            "function": node.step.fn.__qualname__,
            "args": {name: token["token"] for name, token in self.tokens.items()},
        }
        encoded = json.dumps(material, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(encoded.encode()).hexdigest()


BlobLookup = Callable[[OutputRecord], "bytes | None"]


def _no_blobs(record: OutputRecord) -> bytes | None:
    return None


def _artifact_token(record: OutputRecord) -> str:
    return f"{record.digest}|{record.materializer}"


def _list_token(tokens: list[str]) -> str:
    return "list:" + hashlib.sha256("\n".join(tokens).encode()).hexdigest()


def prepare(
    node: Node,
    available: Available,
    map_index: int | None = None,
    blobs: BlobLookup = _no_blobs,
) -> PreparedInputs:
    """Inputs of ``node`` (or of its element ``map_index`` for a fan-out).

    ``blobs`` gives the bytes of inline artifacts, which travel in the task's spec.
    """
    prepared = PreparedInputs()

    def to_input(record: OutputRecord) -> ArtifactInput:
        return ArtifactInput(
            record.digest, record.materializer, blobs(record) if record.inline else None
        )

    for param, arg in node.args.items():
        if isinstance(arg, Const):
            token, shown = const_token(arg.value)
            if token is None:
                prepared.unstable.append(param)
            prepared.tokens[param] = {"token": token, "value": shown}
        elif isinstance(arg, Ref):
            value = available[arg.node][arg.output]
            if param in node.mapped:
                assert value.elements is not None and map_index is not None
                record = value.elements[map_index]
                prepared.template[param] = to_input(record)
                prepared.lineage.append((param, WHOLE, record.digest))
                prepared.tokens[param] = {"token": _artifact_token(record)}
            else:
                template, token = _ref_input(param, value, prepared, to_input)
                prepared.template[param] = template
                prepared.tokens[param] = {"token": token}
        else:
            prepared.template[param], prepared.tokens[param] = _collect_input(
                param, arg, available, prepared, to_input
            )
    return prepared


ToInput = Callable[[OutputRecord], ArtifactInput]


def _ref_input(
    name: str, value: OutputValue, prepared: PreparedInputs, to_input: ToInput
) -> tuple[InputTemplate, str]:
    if value.whole is not None:
        prepared.lineage.append((name, WHOLE, value.whole.digest))
        return to_input(value.whole), _artifact_token(value.whole)
    elements = value.elements or []
    for position, record in enumerate(elements):
        prepared.lineage.append((name, position, record.digest))
    template = ListInput(tuple(to_input(record) for record in elements))
    return template, _list_token([_artifact_token(record) for record in elements])


def _collect_input(
    param: str, arg: Collect, available: Available, prepared: PreparedInputs, to_input: ToInput
) -> tuple[InputTemplate, dict[str, Any]]:
    items: list[InputTemplate | None] = []
    tokens: list[str] = []
    for index, item in enumerate(arg.items):
        if isinstance(item, Const):
            token, _ = const_token(item.value)
            if token is None:
                prepared.unstable.append(f"{param}[{index}]")
            items.append(None)
            tokens.append(f"const:{token}")
        else:
            value = available[item.node][item.output]
            if value.whole is not None:
                prepared.lineage.append((param, index, value.whole.digest))
                items.append(to_input(value.whole))
                tokens.append(_artifact_token(value.whole))
            else:
                template, token = _ref_input(f"{param}[{index}]", value, prepared, to_input)
                items.append(template)
                tokens.append(token)
    return ListInput(tuple(items), arg.as_tuple), {
        "token": _list_token(tokens),
        "items": len(items),
    }


# -- constants -------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    """A JSON-encodable form of a constant that is equal exactly when the constants are."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, list | tuple):
        return {type(value).__name__: [_canonical(item) for item in value]}
    if isinstance(value, dict):
        return {
            "dict": sorted(([_canonical(k), _canonical(v)] for k, v in value.items()), key=repr)
        }
    if isinstance(value, set | frozenset):
        return {"set": sorted((_canonical(item) for item in value), key=repr)}
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return {type(value).__name__: value.isoformat()}
    if isinstance(value, pathlib.PurePath):
        return {"path": str(value)}
    if isinstance(value, enum.Enum):
        return {"enum": f"{type(value).__qualname__}.{value.name}"}
    if isinstance(value, bytes):
        return {"bytes": hashlib.sha256(value).hexdigest()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            "dataclass": type(value).__qualname__,
            "fields": {
                f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)
            },
        }
    raise TypeError(type(value).__name__)


def const_token(value: Any) -> tuple[str | None, str]:
    """(token, short display) of a constant; token ``None`` when it has no stable form."""
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    try:
        encoded = json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None, shown
    return "const:" + hashlib.sha256(encoded.encode()).hexdigest()[:32], shown


def output_values(
    node: Node, records: Sequence[OutputRecord], split: Collection[str]
) -> dict[str, OutputValue]:
    """A finished node's outputs from its records; ``split`` names those stored
    element by element too (because a fan-out maps over them)."""
    values: dict[str, OutputValue] = {}
    for name in node.output_names:
        mine = [r for r in records if r.output_name == name]
        whole = next((r for r in mine if r.position == WHOLE), None)
        elements = sorted((r for r in mine if r.position != WHOLE), key=lambda r: r.position)
        values[name] = OutputValue(whole, elements if name in split else None)
    return values
