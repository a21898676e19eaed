"""The materializers cadencia ships: JSON values, bytes, NumPy, pandas/Arrow, pickle (opt-in).

Each imports its library only inside ``dump``/``load``.
"""

from __future__ import annotations

import io
import json
import math
import pickle
from typing import Any

from cadencia.store.artifacts import Buffer
from cadencia.store.materializers.base import Materializer, MaterializerRegistry

_TUPLE = "__cadencia_tuple__"
_DICT = "__cadencia_dict__"
_SCALARS = (str, int, float, bool, type(None))


class _NotJson(Exception):
    pass


def _encode(value: Any) -> Any:
    """JSON-ready form of ``value`` that decodes to an equal value of the same types.

    Plain JSON would turn tuples into lists and int keys into strings; those
    are tagged instead, so a round trip never changes a value's type.
    """
    if type(value) in _SCALARS:
        return value
    if isinstance(value, list) and type(value) is list:
        return [_encode(item) for item in value]
    if type(value) is tuple:
        return {_TUPLE: [_encode(item) for item in value]}
    if type(value) is dict:
        if all(type(key) is str for key in value) and _TUPLE not in value and _DICT not in value:
            return {key: _encode(item) for key, item in value.items()}
        return {_DICT: [[_encode(key), _encode(item)] for key, item in value.items()]}
    raise _NotJson(type(value))


def _decode_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if _TUPLE in obj:
            return tuple(obj[_TUPLE])
        if _DICT in obj:
            return {_hashable(key): item for key, item in obj[_DICT]}
    return obj


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


class JsonMaterializer(Materializer):
    """None, bool, int, float, str and lists, tuples and dicts of them."""

    name = "json"
    version = "1"
    type_names = ()  # a fallback: decided by walking the value

    def can_save(self, value: Any) -> bool:
        try:
            _encode(value)
        except _NotJson:
            return False
        return True

    def accepts_type(self, annotation: type) -> bool:
        return annotation in (*_SCALARS, list, tuple, dict)

    def dump(self, value: Any) -> bytes:
        encoded = _encode(value)
        if isinstance(encoded, float) and not math.isfinite(encoded):
            return json.dumps(encoded).encode()
        return json.dumps(encoded, separators=(",", ":"), ensure_ascii=False).encode()

    def load(self, data: Buffer) -> Any:
        return json.loads(bytes(data), object_hook=_decode_hook)


class BytesMaterializer(Materializer):
    name = "bytes"
    type_names = ("builtins.bytes", "builtins.bytearray")

    def dump(self, value: Any) -> Buffer:
        return bytes(value)

    def load(self, data: Buffer) -> bytes:
        return bytes(data)


class NumpyMaterializer(Materializer):
    """NumPy arrays and scalars in the ``.npy`` format, without pickled objects."""

    name = "numpy"
    type_names = ("numpy.ndarray", "numpy.generic")

    def can_save(self, value: Any) -> bool:
        return getattr(value, "dtype", None) is not None and not value.dtype.hasobject

    refusal = "its dtype holds Python objects, which only pickle can store"

    writes_files = True

    def dump(self, value: Any) -> bytes:
        sink = io.BytesIO()
        self._write(value, sink)
        return sink.getvalue()

    def dump_to_file(self, value: Any, path: str) -> None:
        with open(path, "wb") as sink:
            self._write(value, sink)

    def _write(self, value: Any, sink: Any) -> None:
        import numpy as np

        sink.write(b"S" if isinstance(value, np.generic) else b"A")
        np.save(sink, np.asarray(value), allow_pickle=False)

    def load(self, data: Buffer) -> Any:
        """Arrays are read without a copy: a read-only view of the (memory-mapped)
        artifact. Copy one (``array.copy()``) before changing it in place."""
        import numpy as np
        from numpy.lib import format as npy

        view = memoryview(data)
        body = view[1:]
        header = io.BytesIO(body[: min(len(body), 1 << 17)])
        try:
            version = npy.read_magic(header)
            read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, fortran_order, dtype = read(header)
        except ValueError as exc:
            raise ValueError(f"not a .npy array, and pickled data is never loaded: {exc}") from None
        if dtype.hasobject:
            raise ValueError("the array holds Python objects, which would need pickle: refused")
        count = int(np.prod(shape)) if shape else 1
        array = np.frombuffer(body, dtype=dtype, count=count, offset=header.tell())
        array = array.reshape(shape, order="F" if fortran_order else "C")
        return array[()] if bytes(view[:1]) == b"S" else array

    def estimated_size(self, value: Any) -> int | None:
        return int(getattr(value, "nbytes", 0)) + 128


