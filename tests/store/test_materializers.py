"""Materializers: round trips of every built-in, lookup by type and MRO, plugins,
pickle only by opt-in, and the error for a type nothing stores."""

from __future__ import annotations

import math
import pickle
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cadencia.errors import MaterializationError
from cadencia.store.materializers import (
    Materializer,
    MaterializerRegistry,
    qualified_name,
    register_materializer,
    registry,
)
from cadencia.store.materializers.builtin import default_registry


def round_trip(value: Any, *, allow_pickle: bool = False, to_file: Path | None = None) -> Any:
    """Store ``value`` as the registry would, and load it back from the bytes."""
    materializer = registry.for_value(value, allow_pickle=allow_pickle)
    if to_file is not None:
        materializer.dump_to_file(value, str(to_file))
        data: Any = to_file.read_bytes()
    else:
        data = materializer.dump(value)
    return materializer.load(memoryview(bytes(memoryview(data))))


def chosen(value: Any, *, allow_pickle: bool = False) -> str:
    return registry.for_value(value, allow_pickle=allow_pickle).name


# -- JSON ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -(2**70),
        1.5,
        "",
        "héllo ✓",
        [],
        (),
        {},
        [1, "a", None, 2.5],
        (1, (2, (3,))),
        [(1, 2), [3, (4,)]],
        {"a": {"b": (1, [2, {"c": ()}])}},
        {1: "one", 2: "two"},
        {(1, "x"): [1], None: 0, True: "t", 2.5: "f"},
        {"__cadencia_tuple__": [1, 2]},
        {"__cadencia_dict__": "looks like a tag"},
        {"a": 1, 2: "mixed keys"},
        [float("inf"), float("-inf")],
    ],
    ids=repr,
)
def test_json_round_trips_keep_values_and_types(value: Any) -> None:
    assert chosen(value) == "json"
    back = round_trip(value)
    assert back == value
    assert repr(back) == repr(value)  # tuples stay tuples, int keys stay ints


def test_json_nan_round_trips() -> None:
    back = round_trip(float("nan"))
    assert isinstance(back, float) and math.isnan(back)
    nested = round_trip({"x": [float("nan"), 1.0]})
    assert math.isnan(nested["x"][0]) and nested["x"][1] == 1.0


def test_json_bytes_are_compact_and_deterministic() -> None:
    json_materializer = registry.get("json")
    assert json_materializer.dump({"b": 1, "a": [1, 2]}) == b'{"b":1,"a":[1,2]}'
    assert json_materializer.dump("é") == '"é"'.encode()
    assert json_materializer.dump((1,)) == json_materializer.dump((1,))


@pytest.mark.parametrize(
    "value",
    [{1, 2}, [object()], {"a": b"bytes inside"}, (1, {2}), Path("p")],
    ids=["set", "object-in-list", "bytes-in-dict", "set-in-tuple", "path"],
)
def test_values_json_cannot_hold_are_not_json(value: Any) -> None:
    assert not registry.get("json").can_save(value)
    with pytest.raises(MaterializationError, match="no materializer stores a value of type"):
        registry.for_value(value, allow_pickle=False)


# -- bytes -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [b"", b"\x00\xff" * 10, bytearray(b"mutable")])
def test_bytes_round_trip(value: bytes) -> None:
    assert chosen(value) == "bytes"
    back = round_trip(value)
    assert back == bytes(value) and type(back) is bytes


# -- NumPy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        np.arange(12, dtype=np.int32).reshape(3, 4),
        np.asfortranarray(np.random.default_rng(0).random((4, 3))),
        np.array(["a", "bb"]),
        np.zeros((0, 3)),
        np.array([1.0, np.nan, np.inf]),
        np.array([(1, 2.0)], dtype=[("i", "i4"), ("f", "f8")]),
        np.array(["2013-01-01"], dtype="datetime64[D]"),
        np.arange(10)[::2],
    ],
    ids=["int32-2d", "fortran", "unicode", "empty", "nan", "structured", "datetime", "strided"],
)
def test_numpy_arrays_round_trip(value: np.ndarray, tmp_path: Path) -> None:
    assert chosen(value) == "numpy"
    for back in (round_trip(value), round_trip(value, to_file=tmp_path / "a.npy")):
        assert type(back) is np.ndarray
        assert back.dtype == value.dtype and back.shape == value.shape
        np.testing.assert_array_equal(back, value)


@pytest.mark.parametrize(
    "value",
    [np.float32(1.5), np.int64(-3), np.bool_(True), np.datetime64("2013-01-01"), np.str_("s")],
    ids=repr,
)
def test_numpy_scalars_stay_scalars(value: np.generic) -> None:
    assert chosen(value) == "numpy"
    back = round_trip(value)
    assert type(back) is type(value) and back == value


def test_numpy_object_arrays_are_refused_unless_pickled() -> None:
    value = np.array([1, "a", None], dtype=object)
    with pytest.raises(
        MaterializationError,
        match=r"^no materializer stores a value of type numpy\.ndarray: its dtype holds Python "
        r"objects, which only pickle can store\. .*@step\(pickle=True\)",
    ):
        registry.for_value(value, allow_pickle=False)
    assert chosen(value, allow_pickle=True) == "pickle"
    assert list(round_trip(value, allow_pickle=True)) == [1, "a", None]


