"""Build-time type checks between step annotations.

The checks are deliberately lenient: they report only mismatches that are
certain (two concrete, unrelated classes), never guesses, so an annotation
cadencia does not understand is simply not checked.
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from typing import Any

UNKNOWN: Any = inspect.Parameter.empty


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _plain_class(annotation: Any) -> type | None:
    """The class an annotation stands for, or None when it is not one concrete class."""
    origin = typing.get_origin(annotation)
    if origin is not None and isinstance(origin, type):
        return origin
    if isinstance(annotation, type) and annotation is not typing.Any:
        return annotation
    return None


def compatible(produced: Any, expected: Any) -> bool:
    """Can a value annotated ``produced`` be passed where ``expected`` is declared?"""
    if produced is UNKNOWN or expected is UNKNOWN or produced is typing.Any:
        return True
    if expected is typing.Any or expected is object:
        return True
    # Produced unions first: int | str fits int | str | None member by member.
    if _is_union(produced):
        return all(compatible(member, expected) for member in typing.get_args(produced))
    if _is_union(expected):
        return any(compatible(produced, member) for member in typing.get_args(expected))
    produced_class, expected_class = _plain_class(produced), _plain_class(expected)
    if produced_class is None or expected_class is None:
        return True
    # Protocols are structural: classes alone cannot decide them (and issubclass() raises
    # for protocols that are not runtime-checkable).
    if getattr(expected_class, "_is_protocol", False):
        return True
    if expected_class is float and produced_class is int:
        return True
    return issubclass(produced_class, expected_class)


def value_matches(value: Any, expected: Any) -> bool:
    """Does a constant ``value`` fit the annotation ``expected``?"""
    if expected is UNKNOWN or expected is typing.Any or expected is object:
        return True
    if _is_union(expected):
        return any(value_matches(value, member) for member in typing.get_args(expected))
    if expected is None or expected is type(None):
        return value is None
    if typing.get_origin(expected) is typing.Literal:
        # Literal[1] does not accept True (1 == True), nor Literal["1"] the int 1.
        return any(
            value == choice and type(value) is type(choice) for choice in typing.get_args(expected)
        )
    expected_class = _plain_class(expected)
    if expected_class is None or getattr(expected_class, "_is_protocol", False):
        return True
    if expected_class is float and isinstance(value, int) and not isinstance(value, bool):
        return True
    if expected_class is int and isinstance(value, bool):
        return False
    return isinstance(value, expected_class)


def element_type(annotation: Any) -> Any:
    """The element annotation of a sequence annotation (``list[int]`` -> ``int``)."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset) or (
        isinstance(origin, type) and issubclass(origin, collections.abc.Sequence)
    ):
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return args[0]
        if len(args) == 1:
            return args[0]
    return UNKNOWN


def is_iterable_annotation(annotation: Any) -> bool:
    """False only when the annotation is a concrete class that cannot be iterated."""
    cls = _plain_class(annotation)
    if cls is None or annotation is UNKNOWN:
        return True
    return hasattr(cls, "__iter__") and cls not in (str, bytes, dict)


def describe(annotation: Any) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")
