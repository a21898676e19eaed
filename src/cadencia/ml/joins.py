"""Joining flights to the weather at their departure hour and to their plane."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

WEATHER_COLUMNS = (
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "wind_gust",
    "precip",
    "pressure",
    "visib",
)
PLANE_COLUMNS = ("plane_year", "engines", "seats")


def join_weather(flights: pd.DataFrame, weather: pd.DataFrame) -> pd.DataFrame:
    """Each flight with the weather observed at its origin in its scheduled departure hour
    (left join: a missing observation leaves nulls, which the model handles)."""
    hourly = weather.loc[:, ["origin", "time_hour", *WEATHER_COLUMNS]]
    joined = flights.merge(hourly, on=["origin", "time_hour"], how="left", validate="many_to_one")
    return joined


def join_planes(flights: pd.DataFrame, planes: pd.DataFrame) -> pd.DataFrame:
    """Each flight with its plane's build year, engines and seats (left join on tailnum)."""
    fleet = planes.drop_duplicates(subset=["tailnum"]).rename(columns={"year": "plane_year"})
    fleet = fleet.loc[:, ["tailnum", *PLANE_COLUMNS]]
    return flights.merge(fleet, on="tailnum", how="left", validate="many_to_one")
