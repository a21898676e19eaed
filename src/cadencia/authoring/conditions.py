"""``when`` / ``unless``: run a block of steps only if a step's bool output says so.

Steps called inside the block, and every step that depends on them, are
recorded ``skipped`` when the condition does not hold.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from cadencia.authoring.builder import require_builder
from cadencia.authoring.graph import SourceLocation


def _site() -> SourceLocation:
    frame = sys._getframe(3)  # caller of when()/unless(), past contextmanager's frames
    return SourceLocation(frame.f_code.co_filename, frame.f_lineno)


@contextlib.contextmanager
def when(condition: Any) -> Iterator[None]:
    """``with when(is_better): deploy(model)`` runs ``deploy`` only if ``is_better`` is true."""
    site = _site()
    with require_builder("when()", site).condition(condition, True, site):
        yield


@contextlib.contextmanager
def unless(condition: Any) -> Iterator[None]:
    """``with unless(is_better): alert()`` runs ``alert`` only if ``is_better`` is false."""
    site = _site()
    with require_builder("unless()", site).condition(condition, False, site):
        yield