def test_numpy_load_never_unpickles() -> None:
    numpy_materializer = registry.get("numpy")
    forged = b"A" + pickle.dumps(np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        numpy_materializer.load(forged)


# -- pandas and Arrow ------------------------------------------------------------------


FRAMES = {
    "plain": pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, np.nan, 1.5]}),
    "named-index": pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index([10, 20], name="key")),
    "string-index": pd.DataFrame({"v": [1, 2]}, index=["p", "q"]),
    "multi-index": pd.DataFrame(
        {"v": [1, 2]}, index=pd.MultiIndex.from_tuples([(1, "a"), (2, "b")], names=["i", "j"])
    ),
    "int-columns": pd.DataFrame({0: [1], 1: [2]}),
    "dates": pd.DataFrame({"t": pd.to_datetime(["2013-01-01 00:00", "2013-06-30 12:00"])}),
    "empty": pd.DataFrame({"a": pd.Series([], dtype="int64")}),
    "category": pd.DataFrame({"c": pd.Categorical(["lo", "hi", "lo"])}),
    "ordered-category": pd.DataFrame(
        {"c": pd.Categorical(["lo", "hi"], categories=["hi", "mid", "lo"], ordered=True)}
    ),
}


@pytest.mark.parametrize("name", list(FRAMES))
def test_dataframes_round_trip_through_parquet(name: str, tmp_path: Path) -> None:
    frame = FRAMES[name]
    assert chosen(frame) == "parquet"
    for back in (round_trip(frame), round_trip(frame, to_file=tmp_path / "f.parquet")):
        assert type(back) is pd.DataFrame
        pd.testing.assert_frame_equal(back, frame)


SERIES = {
    "named": pd.Series([1.0, 2.0], name="score", index=["p", "q"]),
    "unnamed": pd.Series([1, 2, 3]),
    "int-name": pd.Series([True, False], name=7),
    "indexed": pd.Series(["a", "b"], index=pd.Index([5, 6], name="id"), name="letter"),
}


@pytest.mark.parametrize("name", list(SERIES))
def test_series_round_trip_with_name_and_index(name: str) -> None:
    series = SERIES[name]
    assert chosen(series) == "parquet"
    back = round_trip(series)
    assert type(back) is pd.Series
    pd.testing.assert_series_equal(back, series)
    assert back.name == series.name


def test_arrow_tables_round_trip_without_cadencia_metadata(tmp_path: Path) -> None:
    table = pa.table({"x": [1, 2], "y": ["a", None]}).replace_schema_metadata({b"own": b"kept"})
    assert chosen(table) == "parquet"
    for back in (round_trip(table), round_trip(table, to_file=tmp_path / "t.parquet")):
        assert type(back) is pa.Table
        assert back.equals(table)
        assert back.schema.metadata == {b"own": b"kept"}
    plain = round_trip(pa.table({"x": [1]}))
    assert plain.schema.metadata is None


# -- pickle only by opt-in -------------------------------------------------------------


class Model:
    def __init__(self, weight: float) -> None:
        self.weight = weight


def test_arbitrary_objects_need_the_pickle_opt_in() -> None:
    with pytest.raises(MaterializationError) as caught:
        registry.for_value(Model(1.0), allow_pickle=False)
    assert str(caught.value) == (
        f"no materializer stores a value of type {__name__}.Model. Return a type cadencia "
        "stores natively (None, bool, int, float, str, list, tuple, dict, bytes, numpy arrays, "
        "pandas and Arrow tables), register a Materializer for this type, or opt in to pickle "
        "for this step with @step(pickle=True) — pickle files run code when loaded, so only "
        "use it for artifacts you trust."
    )
    assert caught.value.headline == "cannot store value"
    assert chosen(Model(1.0), allow_pickle=True) == "pickle"
    assert round_trip(Model(2.5), allow_pickle=True).weight == 2.5


def test_pickle_is_never_chosen_for_a_type_with_a_native_materializer() -> None:
    assert chosen([1, 2], allow_pickle=True) == "json"
    assert chosen(np.arange(3), allow_pickle=True) == "numpy"
    assert chosen(b"x", allow_pickle=True) == "bytes"
    assert not registry.get("pickle").can_save(Model(1.0))


# -- the registry ----------------------------------------------------------------------


def test_lookup_by_type_follows_the_mro() -> None:
    class MyFrame(pd.DataFrame):
        pass

    class MyBytes(bytes):
        pass

    class MyArray(np.ndarray):
        pass

    fresh = default_registry()
    assert fresh.for_type(MyFrame) is fresh.get("parquet")
    assert fresh.for_type(MyBytes) is fresh.get("bytes")
    assert fresh.for_type(MyArray) is fresh.get("numpy")
    assert fresh.for_type(pd.Series) is fresh.get("parquet")
    assert fresh.for_type(np.float64) is fresh.get("numpy")
    assert fresh.for_type(int) is None  # JSON is a fallback decided by value, not by type
    assert fresh.for_value(MyBytes(b"ab"), allow_pickle=False).name == "bytes"


