"""Pipeline parameters: typed by annotations, parsed from CLI text, checked from Python,
and stored as JSON for fresh processes."""

from __future__ import annotations

import datetime as dt
import enum
import inspect
import json
from pathlib import Path
from typing import Any, Literal, Optional

import pytest

from cadencia import pipeline, step
from cadencia.authoring import params
from cadencia.errors import ParameterError


class Color(enum.Enum):
    RED = "r"
    BLUE = "b"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


def every_kind(
    count: int,
    rate: float = 0.5,
    verbose: bool = False,
    name: str = "x",
    day: dt.date = dt.date(2013, 1, 1),
    moment: dt.datetime = dt.datetime(2013, 1, 1, 6, 0),
    folder: Path = Path("data"),
    color: Color = Color.RED,
    level: Level = Level.LOW,
    mode: Literal["fast", "slow"] = "fast",
    limit: Optional[int] = None,  # noqa: UP045 - the typing spelling is what users write too
    cutoff: float | None = None,
    months: list[int] = [1],  # noqa: B006 - never mutated
    pair: tuple[int, str] = (1, "a"),
    sizes: tuple[int, ...] = (),
    options: dict[str, int] = {},  # noqa: B006
    untyped=3,
    loose: list = [],  # noqa: B006
) -> None:
    return None


SPECS = params.param_specs(every_kind)


def test_specs_come_from_annotations_and_defaults() -> None:
    assert SPECS["count"].required and SPECS["count"].annotation is int
    assert not SPECS["rate"].required and SPECS["rate"].default == 0.5
    assert SPECS["untyped"].annotation is int  # from the default's type
    assert {name: spec.type_name for name, spec in SPECS.items()} == {
        "count": "int",
        "rate": "float",
        "verbose": "bool",
        "name": "str",
        "day": "date",
        "moment": "datetime",
        "folder": "Path",
        "color": "Color",
        "level": "Level",
        "mode": "Literal['fast', 'slow']",
        "limit": "Optional[int]",
        "cutoff": "float | None",
        "months": "list[int]",
        "pair": "tuple[int, str]",
        "sizes": "tuple[int, ...]",
        "options": "dict[str, int]",
        "untyped": "int",
        "loose": "list",
    }


