"""Materializers: a value's type picks how it is stored as an artifact.

``registry`` is the process-wide registry; ``register_materializer`` adds to it.
"""

from cadencia.store.materializers.base import Materializer, MaterializerRegistry, qualified_name
from cadencia.store.materializers.builtin import default_registry

registry: MaterializerRegistry = default_registry()


def register_materializer(materializer: Materializer, *, fallback: bool = False) -> None:
    """Make ``materializer`` available to every step in this process."""
    registry.register(materializer, fallback=fallback)


__all__ = [
    "Materializer",
    "MaterializerRegistry",
    "qualified_name",
    "register_materializer",
    "registry",
]
