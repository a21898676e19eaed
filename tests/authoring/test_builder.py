"""Building graphs from pipeline functions: nodes, arguments, fan-out, conditions, order,
and the validation that reports every problem together with its file and line."""

from __future__ import annotations

import inspect
import re
import sys
from typing import Any, NamedTuple

import pytest

from cadencia import pipeline, step, unless, when
from cadencia.authoring.graph import Collect, Condition, Const, Graph, Ref
from cadencia.errors import DefinitionError, GraphError

HERE = re.escape(__file__)


def line_of(marker: str) -> int:
    """The line of this file that ends with the comment ``# <marker>``."""
    lines = inspect.getsource(sys.modules[__name__]).splitlines()
    matches = [n for n, text in enumerate(lines, 1) if text.rstrip().endswith(f"# {marker}")]
    assert len(matches) == 1, marker
    return matches[0]


@step
def add_one(x: int) -> int:
    return x + 1


@step
def total(values: list[int]) -> int:
    return sum(values)


@step
def numbers(n: int) -> list[int]:
    return list(range(n))


@step
def scale(value: int, factor: int) -> int:
    return value * factor


@step
def is_good(value: int) -> bool:
    return value > 0


@step
def label(value: int) -> str:
    return str(value)


@step
def shout(text: str) -> str:
    return text.upper()


@step
def anything(value):  # type: ignore[no-untyped-def]
    return value


class Split(NamedTuple):
    train: list[int]
    test: str


@step
def split(values: list[int]) -> Split:
    return Split(values[:-1], str(values[-1]))


def build(fn: Any, **params: Any) -> Graph:
    return pipeline(fn).build(**params)


def problems(fn: Any) -> list[str]:
    with pytest.raises(GraphError) as caught:
        build(fn)
    return [problem.render() for problem in caught.value.problems]


# -- nodes and their names -------------------------------------------------------------


def test_repeated_calls_get_numbered_node_names() -> None:
    def flow() -> None:
        a = add_one(1)
        b = add_one(a)
        add_one(b)
        label(a)

    graph = build(flow)
    assert list(graph.nodes) == ["add_one", "add_one_2", "add_one_3", "label"]
    assert graph.nodes["add_one"].args == {"x": Const(1)}
    assert graph.nodes["add_one_2"].args == {"x": Ref("add_one")}
    assert graph.nodes["label"].args == {"value": Ref("add_one")}
    assert graph.nodes["add_one_3"].step is add_one


def test_an_explicit_name_is_kept_and_skipped_by_numbering() -> None:
    def flow() -> None:
        add_one.named("add_one_2")(1)
        add_one(2)
        add_one(3)

    assert list(build(flow).nodes) == ["add_one_2", "add_one", "add_one_3"]


def test_a_duplicate_explicit_name_is_an_error_naming_both_calls() -> None:
    def flow() -> None:
        add_one.named("first")(1)  # first-call
        add_one.named("first")(2)  # second-call

    (found,) = problems(flow)
    assert found == (
        f"{__file__}:{line_of('second-call')}: step 'first': the name 'first' is already used "
        f"by the step called at {__file__}:{line_of('first-call')}; give each named call its "
        "own name"
    )


def test_call_sites_record_file_and_line() -> None:
    def flow() -> None:
        add_one(1)  # call-site

    node = build(flow).nodes["add_one"]
    assert (node.call_site.file, node.call_site.line) == (__file__, line_of("call-site"))


def test_keyword_and_positional_arguments_bind_to_parameters() -> None:
    def flow() -> None:
        scale(2, factor=3)
        scale(factor=4, value=add_one(1))

    graph = build(flow)
    assert graph.nodes["scale"].args == {"value": Const(2), "factor": Const(3)}
    assert graph.nodes["scale_2"].args == {"value": Ref("add_one"), "factor": Const(4)}


def test_pipeline_parameters_become_constants() -> None:
    def flow(n: int = 2) -> None:
        add_one(n)

    assert build(flow, n=7).nodes["add_one"].args == {"x": Const(7)}


def test_a_call_that_does_not_bind_is_reported() -> None:
    def flow() -> None:
        add_one(1, 2)

    (found,) = problems(flow)
    assert found.endswith(
        "step 'add_one': cannot call step 'add_one' this way: too many positional arguments"
    )