def test_a_parameter_without_annotation_or_default_accepts_anything() -> None:
    def fn(value, other=None) -> None:  # type: ignore[no-untyped-def]
        return None

    specs = params.param_specs(fn)
    assert specs["value"].annotation is inspect.Parameter.empty
    assert specs["value"].type_name == "any"
    assert specs["other"].annotation is inspect.Parameter.empty
    assert params.resolve(specs, {"value": "text"}, from_text=True) == {
        "value": "text",
        "other": None,
    }


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("count", "5", 5),
        ("count", "-3", -3),
        ("rate", "2.5", 2.5),
        ("rate", "3", 3.0),
        ("verbose", "yes", True),
        ("verbose", "TRUE", True),
        ("verbose", "1", True),
        ("verbose", "off", False),
        ("verbose", "n", False),
        ("name", "hello world", "hello world"),
        ("day", "2013-02-01", dt.date(2013, 2, 1)),
        ("moment", "2013-02-01T07:30", dt.datetime(2013, 2, 1, 7, 30)),
        ("folder", "/x/y", Path("/x/y")),
        ("color", "BLUE", Color.BLUE),
        ("color", "b", Color.BLUE),
        ("level", "HIGH", Level.HIGH),
        ("level", "2", Level.HIGH),
        ("mode", "slow", "slow"),
        ("limit", "none", None),
        ("limit", "", None),
        ("limit", "4", 4),
        ("cutoff", "null", None),
        ("cutoff", "0.25", 0.25),
        ("months", "1,2, 3", [1, 2, 3]),
        ("months", "[4, 5]", [4, 5]),
        ("months", "", []),
        ("pair", "3,b", (3, "b")),
        ("pair", '[3, "b"]', (3, "b")),
        ("sizes", "1,2", (1, 2)),
        ("options", '{"a": 1}', {"a": 1}),
        ("untyped", "7", 7),
        ("loose", "a,b", ["a", "b"]),
        ("loose", '[1, "b"]', [1, "b"]),
    ],
)
def test_parsing_command_line_text(name: str, text: str, expected: Any) -> None:
    value = params.parse(text, SPECS[name].annotation)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("count", "five", "must be an integer, got 'five'"),
        ("count", "2.5", "must be an integer, got '2.5'"),
        ("rate", "fast", "must be a number, got 'fast'"),
        ("verbose", "maybe", "must be true or false, got 'maybe'"),
        ("day", "31/01/2013", "must be a date like 2013-01-31, got '31/01/2013'"),
        ("moment", "yesterday", "must be a datetime like 2013-01-31T06:00, got 'yesterday'"),
        ("color", "GREEN", r"must be one of \['RED', 'BLUE'\], got 'GREEN'"),
        ("mode", "medium", r"must be one of \['fast', 'slow'\], got 'medium'"),
        ("limit", "lots", r"must be Optional\[int\], got 'lots'"),
        ("months", "1,x", "must be an integer, got 'x'"),
        ("months", "[1,", "must be a JSON list or comma-separated values"),
        ("months", "[1, true]", r"must be int, got bool True"),
        ("pair", "1,b,c", r"must be 2 comma-separated values \(tuple\[int, str\]\), got '1,b,c'"),
        ("pair", "x,b", "must be an integer, got 'x'"),
        ("options", '{"a": "one"}', r"must be dict\[str, int\], got dict"),
    ],
)
def test_bad_command_line_text_names_the_rule(name: str, text: str, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        params.parse(text, SPECS[name].annotation)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("count", 3),
        ("rate", 1.5),
        ("verbose", True),
        ("day", dt.date(2013, 5, 1)),
        ("folder", Path("p")),
        ("color", Color.BLUE),
        ("mode", "slow"),
        ("limit", None),
        ("limit", 9),
        ("months", [1, 2]),
        ("pair", (2, "z")),
        ("sizes", (1, 2, 3)),
    ],
)
def test_python_values_of_the_right_type_are_accepted(name: str, value: Any) -> None:
    assert params.check(value, SPECS[name].annotation) == value


