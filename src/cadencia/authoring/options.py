"""Per-step options: what ``@step(...)`` accepts, with their validation.

Owns ``StepOptions`` only. Imports nothing from cadencia but ``errors``.
"""

from __future__ import annotations

import dataclasses
import keyword
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cadencia.errors import DefinitionError

Hook = Callable[[Any], object]


@dataclass(frozen=True)
class StepOptions:
    """How a step is run. Every field has a default, so a bare ``@step`` works.

    ``retry_delay`` is the wait before the first retry; each further retry waits
    ``backoff`` times longer (capped at ``max_retry_delay``), and every wait is
    spread by up to ``jitter`` of itself so that failing steps do not retry in lockstep.
    """

    name: str | None = None
    retries: int = 0
    retry_delay: float = 1.0
    backoff: float = 2.0
    jitter: float = 0.1
    max_retry_delay: float = 300.0
    timeout: float | None = None
    cache: bool = True
    cache_version: str | None = None
    pickle: bool = False
    outputs: tuple[str, ...] | None = None
    on_failure: Hook | None = None
    on_success: Hook | None = None
    description: str | None = field(default=None, compare=False)

    def retry_wait(self, retry_number: int, unit_random: float) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first retry).

        ``unit_random`` is a number in [0, 1) supplied by the caller, which keeps
        this function pure and testable.
        """
        base = min(self.max_retry_delay, self.retry_delay * self.backoff ** (retry_number - 1))
        spread = base * self.jitter
        return max(0.0, base - spread + 2 * spread * unit_random)


OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(StepOptions))


def _fail(option: str, value: object, rule: str) -> DefinitionError:
    return DefinitionError(f"step option {option}={value!r} is invalid: {rule}")


def _check_number(options: Mapping[str, Any], name: str, *, minimum: float, strict: bool) -> None:
    if name not in options or options[name] is None:
        return
    value = options[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(name, value, "it must be a number")
    if value < minimum or (strict and value == minimum):
        bound = f"greater than {minimum}" if strict else f"at least {minimum}"
        raise _fail(name, value, f"it must be {bound}")


def make_options(options: Mapping[str, Any], *, where: str = "") -> StepOptions:
    """Validate user-given option values and build ``StepOptions``.

    An unknown option lists the valid ones, since a typo (``retry=3``) would
    otherwise silently do nothing.
    """
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        valid = ", ".join(OPTION_NAMES)
        names = ", ".join(repr(name) for name in unknown)
        prefix = f"{where}: " if where else ""
        raise DefinitionError(f"{prefix}unknown step option {names}. Valid options are: {valid}.")
    try:
        _validate(options)
    except DefinitionError as exc:
        if where:
            raise DefinitionError(f"{where}: {exc}") from None
        raise
    values = dict(options)
    if values.get("outputs") is not None:
        values["outputs"] = tuple(values["outputs"])
    return StepOptions(**values)


def _validate(options: Mapping[str, Any]) -> None:
    retries = options.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise _fail("retries", retries, "it must be a whole number, 0 or more")
    _check_number(options, "retry_delay", minimum=0, strict=False)
    _check_number(options, "backoff", minimum=1, strict=False)
    _check_number(options, "max_retry_delay", minimum=0, strict=False)
    _check_number(options, "timeout", minimum=0, strict=True)
    jitter = options.get("jitter", 0.1)
    if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter <= 1:
        raise _fail("jitter", jitter, "it must be a fraction between 0 and 1")
    for flag in ("cache", "pickle"):
        if flag in options and not isinstance(options[flag], bool):
            raise _fail(flag, options[flag], "it must be True or False")
    for hook in ("on_failure", "on_success"):
        if options.get(hook) is not None and not callable(options[hook]):
            raise _fail(hook, options[hook], "it must be a callable taking one TaskEvent")
    name = options.get("name")
    if name is not None and not _is_identifier(name):
        raise _fail("name", name, "it must be a Python identifier (letters, digits, _)")
    outputs = options.get("outputs")
    if outputs is not None:
        if isinstance(outputs, str) or not all(_is_identifier(o) for o in outputs):
            raise _fail("outputs", outputs, "it must be a sequence of identifiers")
        if len(set(outputs)) != len(tuple(outputs)) or len(tuple(outputs)) < 2:
            raise _fail("outputs", outputs, "it needs two or more distinct names")
    version = options.get("cache_version")
    if version is not None and not isinstance(version, str):
        raise _fail("cache_version", version, "it must be a string")


def _is_identifier(value: object) -> bool:
    return isinstance(value, str) and value.isidentifier() and not keyword.iskeyword(value)
