"""Build-time type checks: certain mismatches only, never guesses."""

from __future__ import annotations

import collections.abc
import typing
from typing import Any, Literal, Optional, Protocol

import pytest

from cadencia.authoring import typecheck

UNKNOWN = typecheck.UNKNOWN


class Base:
    pass


class Child(Base):
    pass


class HasName(Protocol):
    name: str


T = typing.TypeVar("T")


@pytest.mark.parametrize(
    ("produced", "expected"),
    [
        (int, int),
        (int, float),
        (bool, int),
        (Child, Base),
        (int, object),
        (int, Any),
        (Any, str),
        (UNKNOWN, str),
        (int, UNKNOWN),
        (int, int | None),
        (int, Optional[int]),  # noqa: UP045
        (int | str, int | str | None),
        (list[int], list),
        (list[int], list[str]),  # element types are not compared: lenient on purpose
        (list[int], collections.abc.Sequence),
        (int, T),
        (Base, HasName),
        (Literal["a"], str),
        (str, Literal["a"]),
    ],
)
def test_compatible(produced: Any, expected: Any) -> None:
    assert typecheck.compatible(produced, expected)


@pytest.mark.parametrize(
    ("produced", "expected"),
    [
        (int, str),
        (float, int),
        (str, bytes),
        (Base, Child),
        (int | None, int),
        (list[int], dict),
        (dict[str, int], list[int]),
        (int | str, int),
    ],
)
def test_incompatible(produced: Any, expected: Any) -> None:
    assert not typecheck.compatible(produced, expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, int),
        (1, float),
        (1.5, float),
        (None, None),
        (None, type(None)),
        (None, int | None),
        ("a", str | None),
        (Child(), Base),
        ("a", Literal["a", "b"]),
        (1, Any),
        (1, UNKNOWN),
        ([1], list[int]),
        (object(), HasName),
    ],
)
def test_value_matches(value: Any, expected: Any) -> None:
    assert typecheck.value_matches(value, expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", int),
        (True, int),
        (True, float),
        (None, int),
        (1, None),
        (1.5, int),
        (Base(), Child),
        ("c", Literal["a", "b"]),
        (True, Literal[1]),
        ((1,), list[int]),
    ],
)
def test_value_does_not_match(value: Any, expected: Any) -> None:
    assert not typecheck.value_matches(value, expected)


@pytest.mark.parametrize(
    ("annotation", "element"),
    [
        (list[int], int),
        (tuple[str, ...], str),
        (set[float], float),
        (frozenset[bytes], bytes),
        (collections.abc.Sequence[int], int),
        (tuple[int, str], UNKNOWN),
        (list, UNKNOWN),
        (dict[str, int], UNKNOWN),
        (int, UNKNOWN),
        (UNKNOWN, UNKNOWN),
    ],
)
def test_element_type(annotation: Any, element: Any) -> None:
    assert typecheck.element_type(annotation) == element


@pytest.mark.parametrize(
    ("annotation", "iterable"),
    [
        (list[int], True),
        (tuple, True),
        (UNKNOWN, True),
        (Any, True),
        (int, False),
        (str, False),
        (bytes, False),
        (dict, False),
        (dict[str, int], False),
    ],
)
def test_is_iterable_annotation(annotation: Any, iterable: bool) -> None:
    assert typecheck.is_iterable_annotation(annotation) is iterable


@pytest.mark.parametrize(
    ("annotation", "text"),
    [
        (int, "int"),
        (Child, "Child"),
        (list[int], "list[int]"),
        (Optional[int], "Optional[int]"),  # noqa: UP045
        (int | None, "int | None"),
        (Literal["a"], "Literal['a']"),
    ],
)
def test_describe(annotation: Any, text: str) -> None:
    assert typecheck.describe(annotation) == text
