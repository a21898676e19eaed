import numpy as np
import pandas as pd

from cadencia import pipeline, step


@step
def make(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.random((rows, 10)), columns=[f"c{i}" for i in range(10)])


@step
def add_one(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame.assign(**{column: frame[column] + 1})


@pipeline
def w3(rows: int = 1_000_000):
    frame = make(rows)
    for index in range(4):
        frame = add_one(frame, f"c{index}")
