"""``@step``: option validation, variants, multi-outputs, and calls outside a pipeline."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from cadencia import Step, step
from cadencia.authoring.graph import RETURN
from cadencia.authoring.options import OPTION_NAMES, StepOptions, make_options
from cadencia.errors import DefinitionError


@step
def add_one(x: int) -> int:
    return x + 1


class Split(NamedTuple):
    train: list[int]
    test: str


@step
def split(values: list[int]) -> Split:
    return Split(values[:-1], str(values[-1]))


@step(outputs=("low", "high"))
def bounds(values: list[int]) -> tuple[int, float]:
    return min(values), float(max(values))


# -- the decorator -------------------------------------------------------------------


def test_bare_step_records_a_spec_and_keeps_the_function() -> None:
    assert isinstance(add_one, Step)
    assert add_one.name == "add_one"
    assert add_one.options == StepOptions()
    assert add_one.__doc__ is None and add_one.__name__ == "add_one"
    assert add_one.defined_at.file == __file__
    assert add_one.output_names == (RETURN,)
    assert add_one.output_types == {RETURN: int}


def test_called_outside_a_pipeline_a_step_is_the_plain_function() -> None:
    assert add_one(1) == 2
    assert split([1, 2, 3]) == Split([1, 2], "3")
    assert add_one.map([1, 2, 3]) == [2, 3, 4]


def test_map_outside_a_pipeline_fixes_keyword_arguments() -> None:
    @step
    def scale(value: int, factor: int) -> int:
        return value * factor

    assert scale.map([1, 2], factor=10) == [10, 20]
    assert scale.map([1, 2], [3, 4]) == [3, 8]
    with pytest.raises(DefinitionError, match=r"scale\.map\(\) needs one iterable per parameter"):
        scale.map()


def test_step_options_are_recorded() -> None:
    @step(retries=2, retry_delay=0.5, timeout=30, cache=False, pickle=True)
    def work() -> None:
        return None

    assert work.options.retries == 2
    assert work.options.retry_delay == 0.5
    assert work.options.timeout == 30
    assert work.options.cache is False
    assert work.options.pickle is True


def test_options_with_a_bare_function_are_refused() -> None:
    def work() -> None:
        return None

    with pytest.raises(DefinitionError, match=r"use @step\(\.\.\.\) with keyword options only"):
        step(work, retries=1)  # type: ignore[call-overload]


def test_step_decorates_functions_only() -> None:
    with pytest.raises(DefinitionError, match=r"test_step\.py:\d+: @step decorates functions"):

        @step
        class NotAFunction:
            pass


@pytest.mark.parametrize(
    "define",
    [
        "async def work() -> int:\n    return 1",
        "def work():\n    yield 1",
    ],
    ids=["coroutine", "generator"],
)
def test_coroutines_and_generators_are_refused(define: str) -> None:
    namespace: dict[str, object] = {}
    exec(define, namespace)
    with pytest.raises(DefinitionError, match="is a coroutine or generator function"):
        step(namespace["work"])  # type: ignore[call-overload]


# -- option validation ---------------------------------------------------------------


def test_an_unknown_option_lists_the_valid_ones() -> None:
    with pytest.raises(DefinitionError) as caught:

        @step(retry=3)
        def work() -> None:
            return None

    message = str(caught.value)
    assert re.search(r"test_step\.py:\d+: unknown step option 'retry'", message)
    assert "Valid options are: " + ", ".join(OPTION_NAMES) + "." in message
    assert "retries" in OPTION_NAMES


def test_several_unknown_options_are_named_together() -> None:
    with pytest.raises(DefinitionError, match=r"unknown step option 'retires', 'timout'\."):
        make_options({"timout": 1, "retires": 2})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, r"retries=-1 is invalid: it must be a whole number, 0 or more"),
        ({"retries": 1.5}, r"retries=1\.5 is invalid: it must be a whole number"),
        ({"retries": True}, r"retries=True is invalid: it must be a whole number"),
        ({"retry_delay": "1s"}, r"retry_delay='1s' is invalid: it must be a number"),
        ({"retry_delay": -0.1}, r"retry_delay=-0\.1 is invalid: it must be at least 0"),
        ({"backoff": 0.5}, r"backoff=0\.5 is invalid: it must be at least 1"),
        ({"max_retry_delay": -1}, r"max_retry_delay=-1 is invalid: it must be at least 0"),
        ({"timeout": 0}, r"timeout=0 is invalid: it must be greater than 0"),
        ({"timeout": True}, r"timeout=True is invalid: it must be a number"),
        ({"jitter": 1.5}, r"jitter=1\.5 is invalid: it must be a fraction between 0 and 1"),
        ({"cache": "yes"}, r"cache='yes' is invalid: it must be True or False"),
        ({"pickle": 1}, r"pickle=1 is invalid: it must be True or False"),
        ({"on_failure": "alert"}, r"on_failure='alert' is invalid: it must be a callable"),
        ({"on_success": 3}, r"on_success=3 is invalid: it must be a callable"),
        ({"name": "my step"}, r"name='my step' is invalid: it must be a Python identifier"),
        ({"name": "class"}, r"name='class' is invalid: it must be a Python identifier"),
        ({"outputs": "ab"}, r"outputs='ab' is invalid: it must be a sequence of identifiers"),
        (
            {"outputs": ("a", "1b")},
            r"outputs=\('a', '1b'\) is invalid: it must be a sequence of identifiers",
        ),
        ({"outputs": ("a",)}, r"outputs=\('a',\) is invalid: it needs two or more distinct"),
        ({"outputs": ("a", "a")}, r"outputs=\('a', 'a'\) is invalid: it needs two or more"),
        ({"cache_version": 2}, r"cache_version=2 is invalid: it must be a string"),
    ],
)
def test_bad_option_values_name_the_value_and_the_rule(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(DefinitionError, match=r"test_step\.py:\d+: step option " + message):

        @step(**options)
        def work() -> None:
            return None


def test_valid_edge_values_are_accepted() -> None:
    options = make_options(
        {"retries": 0, "retry_delay": 0, "backoff": 1, "jitter": 0, "timeout": 0.01}
    )
    assert options.timeout == 0.01
    assert make_options({"outputs": ["a", "b"]}).outputs == ("a", "b")


@pytest.mark.parametrize(
    ("retry_number", "expected"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0)]
)
def test_retry_wait_grows_exponentially_up_to_the_cap(retry_number: int, expected: float) -> None:
    options = StepOptions(retry_delay=1.0, backoff=2.0, jitter=0.0, max_retry_delay=10.0)
    assert options.retry_wait(retry_number, 0.5) == expected


def test_retry_wait_jitter_spreads_around_the_base() -> None:
    options = StepOptions(retry_delay=2.0, backoff=1.0, jitter=0.25)
    assert options.retry_wait(1, 0.0) == pytest.approx(1.5)
    assert options.retry_wait(1, 0.5) == pytest.approx(2.0)
    assert options.retry_wait(1, 0.999999) == pytest.approx(2.5, abs=1e-5)


# -- variants ------------------------------------------------------------------------


def test_named_returns_a_renamed_copy() -> None:
    renamed = add_one.named("increment")
    assert renamed.name == "increment"
    assert renamed.options.name == "increment"
    assert add_one.name == "add_one"
    assert renamed.fn is add_one.fn
    assert renamed.code_hash == add_one.code_hash
    assert renamed(4) == 5


def test_with_options_keeps_the_explicit_options_and_validates_new_ones() -> None:
    @step(retries=3, timeout=5)
    def work() -> int:
        return 1

    changed = work.with_options(timeout=10)
    assert (changed.options.retries, changed.options.timeout) == (3, 10)
    assert (work.options.retries, work.options.timeout) == (3, 5)
    with pytest.raises(DefinitionError, match=r"test_step\.py:\d+: unknown step option 'retry'"):
        work.with_options(retry=1)
    with pytest.raises(DefinitionError, match="name='two words' is invalid"):
        work.named("two words")


def test_cache_version_replaces_the_source_in_the_code_hash() -> None:
    @step(cache_version="v1")
    def first() -> int:
        return 1

    @step(cache_version="v1")
    def second() -> int:
        return 2

    @step
    def third() -> int:
        return 3

    assert first.code_hash == second.code_hash
    assert third.code_hash != first.code_hash
    assert first.with_options(cache_version="v2").code_hash != first.code_hash


# -- several outputs -----------------------------------------------------------------


def test_a_named_tuple_return_declares_named_outputs_with_types() -> None:
    assert split.output_names == ("train", "test")
    assert split.output_types == {"train": list[int], "test": str}


def test_outputs_option_names_the_elements_of_a_tuple_annotation() -> None:
    assert bounds.output_names == ("low", "high")
    assert bounds.output_types == {"low": int, "high": float}
    assert bounds([3, 1, 2]) == (1, 3.0)


def test_outputs_option_without_a_matching_annotation_leaves_types_unknown() -> None:
    @step(outputs=("a", "b", "c"))
    def three() -> tuple[int, int]:
        return 1, 2

    assert three.output_types == {
        "a": three.signature.empty,
        "b": three.signature.empty,
        "c": three.signature.empty,
    }


def _fresh_step(source: str, path: Path) -> Any:
    namespace: dict[str, Any] = {}
    path.write_text(textwrap.dedent(source))
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace["compute"]


CODE = """
from cadencia import step

@step
def compute(x: int) -> int:
    '''Doubles.'''
    return x * 2
"""


@pytest.mark.parametrize(
    ("edited", "same"),
    [
        (CODE.replace("@step", "@step(retries=3)"), True),
        (CODE.replace("'''Doubles.'''", "'''Twice the input.'''"), True),
        (CODE.replace("    return x * 2", "    # a comment\n    return x  *  2"), True),
        (CODE.replace("return x * 2", "return x * 3"), False),
        (CODE.replace("x: int", "x: float"), False),
    ],
    ids=["decorator", "docstring", "comment-and-spacing", "logic", "annotation"],
)
def test_the_code_hash_follows_what_the_step_computes(
    edited: str, same: bool, tmp_path: Path
) -> None:
    before = _fresh_step(CODE, tmp_path / "before.py")
    after = _fresh_step(edited, tmp_path / "after.py")
    assert (before.code_hash == after.code_hash) is same
