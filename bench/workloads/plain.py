"""The benchmark workloads as plain Python function calls: the limit nothing can beat.

python bench/workloads/plain.py w2 500
"""

import sys


def w0(_: int) -> None:
    def noop() -> None:
        return None

    noop()


def w1(length: int) -> None:
    def link(previous: int) -> int:
        return previous + 1

    value = link(0)
    for _ in range(length - 1):
        value = link(value)


def w2(width: int) -> None:
    def noop(item: int) -> int:
        return item

    values = [noop(item) for item in list(range(width))]
    assert len(values) == width


def w3(rows: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.random((rows, 10)), columns=[f"c{i}" for i in range(10)])
    for index in range(4):
        column = f"c{index}"
        frame = frame.assign(**{column: frame[column] + 1})


def w4(rows: int) -> None:
    import numpy as np
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    features = rng.standard_normal((rows, 50))
    target = features @ rng.standard_normal(50) + rng.standard_normal(rows)
    split = rows * 4 // 5
    alphas = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]
    scores = [
        Ridge(alpha=alpha)
        .fit(features[:split], target[:split])
        .score(features[split:], target[split:])
        for alpha in alphas
    ]
    assert alphas[scores.index(max(scores))] in alphas


if __name__ == "__main__":
    globals()[sys.argv[1]](int(sys.argv[2]))
