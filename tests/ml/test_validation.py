"""Schema and value-range validation: what fails a partition, what is only counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cadencia.ml.errors import DataValidationError
from cadencia.ml.sources import PartitionSource
from cadencia.ml.validation import FLIGHTS, validate


@pytest.fixture
def march(packaged_root: Path) -> pd.DataFrame:
    return PartitionSource(str(packaged_root)).read_partition("flights", 3)


def test_a_real_month_passes(march: pd.DataFrame) -> None:
    report = validate(march, FLIGHTS, partition="month=03", expect={"month": 3})
    assert report.passed, report.render()
    assert report.rows == 28834 and report.bad_rows == 0


def test_bad_rows_are_counted_per_rule(march: pd.DataFrame) -> None:
    march.loc[:9, "distance"] = -5
    march.loc[10:12, "carrier"] = "???"
    report = validate(march, FLIGHTS, expect={"month": 3})
    assert report.passed  # 13 of 28,834 rows: under the 1% allowed; cleaning drops them
    counts = {result.rule: result.bad_rows for result in report.rules}
    assert counts == {"distance >= 1": 10, "carrier matches [A-Z0-9]{2}": 3}
    assert report.bad_rows == 13
    assert "distance >= 1" in report.render()


def test_too_many_bad_rows_fail_the_partition(march: pd.DataFrame) -> None:
    march.loc[:999, "hour"] = 99
    report = validate(march, FLIGHTS)
    assert not report.passed
    with pytest.raises(DataValidationError, match=r"1000 of 28834 rows \(3.47%\) break a rule"):
        report.raise_if_failed()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: f.drop(columns=["arr_delay"]), "column 'arr_delay' .* is missing"),
        (
            lambda f: f.rename(columns={"dep_delay": "departure_delay"}),
            "column 'dep_delay' .* is missing \\(renamed to 'departure_delay'\\?\\)",
        ),
        (
            lambda f: f.assign(distance=f["distance"].astype(str) + " mi"),
            "column 'distance' has type str .*expected int",
        ),
        (lambda f: f.assign(arr_delay=np.nan), "column 'arr_delay' is entirely null"),
        (lambda f: f.iloc[:0], "the partition has no rows"),
        (lambda f: f.assign(month=4), "28834 rows have month other than 3"),
    ],
)
def test_partition_problems_fail_with_a_readable_report(
    march: pd.DataFrame, damage: object, message: str
) -> None:
    report = validate(damage(march), FLIGHTS, partition="month=03", expect={"month": 3})  # type: ignore[operator]
    assert not report.passed
    with pytest.raises(DataValidationError, match=message) as raised:
        report.raise_if_failed()
    assert "nothing was written" in str(raised.value)
    assert raised.value.report is report
