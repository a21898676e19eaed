"""The materializer seam: how a step's return value becomes artifact bytes and back.

A materializer is chosen by the value's type. Types are named by their
qualified name (``"pandas.core.frame.DataFrame"``) so that looking one up never
imports pandas: a materializer's own module imports its library only when it
saves or loads. Other parts of cadencia (MLflow models) and plugins (entry
point group ``cadencia.materializers``) add materializers to the registry.
"""

from __future__ import annotations

import inspect
import threading
import typing
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from cadencia.errors import MaterializationError
from cadencia.store.artifacts import Buffer


class Materializer(ABC):
    """Turns values of some types into bytes and back.

    ``name`` and ``version`` are recorded with every artifact: the name picks
    the loader, and the version is part of a step's cache key, so that changing
    a format invalidates results stored in the old one.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    type_names: ClassVar[tuple[str, ...]] = ()
    """Names of the classes handled, as ``package.Class`` or ``package.module.Class``
    (subclasses are handled too)."""

    def can_save(self, value: Any) -> bool:
        """A last check on a value whose type matched (e.g. no object arrays)."""
        return True

    refusal: ClassVar[str] = ""
    """Why ``can_save`` may refuse a value of a handled type, for the error message."""

    @abstractmethod
    def dump(self, value: Any) -> Buffer:
        """The bytes to store for ``value``."""

    @abstractmethod
    def load(self, data: Buffer) -> Any:
        """The value stored in ``data`` (bytes, or a read-only memory map)."""

    writes_files: ClassVar[bool] = False
    """True when ``dump_to_file`` writes large values straight to disk."""

    def estimated_size(self, value: Any) -> int | None:
        """Roughly how many bytes ``value`` stores as (None: unknown). Lets small
        values of file-writing materializers be stored inline anyway."""
        return None

    def dump_to_file(self, value: Any, path: str) -> None:
        """Write the artifact for ``value`` to ``path`` (override for large values)."""
        with open(path, "wb") as handle:
            handle.write(self.dump(value))


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _short_name(cls: type) -> str:
    """``pandas.DataFrame`` whether pandas says its module is ``pandas.core.frame`` or
    ``pandas`` (it changed in pandas 3): libraries move classes between submodules."""
    return f"{cls.__module__.split('.', 1)[0]}.{cls.__qualname__}"


class MaterializerRegistry:
    """Materializers by name and by handled type; later registrations win."""

    def __init__(self) -> None:
        self._by_name: dict[str, Materializer] = {}
        self._by_type: dict[str, Materializer] = {}
        self._resolved: dict[type, Materializer | None] = {}
        self._fallbacks: list[Materializer] = []
        self._lock = threading.Lock()
        self._plugins_loaded = False

    def register(self, materializer: Materializer, *, fallback: bool = False) -> None:
        """Add ``materializer``. A ``fallback`` is asked (``can_save``) for any type
        no other materializer claims, in registration order (JSON is one)."""
        with self._lock:
            self._by_name[materializer.name] = materializer
            if fallback:
                self._fallbacks.append(materializer)
            for type_name in materializer.type_names:
                self._by_type[type_name] = materializer
            self._resolved.clear()

    def get(self, name: str) -> Materializer:
        if name not in self._by_name:
            self._load_plugins()
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(sorted(self._by_name))
            raise MaterializationError(
                f"no materializer named {name!r} is registered (known: {known}); install or "
                "import the package that provides it"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def for_type(self, cls: type) -> Materializer | None:
        """The materializer claiming ``cls`` or one of its base classes, if any."""
        if cls in self._resolved:
            return self._resolved[cls]
        found = None
        for base in cls.__mro__:
            found = self._by_type.get(qualified_name(base)) or self._by_type.get(_short_name(base))
            if found is not None:
                break
        if found is None and not self._plugins_loaded:
            self._load_plugins()
            return self.for_type(cls)
        self._resolved[cls] = found
        return found

    def for_value(self, value: Any, *, allow_pickle: bool) -> Materializer:
        by_type = self.for_type(type(value))
        if by_type is not None and by_type.can_save(value):
            return by_type
        for fallback in self._fallbacks:
            if fallback.can_save(value):
                return fallback
        if allow_pickle:
            return self.get("pickle")
        why = f": {by_type.refusal}" if by_type is not None and by_type.refusal else ""
        raise MaterializationError(
            f"no materializer stores a value of type {qualified_name(type(value))}{why}. Return a "
            f"type cadencia stores natively ({self.supported()}), register a Materializer for "
            "this type, or opt in to pickle for this step with @step(pickle=True) — pickle "
            "files run code when loaded, so only use it for artifacts you trust."
        )

    def supports_annotation(self, annotation: Any) -> bool:
        """False only when ``annotation`` is a class no materializer can store."""
        if not isinstance(annotation, type) or annotation in (
            inspect.Parameter.empty,
            typing.Any,
            object,
        ):
            return True  # not one concrete class (typing.Any is a class since 3.11): undecided
        if self.for_type(annotation) is not None:
            return True
        return any(_annotation_fits(fallback, annotation) for fallback in self._fallbacks)

    def supported(self) -> str:
        return (
            "None, bool, int, float, str, list, tuple, dict, bytes, numpy arrays, "
            "pandas and Arrow tables"
        )

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from importlib.metadata import entry_points

        for entry in entry_points(group="cadencia.materializers"):
            try:
                factory = entry.load()
                self.register(factory())
            except Exception as exc:
                raise MaterializationError(
                    f"the materializer plugin {entry.name!r} ({entry.value}) failed to load: {exc}"
                ) from exc


def _annotation_fits(fallback: Materializer, annotation: type) -> bool:
    accepts = getattr(fallback, "accepts_type", None)
    return bool(accepts(annotation)) if accepts else False