class ParquetMaterializer(Materializer):
    """pandas DataFrames and Series, and Arrow tables, as Parquet.

    Written uncompressed with dictionary encoding off (except for categorical
    columns, whose categories it preserves): on numeric data that is several
    times faster than snappy for a few percent of size, and the artifact is
    read back through a memory map without a copy.
    """

    name = "parquet"
    version = "1"
    type_names = ("pandas.DataFrame", "pandas.Series", "pyarrow.Table")

    writes_files = True

    def dump(self, value: Any) -> Buffer:
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        self._write(value, sink)
        return memoryview(sink.getvalue())

    def dump_to_file(self, value: Any, path: str) -> None:
        import pyarrow as pa

        with pa.OSFile(path, "wb") as sink:
            self._write(value, sink)

    def estimated_size(self, value: Any) -> int | None:
        if type(value).__module__.startswith("pyarrow"):
            return int(value.nbytes)
        usage = value.memory_usage(deep=False)
        return int(usage.sum() if hasattr(usage, "sum") else usage)

    def _write(self, value: Any, sink: Any) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        kind = type(value).__module__.split(".")[0]
        if kind == "pyarrow":
            table, marker = value, "arrow"
        elif value.ndim == 1:  # a Series: stored as a one-column table
            table, marker = (
                pa.Table.from_pandas(value.to_frame(name=_series_column(value))),
                "series",
            )
        else:
            table, marker = pa.Table.from_pandas(value), "frame"
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), b"cadencia.kind": marker.encode()}
        )
        # Dictionary (categorical) columns keep their encoding: written plain, they come
        # back with their categories re-derived from the data (order and unused ones lost).
        dictionary_columns = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
        pq.write_table(
            table,
            sink,
            compression="NONE",
            use_dictionary=dictionary_columns or False,
            write_statistics=False,
        )

    def load(self, data: Buffer) -> Any:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(pa.BufferReader(pa.py_buffer(data)))
        marker = (table.schema.metadata or {}).get(b"cadencia.kind", b"frame")
        if marker == b"arrow":
            return table.replace_schema_metadata(
                {k: v for k, v in table.schema.metadata.items() if k != b"cadencia.kind"} or None
            )
        frame = table.to_pandas()
        if marker == b"series":
            series = frame.iloc[:, 0]
            series.name = None if series.name == _UNNAMED else series.name
            return series
        return frame


_UNNAMED = "__cadencia_unnamed__"


def _series_column(series: Any) -> Any:
    return _UNNAMED if series.name is None else series.name


class PickleMaterializer(Materializer):
    """Any picklable object; used only for steps declared with ``@step(pickle=True)``.

    Loading a pickle runs code, so cadencia never picks this materializer on
    its own and only loads artifacts written by a step that opted in.
    """

    name = "pickle"
    type_names = ()

    def can_save(self, value: Any) -> bool:
        return False  # never chosen by type; see MaterializerRegistry.for_value

    def dump(self, value: Any) -> bytes:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, data: Buffer) -> Any:
        return pickle.loads(data)


def default_registry() -> MaterializerRegistry:
    registry = MaterializerRegistry()
    for materializer in (BytesMaterializer(), NumpyMaterializer(), ParquetMaterializer()):
        registry.register(materializer)
    registry.register(JsonMaterializer(), fallback=True)
    registry.register(PickleMaterializer())
    return registry