def test_an_int_for_a_float_becomes_a_float() -> None:
    value = params.check(2, float)
    assert value == 2.0 and type(value) is float


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("count", "3", "must be int, got str '3'"),
        ("count", True, "must be int, got bool True"),
        ("count", 2.0, "must be int, got float 2.0"),
        ("rate", "0.5", "must be float, got str '0.5'"),
        ("rate", False, "must be float, got bool False"),
        ("verbose", 1, "must be bool, got int 1"),
        ("color", "RED", "must be Color, got str 'RED'"),
        ("mode", "medium", r"must be Literal\['fast', 'slow'\], got str 'medium'"),
        ("limit", 2.5, r"must be Optional\[int\], got float 2.5"),
        ("months", [1, "2"], r"must be list\[int\], got list \[1, '2'\]"),
        ("months", (1, 2), r"must be list\[int\], got tuple \(1, 2\)"),
        ("pair", (1, 2), r"must be tuple\[int, str\], got tuple \(1, 2\)"),
        ("pair", (1, "a", "b"), r"must be tuple\[int, str\], got tuple"),
        ("sizes", (1, "2"), r"must be tuple\[int, \.\.\.\], got tuple"),
    ],
)
def test_python_values_of_the_wrong_type_are_refused(name: str, value: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        params.check(value, SPECS[name].annotation)


def test_literal_choices_keep_their_types() -> None:
    assert params.check(1, Literal[1, 2]) == 1
    with pytest.raises(TypeError, match="must be Literal"):
        params.check(True, Literal[1, 2])
    with pytest.raises(TypeError, match="must be Literal"):
        params.check("1", Literal[1, 2])
    assert params.parse("2", Literal[1, 2]) == 2


# -- resolve: every problem in one error -----------------------------------------------


def test_resolve_fills_defaults() -> None:
    values = params.resolve(SPECS, {"count": 1})
    assert values["count"] == 1
    assert values["rate"] == 0.5 and values["pair"] == (1, "a")
    assert list(values) == list(SPECS)


def test_resolve_reports_unknown_missing_and_wrong_parameters_together() -> None:
    with pytest.raises(ParameterError) as caught:
        params.resolve(
            SPECS, {"cuont": "1", "rate": "fast", "mode": "x"}, from_text=True, pipeline_name="p"
        )
    assert str(caught.value) == (
        "pipeline 'p': unknown parameter 'cuont'; this pipeline's parameters are: "
        + ", ".join(SPECS)
        + "; parameter 'count' (int) is required; pass it with -p count=VALUE or as a keyword "
        "argument; parameter 'rate' must be a number, got 'fast'; parameter 'mode' must be one "
        "of ['fast', 'slow'], got 'x'"
    )
    assert caught.value.exit_code == 2


def test_a_pipeline_without_parameters_says_so() -> None:
    with pytest.raises(
        ParameterError, match="unknown parameter 'n'; this pipeline's parameters are: none"
    ):
        params.resolve({}, {"n": 1})


def test_pipeline_resolve_params_from_text() -> None:
    @step
    def use(day: dt.date) -> str:
        return day.isoformat()

    @pipeline
    def flow(day: dt.date, months: list[int] = [1]) -> None:  # noqa: B006
        use(day)

    assert flow.resolve_params({"day": "2013-03-01", "months": "2,3"}, from_text=True) == {
        "day": dt.date(2013, 3, 1),
        "months": [2, 3],
    }
    with pytest.raises(ParameterError, match=r"pipeline 'flow': parameter 'day' must be date"):
        flow.build(day="2013-03-01")


# -- JSON round trip -------------------------------------------------------------------


def test_to_json_and_from_json_round_trip_every_kind() -> None:
    values = params.resolve(
        SPECS,
        {
            "count": 2,
            "day": dt.date(2013, 7, 4),
            "moment": dt.datetime(2013, 7, 4, 12, 30, 15),
            "folder": Path("/data/x"),
            "color": Color.BLUE,
            "level": Level.HIGH,
            "mode": "slow",
            "limit": 10,
            "months": [3, 4],
            "pair": (5, "e"),
            "sizes": (7, 8),
            "options": {"k": 1},
        },
    )
    stored = json.loads(json.dumps(params.to_json(values)))
    assert stored["day"] == "2013-07-04"
    assert stored["moment"] == "2013-07-04T12:30:15"
    assert stored["folder"] == "/data/x"
    assert stored["color"] == "BLUE" and stored["level"] == "HIGH"
    assert stored["pair"] == [5, "e"]
    restored = params.from_json(stored, SPECS)
    assert restored == values
    assert {name: type(value) for name, value in restored.items()} == {
        name: type(value) for name, value in values.items()
    }


def test_from_json_keeps_values_of_parameters_it_does_not_know() -> None:
    assert params.from_json({"gone": [1]}, SPECS) == {"gone": [1]}


def test_optional_dates_and_lists_of_dates_round_trip() -> None:
    def fn(
        when: dt.date | None = None,
        days: list[dt.date] = [dt.date(2013, 1, 1)],  # noqa: B006
    ) -> None:
        return None

    specs = params.param_specs(fn)
    for values in (
        {"when": None, "days": []},
        {"when": dt.date(2013, 2, 2), "days": [dt.date(2013, 3, 3), dt.date(2013, 4, 4)]},
    ):
        stored = json.loads(json.dumps(params.to_json(values)))
        assert params.from_json(stored, specs) == values
