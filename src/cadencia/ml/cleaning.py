"""Cleaning a validated flights partition: drop bad and duplicate rows, parse times, label.

Label: ``arr_delayed`` is 1 when the flight arrived 15 or more minutes late.
Cancelled and diverted flights have no arrival, so their label is null: they
stay in the feature store (a batch score is made before anyone knows a flight
will be cancelled) and training drops them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadencia.ml.validation import FLIGHTS, WEATHER, Schema, bad_row_mask

if TYPE_CHECKING:
    import pandas as pd

DELAY_MINUTES = 15
FLIGHT_KEY = ("year", "month", "day", "carrier", "flight", "origin", "dest", "sched_dep_time")


def drop_bad_rows(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The rows that break no row rule of ``schema``."""
    return frame.loc[~bad_row_mask(frame, schema)].reset_index(drop=True)


def clean_flights(frame: pd.DataFrame) -> pd.DataFrame:
    """Valid, de-duplicated flights with a UTC ``event_timestamp`` and the label."""
    import pandas as pd

    flights = drop_bad_rows(frame, FLIGHTS)
    flights = flights.drop_duplicates(subset=list(FLIGHT_KEY)).reset_index(drop=True)
    for name in (
        "year",
        "month",
        "day",
        "sched_dep_time",
        "sched_arr_time",
        "flight",
        "distance",
        "hour",
        "minute",
    ):
        flights[name] = flights[name].astype("int64")
    hour_utc = pd.to_datetime(flights["time_hour"], utc=True)
    flights["time_hour"] = hour_utc
    flights["event_timestamp"] = hour_utc + pd.to_timedelta(flights["minute"], unit="min")
    flights["flight_id"] = (
        flights["year"].astype(str)
        + "-"
        + flights["month"].map("{:02d}".format)
        + "-"
        + flights["day"].map("{:02d}".format)
        + "-"
        + flights["carrier"]
        + flights["flight"].astype(str)
        + "-"
        + flights["origin"]
        + flights["dest"]
        + "-"
        + flights["sched_dep_time"].map("{:04d}".format)
    )
    delayed = (flights["arr_delay"] >= DELAY_MINUTES).astype("float64")
    flights["arr_delayed"] = delayed.where(flights["arr_delay"].notna())
    return flights


def clean_weather(frame: pd.DataFrame) -> pd.DataFrame:
    """Valid hourly weather, one row per airport and hour, with a UTC ``time_hour``."""
    import pandas as pd

    weather = drop_bad_rows(frame, WEATHER)
    weather["time_hour"] = pd.to_datetime(weather["time_hour"], utc=True)
    return weather.drop_duplicates(subset=["origin", "time_hour"]).reset_index(drop=True)