def test_var_args_steps_are_refused() -> None:
    @step
    def loose(*values: int) -> int:
        return sum(values)

    def flow() -> None:
        loose(1, 2)

    (found,) = problems(flow)
    assert found.endswith(
        "step 'loose': parameter 'values' is *args/**kwargs; steps need named "
        "parameters so that each input can be stored and cached"
    )


# -- several outputs -------------------------------------------------------------------


def test_named_outputs_are_consumed_separately() -> None:
    def flow() -> None:
        parts = split(numbers(4))
        total(parts.train)
        shout(parts["test"])
        train, _ = parts
        total(train)
        label(len(parts))
        shout(parts[1])

    graph = build(flow)
    assert graph.nodes["total"].args == {"values": Ref("split", "train")}
    assert graph.nodes["shout"].args == {"text": Ref("split", "test")}
    assert graph.nodes["total_2"].args == {"values": Ref("split", "train")}
    assert graph.nodes["label"].args == {"value": Const(2)}
    assert graph.nodes["shout_2"].args == {"text": Ref("split", "test")}
    assert graph.nodes["split"].output_names == ("train", "test")


def test_an_unknown_output_name_lists_the_outputs() -> None:
    def flow() -> None:
        split(numbers(3)).valid  # noqa: B018

    with pytest.raises(
        DefinitionError, match="step 'split' has no output 'valid'; its outputs are train, test"
    ):
        build(flow)


def test_passing_all_outputs_as_one_argument_is_an_error() -> None:
    def flow() -> None:
        total(split(numbers(3)))

    (found,) = problems(flow)
    assert found.endswith(
        "argument 'values' receives all outputs of step 'split' (train, "
        "test); pass one of them, e.g. split.train"
    )


# -- fan-in and fan-out ----------------------------------------------------------------


def test_a_list_of_handles_is_collected_fan_in() -> None:
    def flow() -> None:
        a, b = add_one(1), add_one(2)
        total([a, 5, b])
        total((a, b))

    graph = build(flow)
    assert graph.nodes["total"].args == {
        "values": Collect((Ref("add_one"), Const(5), Ref("add_one_2")))
    }
    assert graph.nodes["total_2"].args["values"] == Collect(
        (Ref("add_one"), Ref("add_one_2")), as_tuple=True
    )
    assert graph.nodes["total"].upstream() == {"add_one", "add_one_2"}


def test_map_over_a_known_list_expands_at_build_time() -> None:
    def flow() -> None:
        results = scale.map([1, 2, 3], factor=10)
        total(results)

    graph = build(flow)
    assert list(graph.nodes) == ["scale", "scale_2", "scale_3", "total"]
    assert all(not node.is_fan_out for node in graph)
    assert graph.nodes["scale_3"].args == {"value": Const(3), "factor": Const(10)}
    assert graph.nodes["total"].args["values"] == Collect(
        (Ref("scale"), Ref("scale_2"), Ref("scale_3"))
    )


def test_map_over_a_step_output_fans_out_at_run_time() -> None:
    def flow() -> None:
        values = numbers(3)
        scaled = scale.map(values, factor=add_one(1))
        total(scaled)

    graph = build(flow)
    node = graph.nodes["scale"]
    assert node.is_fan_out and node.mapped == {"value"}
    assert node.args == {"value": Ref("numbers"), "factor": Ref("add_one")}
    assert graph.nodes["total"].args == {"values": Ref("scale")}
    assert graph.mapped_outputs() == {"numbers": {"return"}}


def test_map_keyword_arguments_are_fixed_wherever_they_are_declared() -> None:
    def flow() -> None:
        scale.map(numbers(2), value=3)

    node = build(flow).nodes["scale"]
    assert node.mapped == {"factor"}


def test_map_checks_the_element_type() -> None:
    def flow() -> None:
        shout.map(numbers(3))  # element-mismatch

    (found,) = problems(flow)
    assert found == (
        f"{__file__}:{line_of('element-mismatch')}: step 'shout': argument 'text' is declared "
        "str but receives step 'numbers' output, declared int"
    )


