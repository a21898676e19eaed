"""Features of a flight known before it departs, and the feature views that hold them.

Three views (Feast-style: entities, an event timestamp, features):

* ``flights`` — one row per scheduled flight (entity ``flight_id``, timestamp =
  scheduled departure): schedule, route, weather at the departure hour, plane,
  and the label ``arr_delayed`` (null for cancelled or diverted flights);
* ``carrier_daily`` / ``origin_daily`` — per carrier / origin airport and day:
  flights, share arriving 15+ min late, mean departure delay. A day's figures
  become known the next morning (04:00 New York time), which is their event
  timestamp, so a point-in-time join gives each flight the latest *finished*
  day, never its own.

Nothing here uses what happens after departure (departure delay, air time,
arrival time) as a feature of the same flight: that would leak the answer.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from cadencia.ml.feature_store import FeatureView
from cadencia.ml.joins import PLANE_COLUMNS, WEATHER_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from cadencia.ml.feature_store import FeatureStore

LABEL = "arr_delayed"
CATEGORY_BUCKETS = 10007
CATEGORICAL = ("carrier_code", "origin_code", "dest_code")
SCHEDULE = ("sched_dep_hour", "sched_arr_hour", "day_of_week", "day_of_month", "distance")
STATS = ("flights", "delay_rate", "mean_dep_delay")

FLIGHTS_VIEW = FeatureView(
    name="flights",
    entities=("flight_id",),
    features=(
        "carrier",
        "origin",
        "dest",
        "tailnum",
        "month",
        *SCHEDULE,
        *WEATHER_COLUMNS,
        "plane_age",
        "engines",
        "seats",
        *CATEGORICAL,
        LABEL,
    ),
)
CARRIER_DAILY = FeatureView(name="carrier_daily", entities=("carrier",), features=STATS)
ORIGIN_DAILY = FeatureView(name="origin_daily", entities=("origin",), features=STATS)
DAILY_VIEWS = (CARRIER_DAILY, ORIGIN_DAILY)

MODEL_FEATURES: tuple[str, ...] = (
    *SCHEDULE,
    *WEATHER_COLUMNS,
    "plane_age",
    "engines",
    "seats",
    *CATEGORICAL,
    *(f"{view.name}__{name}" for view in DAILY_VIEWS for name in STATS),
)


def category_code(value: object) -> int:
    """A stable integer for a category (the same in every process and month)."""
    return zlib.crc32(str(value).encode()) % CATEGORY_BUCKETS


def flight_features(joined: pd.DataFrame) -> pd.DataFrame:
    """The ``flights`` view rows from cleaned flights joined to weather and planes."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "flight_id": joined["flight_id"],
            "event_timestamp": joined["event_timestamp"],
            "carrier": joined["carrier"],
            "origin": joined["origin"],
            "dest": joined["dest"],
            "tailnum": joined["tailnum"],
            "month": joined["month"].astype("int64"),
            "sched_dep_hour": joined["hour"] + joined["minute"] / 60.0,
            "sched_arr_hour": (joined["sched_arr_time"] // 100)
            + (joined["sched_arr_time"] % 100) / 60.0,
            "day_of_week": _local_dates(joined).dt.day_of_week.astype("int64"),
            "day_of_month": joined["day"].astype("int64"),
            "distance": joined["distance"].astype("float64"),
        }
    )
    for name in WEATHER_COLUMNS:
        frame[name] = joined[name].astype("float64")
    frame["plane_age"] = (joined["year"] - joined["plane_year"]).astype("float64")
    for name in PLANE_COLUMNS[1:]:
        frame[name] = joined[name].astype("float64")
    for name in ("carrier", "origin", "dest"):
        frame[f"{name}_code"] = joined[name].map(category_code).astype("int64")
    frame[LABEL] = joined[LABEL]
    return frame


def _local_dates(flights: pd.DataFrame) -> pd.Series:
    import pandas as pd

    parts = flights.loc[:, ["year", "month", "day"]]
    return pd.to_datetime(parts)


def daily_stats(flights: pd.DataFrame, entity: str) -> pd.DataFrame:
    """Per ``entity`` and local day: flights, delay rate, mean departure delay, stamped
    with the moment the day's figures are known (next day 04:00 New York time)."""
    import pandas as pd

    frame = flights.assign(local_date=_local_dates(flights))
    grouped = frame.groupby([entity, "local_date"], sort=True)
    stats = grouped.agg(
        flights=("flight_id", "size"),
        delay_rate=(LABEL, "mean"),
        mean_dep_delay=("dep_delay", "mean"),
    ).reset_index()
    known_at = (stats["local_date"] + pd.Timedelta(days=1, hours=4)).dt.tz_localize(
        "America/New_York"
    )
    stats["event_timestamp"] = known_at.dt.tz_convert("UTC")
    stats["flights"] = stats["flights"].astype("float64")
    return stats.drop(columns=["local_date"])


def training_frame(store: FeatureStore, months: list[int]) -> pd.DataFrame:
    """Flights of ``months`` with point-in-time-correct daily statistics attached."""
    flights = store.read(FLIGHTS_VIEW, [f"month={month:02d}" for month in months])
    return store.get_historical_features(flights, DAILY_VIEWS)


def model_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's input columns, in order, as float64 (what the signature declares)."""
    return frame.loc[:, list(MODEL_FEATURES)].astype("float64")