def test_types_are_named_without_importing_their_library() -> None:
    assert qualified_name(pd.DataFrame) in ("pandas.core.frame.DataFrame", "pandas.DataFrame")
    assert "pandas.DataFrame" in registry.get("parquet").type_names


def test_get_by_name_and_the_error_for_an_unknown_name() -> None:
    assert registry.get("json").name == "json"
    assert {"bytes", "json", "numpy", "parquet", "pickle"} <= set(registry.names())
    with pytest.raises(
        MaterializationError,
        match=r"^no materializer named 'mlflow-model' is registered \(known: .*json.*\); install "
        "or import the package that provides it$",
    ):
        registry.get("mlflow-model")


@pytest.mark.parametrize(
    ("annotation", "supported"),
    [
        (int, True),
        (str, True),
        (dict, True),
        (type(None), True),
        (bytes, True),
        (np.ndarray, True),
        (pd.DataFrame, True),
        (list[int], True),  # not a class: not decided
        (Any, True),
        (object, True),
        (Model, False),
        (set, False),
    ],
)
def test_supports_annotation(annotation: Any, supported: bool) -> None:
    assert registry.supports_annotation(annotation) is supported


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y


class PointMaterializer(Materializer):
    name = "test-point"
    version = "3"
    type_names: ClassVar[tuple[str, ...]] = (qualified_name(Point),)

    def dump(self, value: Any) -> bytes:
        return f"{value.x},{value.y}".encode()

    def load(self, data: Any) -> Point:
        x, y = bytes(data).decode().split(",")
        return Point(int(x), int(y))


def test_a_registered_materializer_is_chosen_for_its_type() -> None:
    fresh = MaterializerRegistry()
    assert fresh.for_type(Point) is None
    fresh.register(PointMaterializer())
    materializer = fresh.for_value(Point(1, 2), allow_pickle=False)
    assert materializer.name == "test-point"
    back = materializer.load(materializer.dump(Point(1, 2)))
    assert (back.x, back.y) == (1, 2)
    assert fresh.supports_annotation(Point)


def test_register_materializer_extends_the_process_registry() -> None:
    class Tag:
        pass

    class TagMaterializer(Materializer):
        name = "test-tag"
        type_names = (qualified_name(Tag),)

        def dump(self, value: Any) -> bytes:
            return b"tag"

        def load(self, data: Any) -> Tag:
            return Tag()

    with pytest.raises(MaterializationError):
        registry.for_value(Tag(), allow_pickle=False)
    register_materializer(TagMaterializer())
    assert registry.for_value(Tag(), allow_pickle=False).name == "test-tag"
    assert registry.get("test-tag").version == "1"


def test_a_fallback_materializer_is_asked_by_value() -> None:
    class EvenOnly(Materializer):
        name = "test-even"

        def can_save(self, value: Any) -> bool:
            return isinstance(value, frozenset) and all(v % 2 == 0 for v in value)

        def dump(self, value: Any) -> bytes:
            return ",".join(map(str, sorted(value))).encode()

        def load(self, data: Any) -> frozenset[int]:
            return frozenset(int(v) for v in bytes(data).decode().split(","))

    fresh = default_registry()
    fresh.register(EvenOnly(), fallback=True)
    assert fresh.for_value(frozenset({2, 4}), allow_pickle=False).name == "test-even"
    assert fresh.for_value([1], allow_pickle=False).name == "json"  # JSON was registered first
    with pytest.raises(MaterializationError):
        fresh.for_value(frozenset({1}), allow_pickle=False)


def install_plugin(root: Path, name: str, entry: str, module_source: str) -> None:
    """A real installed distribution (dist-info with entry points) on ``root``."""
    (root / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[cadencia.materializers]\n{name} = {entry}\n")


def test_plugins_are_loaded_from_entry_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(
        tmp_path,
        "cadencia_test_plugin",
        "cadencia_test_plugin:Decimals",
        """
        import decimal
        from cadencia.store.materializers import Materializer

        class Decimals(Materializer):
            name = "test-decimal"
            type_names = ("decimal.Decimal",)

            def dump(self, value):
                return str(value).encode()

            def load(self, data):
                return decimal.Decimal(bytes(data).decode())
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import decimal

    fresh = default_registry()
    materializer = fresh.for_value(decimal.Decimal("1.25"), allow_pickle=False)
    assert materializer.name == "test-decimal"
    assert materializer.load(materializer.dump(decimal.Decimal("1.25"))) == decimal.Decimal("1.25")
    assert default_registry().get("test-decimal").name == "test-decimal"


def test_a_broken_plugin_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(
        tmp_path, "cadencia_broken_plugin", "cadencia_broken_plugin:Missing", "VALUE = 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        MaterializationError,
        match=r"^the materializer plugin 'cadencia_broken_plugin' "
        r"\(cadencia_broken_plugin:Missing\) failed to load: ",
    ):
        default_registry().get("anything")