def test_map_over_something_that_is_not_a_list_is_an_error() -> None:
    def flow() -> None:
        add_one.map(add_one(1))

    (found,) = problems(flow)
    assert found.endswith(
        "argument 'x' maps over step 'add_one', whose output is declared int, which is not a list"
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: add_one.map(), r"add_one\.map\(\) needs at least one iterable to map over"),
        (
            lambda: add_one.map([1], [2]),
            r"add_one\.map\(\) got 2 iterables but the step has fewer parameters",
        ),
        (
            lambda: scale.map([1, 2], [1]),
            r"scale\.map\(\): zip\(\) argument 2 is shorter than argument 1",
        ),
        (
            lambda: scale.map(numbers(2), [1, 2]),
            r"scale\.map\(\) mixes step outputs with lists known at build time",
        ),
    ],
    ids=["no-iterable", "too-many", "unequal-lengths", "mixed"],
)
def test_map_misuse_is_reported(call: Any, message: str) -> None:
    def flow() -> None:
        call()

    found = problems(flow)
    assert any(re.search(message, text) for text in found), found


def test_map_results_feed_a_map_over_a_fan_out() -> None:
    def flow() -> None:
        first = add_one.map(numbers(3))
        second = add_one.map(first)
        total(second)

    graph = build(flow)
    assert graph.nodes["add_one_2"].args == {"x": Ref("add_one")}
    assert graph.mapped_outputs() == {"numbers": {"return"}}


# -- conditions ------------------------------------------------------------------------


def test_when_and_unless_attach_conditions_to_steps_in_the_block() -> None:
    def flow() -> None:
        good = is_good(add_one(1))
        with when(good):
            deploy = label(1)
            with unless(is_good(2)):
                shout("nested")
        with unless(good):
            shout("alert")
        total([1])
        shout(deploy)

    graph = build(flow)
    assert graph.nodes["label"].conditions == (Condition(Ref("is_good"), True),)
    assert graph.nodes["shout"].conditions == (
        Condition(Ref("is_good"), True),
        Condition(Ref("is_good_2"), False),
    )
    assert graph.nodes["shout_2"].conditions == (Condition(Ref("is_good"), False),)
    assert graph.nodes["total"].conditions == ()
    assert graph.nodes["shout_3"].conditions == ()
    assert "is_good" in graph.nodes["label"].upstream()


def test_a_condition_must_be_a_bool_output() -> None:
    def flow() -> None:
        with when(add_one(1)):  # not-bool
            label(1)

    (found,) = problems(flow)
    assert found == (
        f"{__file__}:{line_of('not-bool')}: step 'add_one': when()/unless() needs a bool "
        "output, but step 'add_one' is declared to return int"
    )


def test_a_condition_on_a_constant_or_fan_out_is_an_error() -> None:
    def flow() -> None:
        with when(True):
            label(1)
        with unless(is_good.map(numbers(2))):
            label(2)

    found = problems(flow)
    assert len(found) == 2
    assert "when()/unless() needs the single output of a step, got True" in found[0]
    assert (
        "when()/unless() needs the single output of a step, got <output of step is_good>"
        in (found[1])
    )


def test_when_outside_a_pipeline_is_a_definition_error() -> None:
    with (
        pytest.raises(
            DefinitionError,
            match=rf"{HERE}:\d+: when\(\) can only be used inside a @pipeline function",
        ),
        when(True),
    ):
        pass


# -- ordering --------------------------------------------------------------------------


def test_after_and_rshift_add_order_edges_without_data() -> None:
    def flow() -> None:
        a = add_one(1)
        b = add_one(2)
        c = add_one(3)
        d = add_one(4)
        e = add_one(5)
        b.after(a)
        a >> c >> d
        [a, b] >> e
        e >> [c, d]

    graph = build(flow)
    assert graph.nodes["add_one_2"].after == {"add_one"}
    assert graph.nodes["add_one_3"].after == {"add_one", "add_one_5"}
    assert graph.nodes["add_one_4"].after == {"add_one_3", "add_one_5"}
    assert graph.nodes["add_one_5"].after == {"add_one", "add_one_2"}
    assert all(node.args["x"] != Ref("add_one") for node in graph)


def test_after_needs_handles() -> None:
    def flow() -> None:
        add_one(1).after("add_one")

    (found,) = problems(flow)
    assert found.endswith("step 'add_one': after() needs step outputs, got 'add_one'")


def test_rshift_needs_handles_on_both_sides() -> None:
    def flow() -> None:
        add_one(1) >> "other"

    with pytest.raises(DefinitionError, match=r"'>>' needs step outputs on both sides"):
        build(flow)


