"""Schema and value-range validation of a data partition, with a report a person can read.

A ``Schema`` lists columns with a kind (int, float, str, timestamp), whether
nulls are allowed, a value range and an optional pattern. ``validate`` checks a
frame in two tiers:

* partition problems (a missing or renamed column, a wrong type, a column that
  is entirely null, no rows at all, rows of another month) fail the partition
  outright, since no row of it can be trusted;
* row problems (a null where none is allowed, a value out of range) are
  counted per rule; the partition fails when the share of bad rows exceeds
  ``max_bad_fraction``, and otherwise the bad rows are dropped by cleaning.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from cadencia.ml.errors import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["int", "float", "str", "timestamp"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    """A regular expression every non-null string value must match in full."""


@dataclass(frozen=True)
class Schema:
    name: str
    columns: tuple[Column, ...]
    max_bad_fraction: float = 0.01

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


@dataclass
class RuleResult:
    rule: str
    column: str
    bad_rows: int
    examples: list[Any] = field(default_factory=list)


@dataclass
class ValidationReport:
    """What validation found. ``passed`` is False when the partition must not be used."""

    schema: str
    partition: str
    rows: int
    problems: list[str] = field(default_factory=list)
    rules: list[RuleResult] = field(default_factory=list)
    bad_rows: int = 0
    max_bad_fraction: float = 0.0

    @property
    def bad_fraction(self) -> float:
        return self.bad_rows / self.rows if self.rows else 0.0

    @property
    def passed(self) -> bool:
        return not self.problems

    def render(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [
            f"validation of {self.schema} {self.partition}: {verdict}",
            f"  rows: {self.rows}, bad rows: {self.bad_rows} ({self.bad_fraction:.2%}; "
            f"allowed {self.max_bad_fraction:.2%})",
        ]
        lines.extend(f"  problem: {problem}" for problem in self.problems)
        if self.rules:
            width = max(len(result.rule) for result in self.rules)
            lines.append(f"  {'rule'.ljust(width)}  bad rows  examples")
            for result in self.rules:
                shown = ", ".join(repr(value) for value in result.examples[:3])
                lines.append(f"  {result.rule.ljust(width)}  {result.bad_rows:8d}  {shown}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "partition": self.partition,
            "passed": self.passed,
            "rows": self.rows,
            "bad_rows": self.bad_rows,
            "problems": list(self.problems),
            "rules": [
                {
                    "rule": r.rule,
                    "column": r.column,
                    "bad_rows": r.bad_rows,
                    "examples": [_plain(value) for value in r.examples[:3]],
                }
                for r in self.rules
            ],
        }

    def raise_if_failed(self) -> None:
        if not self.passed:
            raise DataValidationError(
                self.render() + "\nfix the partition at its source (or the schema, if the "
                "data changed on purpose) and run again; nothing was written",
                self,
            )


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value if isinstance(value, int | float | str | bool | None) else str(value)


def validate(
    frame: pd.DataFrame,
    schema: Schema,
    *,
    partition: str = "",
    expect: Mapping[str, Any] | None = None,
) -> ValidationReport:
    """Check ``frame`` against ``schema``; ``expect`` pins columns to one value (month=3)."""
    report = ValidationReport(
        schema.name, partition, len(frame), max_bad_fraction=schema.max_bad_fraction
    )
    if len(frame) == 0:
        report.problems.append("the partition has no rows; an empty month cannot be used")
        return report
    _check_columns(frame, schema, report)
    if report.problems:
        return report
    for name, value in (expect or {}).items():
        wrong = int((frame[name] != value).sum())
        if wrong:
            found = sorted(frame.loc[frame[name] != value, name].unique().tolist())[:5]
            report.problems.append(
                f"{wrong} rows have {name} other than {value!r} (found {found}); the partition "
                "holds data of another period"
            )
    report.bad_rows = int(bad_row_mask(frame, schema, report).sum())
    if report.bad_fraction > schema.max_bad_fraction:
        report.problems.append(
            f"{report.bad_rows} of {report.rows} rows ({report.bad_fraction:.2%}) break a rule, "
            f"more than the {schema.max_bad_fraction:.2%} allowed"
        )
    return report


def _check_columns(frame: pd.DataFrame, schema: Schema, report: ValidationReport) -> None:
    present = [str(name) for name in frame.columns]
    expected = [column.name for column in schema.columns]
    unexpected = [name for name in present if name not in expected]
    for column in schema.columns:
        if column.name not in frame.columns:
            hint = difflib.get_close_matches(column.name, unexpected, n=1)
            renamed = f" (renamed to {hint[0]!r}?)" if hint else ""
            report.problems.append(f"column {column.name!r} ({column.kind}) is missing{renamed}")
            continue
        values = frame[column.name]
        if values.isna().all():
            report.problems.append(f"column {column.name!r} is entirely null")
            continue
        found = _kind_of(values)
        if not _compatible(found, column.kind, values):
            report.problems.append(
                f"column {column.name!r} has type {found} ({values.dtype}), expected {column.kind}"
            )


def _kind_of(values: pd.Series) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_integer_dtype(values):
        return "int"
    if pd.api.types.is_float_dtype(values):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "timestamp"
    if pd.api.types.is_string_dtype(values) or values.dtype == object:
        sample = values.dropna()
        if len(sample) and all(isinstance(item, str) for item in sample.head(100)):
            return "str"
        return "object"
    return str(values.dtype)


def _compatible(found: str, expected: Kind, values: pd.Series) -> bool:
    if found == expected:
        return True
    if expected == "float" and found == "int":
        return True
    if expected == "int" and found == "float":  # CSV turns nullable integers into floats
        present = values.dropna()
        return bool(((present % 1) == 0).all())
    return expected == "timestamp" and found == "str"


def bad_row_mask(
    frame: pd.DataFrame, schema: Schema, report: ValidationReport | None = None
) -> pd.Series:
    """True for rows that break a row rule (nulls, ranges, patterns)."""
    import pandas as pd

    bad = pd.Series(False, index=frame.index)
    for column in schema.columns:
        values = frame[column.name]
        for rule, mask in _row_rules(column, values):
            count = int(mask.sum())
            if count and report is not None:
                examples = values[mask].head(3).tolist()
                report.rules.append(RuleResult(rule, column.name, count, examples))
            bad |= mask
    return bad


def _row_rules(column: Column, values: pd.Series) -> Sequence[tuple[str, pd.Series]]:
    rules: list[tuple[str, pd.Series]] = []
    if not column.nullable:
        rules.append((f"{column.name} is not null", values.isna()))
    present = values.notna()
    if column.kind in ("int", "float"):
        if column.minimum is not None:
            rules.append(
                (f"{column.name} >= {column.minimum:g}", present & (values < column.minimum))
            )
        if column.maximum is not None:
            rules.append(
                (f"{column.name} <= {column.maximum:g}", present & (values > column.maximum))
            )
    if column.pattern is not None:
        matches = values.astype("string").str.fullmatch(column.pattern).fillna(True).astype(bool)
        rules.append((f"{column.name} matches {column.pattern}", present & ~matches))
    return rules


FLIGHTS = Schema(
    "flights",
    (
        Column("year", "int", minimum=1900, maximum=2100),
        Column("month", "int", minimum=1, maximum=12),
        Column("day", "int", minimum=1, maximum=31),
        Column("dep_time", "float", nullable=True, minimum=0, maximum=2400),
        Column("sched_dep_time", "int", minimum=0, maximum=2359),
        Column("dep_delay", "float", nullable=True, minimum=-180, maximum=2000),
        Column("arr_time", "float", nullable=True, minimum=0, maximum=2400),
        Column("sched_arr_time", "int", minimum=0, maximum=2359),
        Column("arr_delay", "float", nullable=True, minimum=-180, maximum=2000),
        Column("carrier", "str", pattern=r"[A-Z0-9]{2}"),
        Column("flight", "int", minimum=1, maximum=9999),
        Column("tailnum", "str", nullable=True),
        Column("origin", "str", pattern=r"[A-Z]{3}"),
        Column("dest", "str", pattern=r"[A-Z]{3}"),
        Column("air_time", "float", nullable=True, minimum=1, maximum=1000),
        Column("distance", "int", minimum=1, maximum=6000),
        Column("hour", "int", minimum=0, maximum=23),
        Column("minute", "int", minimum=0, maximum=59),
        Column("time_hour", "timestamp"),
    ),
)

WEATHER = Schema(
    "weather",
    (
        Column("origin", "str", pattern=r"[A-Z]{3}"),
        Column("year", "int", minimum=1900, maximum=2100),
        Column("month", "int", minimum=1, maximum=12),
        Column("day", "int", minimum=1, maximum=31),
        Column("hour", "int", minimum=0, maximum=23),
        Column("temp", "float", nullable=True, minimum=-60, maximum=140),
        Column("dewp", "float", nullable=True, minimum=-80, maximum=100),
        Column("humid", "float", nullable=True, minimum=0, maximum=100),
        Column("wind_dir", "float", nullable=True, minimum=0, maximum=360),
        Column("wind_speed", "float", nullable=True, minimum=0, maximum=300),
        Column("wind_gust", "float", nullable=True, minimum=0, maximum=300),
        Column("precip", "float", nullable=True, minimum=0, maximum=10),
        Column("pressure", "float", nullable=True, minimum=900, maximum=1100),
        Column("visib", "float", nullable=True, minimum=0, maximum=100),
        Column("time_hour", "timestamp"),
    ),
    max_bad_fraction=0.05,
)

PLANES = Schema(
    "planes",
    (
        Column("tailnum", "str"),
        Column("year", "float", nullable=True, minimum=1900, maximum=2100),
        Column("type", "str", nullable=True),
        Column("manufacturer", "str", nullable=True),
        Column("model", "str", nullable=True),
        Column("engines", "int", nullable=True, minimum=0, maximum=8),
        Column("seats", "int", nullable=True, minimum=1, maximum=1000),
        Column("speed", "float", nullable=True),
        Column("engine", "str", nullable=True),
    ),
    max_bad_fraction=0.05,
)