def test_a_cycle_is_reported_with_every_step_file_and_line() -> None:
    def flow() -> None:
        a = add_one(1)  # cycle-a
        b = add_one(a)  # cycle-b
        c = add_one(b)  # cycle-c
        add_one(10)
        a.after(c)

    (found,) = problems(flow)
    a, b, c = (f"{__file__}:{line_of(f'cycle-{x}')}" for x in "abc")
    assert found == (
        f"{a}: step 'add_one': the steps form a cycle: add_one -> add_one_2 -> add_one_3 -> "
        f"add_one (add_one called at {a}; add_one_2 called at {b}; add_one_3 called at {c}). "
        "Remove one of the after()/'>>' orderings so that the pipeline is acyclic"
    )


# -- types -----------------------------------------------------------------------------


def test_an_upstream_return_type_that_does_not_fit_is_reported() -> None:
    def flow() -> None:
        shout(add_one(1))  # int-to-str

    (found,) = problems(flow)
    assert found == (
        f"{__file__}:{line_of('int-to-str')}: step 'shout': argument 'text' is declared str "
        "but receives step 'add_one' output, declared int"
    )


def test_compatible_and_unknown_types_pass() -> None:
    @step
    def mean(value: float) -> float:
        return value

    def flow() -> None:
        mean(add_one(1))  # int where float is declared
        anything(add_one(1))  # no annotation: not checked
        add_one(anything(1))
        total(numbers(3))
        total([add_one(1), 2])

    assert len(build(flow)) == 10


def test_a_constant_of_the_wrong_type_is_reported() -> None:
    def flow() -> None:
        add_one("one")  # bad-constant
        add_one(True)
        total([add_one(1), "two"])

    found = problems(flow)
    assert found == [
        f"{__file__}:{line_of('bad-constant')}: step 'add_one': argument 'x' is declared int "
        "but receives str 'one'",
        f"{__file__}:{line_of('bad-constant') + 1}: step 'add_one_2': argument 'x' is declared "
        "int but receives bool True",
        f"{__file__}:{line_of('bad-constant') + 2}: step 'total': argument 'values' holds str "
        "'two', but its items are declared int",
    ]


def test_an_item_of_a_collected_list_is_type_checked() -> None:
    def flow() -> None:
        total([add_one(1), label(1)])

    (found,) = problems(flow)
    assert found.endswith(
        "step 'total': argument 'values' holds step 'label' output, declared "
        "str, but its items are declared int"
    )


# -- handles have no value at build time -----------------------------------------------


def test_a_handle_in_if_is_a_clear_error() -> None:
    def flow() -> None:
        good = is_good(1)
        if good:  # in-if
            label(1)

    with pytest.raises(
        DefinitionError,
        match=rf"^{HERE}:{line_of('in-if')}: the output of step 'is_good' has no value while "
        r"the pipeline is being built, so it cannot be used in 'if'.*"
        r"with cadencia\.when\(is_good_output\)",
    ):
        build(flow)


def test_iterating_a_handle_is_a_clear_error() -> None:
    def flow() -> None:
        for value in numbers(3):  # iterate
            add_one(value)

    with pytest.raises(
        DefinitionError,
        match=rf"^{HERE}:{line_of('iterate')}: the output of step 'numbers' cannot be iterated "
        r"while the pipeline is being built.*use 'other_step\.map\(output\)'",
    ):
        build(flow)


def test_the_length_of_a_handle_is_a_clear_error() -> None:
    def flow() -> None:
        add_one(len(numbers(3)))  # length

    with pytest.raises(
        DefinitionError,
        match=rf"^{HERE}:{line_of('length')}: the length of step 'numbers''s output is known "
        "only at run time",
    ):
        build(flow)


def test_several_outputs_in_if_is_a_clear_error() -> None:
    def flow() -> None:
        if split(numbers(2)):  # outputs-if
            pass

    with pytest.raises(
        DefinitionError,
        match=rf"^{HERE}:{line_of('outputs-if')}: the outputs of step 'split' have no value",
    ):
        build(flow)


# -- every problem together ------------------------------------------------------------


def test_every_problem_is_reported_together() -> None:
    def flow() -> None:
        a = add_one("x")
        shout(a)
        with when(a):
            total(5)
        add_one.named("a")(1)
        add_one.named("a")(2)

    with pytest.raises(GraphError) as caught:
        build(flow)
    error = caught.value
    assert error.pipeline_name == "flow"
    assert len(error.problems) == 5
    assert str(error).startswith("pipeline 'flow' has 5 problems:\n  - ")
    assert str(error).count(f"\n  - {__file__}:") == 5
    assert [p.step_name for p in error.problems] == ["add_one", "shout", "add_one", "total", "a"]
    assert all(p.file == __file__ and p.line for p in error.problems)
