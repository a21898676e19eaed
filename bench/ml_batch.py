"""Batch scoring throughput: the pipeline against calling the model directly on the month.

Three figures for one month (~28k flights), median of N:
* whole process: ``cadencia run batch_prediction_pipeline --no-cache`` vs a plain script that
  loads the production model, reads the month's features, predicts and writes Parquet;
* in process: ``batch.score`` in chunks vs one ``booster.predict`` on the whole month.

    python bench/ml_batch.py [--repeat 5] [--month 4] [--home /tmp/bench-ml]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ml_common import median, prepared_home, run_pipeline, table, timed


def plain(month: int) -> None:
    import pandas as pd

    from cadencia.ml import features, paths, registry, tracking
    from cadencia.ml.feature_store import FeatureStore

    ref = registry.require_alias(tracking.client(), "flights-delay", "production")
    booster = registry.load_booster(ref)
    frame = features.training_frame(FeatureStore(paths.feature_store_dir()), [month])
    scores = booster.predict(features.model_matrix(frame))
    out = pd.DataFrame(
        {
            "flight_id": frame["flight_id"],
            "delay_probability": scores,
            "model_version": ref.version,
            "scored_at": pd.Timestamp.now(tz="UTC"),
        }
    )
    target = paths.home() / "bench-plain-predictions"
    target.mkdir(exist_ok=True)
    out.to_parquet(target / f"month={month:02d}.parquet", index=False)


def in_process(month: int, repeat: int) -> list[list[str]]:
    import pandas as pd

    from cadencia.ml import batch, features, paths, registry, tracking
    from cadencia.ml.feature_store import FeatureStore

    ref = registry.require_alias(tracking.client(), "flights-delay", "production")
    booster = registry.load_booster(ref)
    frame = features.training_frame(FeatureStore(paths.feature_store_dir()), [month])
    rows = []
    for label, call in [
        ("booster.predict, whole month", lambda: booster.predict(features.model_matrix(frame))),
        *[
            (
                f"batch.score, chunks of {size}",
                lambda size=size: batch.score(
                    booster,
                    frame,
                    ref,
                    threshold=0.5,
                    scored_at=pd.Timestamp.now(tz="UTC"),
                    chunk_rows=size,
                ),
            )
            for size in (10_000, 2_000)
        ],
    ]:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        rows.append([label, f"{median(times):.3f}", f"{len(frame) / median(times):,.0f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--month", type=int, default=4)
    parser.add_argument("--home", default=None)
    parser.add_argument("--plain-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_run:
        plain(args.month)
        return
    home = prepared_home(Path(args.home or tempfile.mkdtemp(prefix="bench-ml-")))
    from cadencia.ml import registry, tracking

    if registry.resolve_alias(tracking.client(), "flights-delay", "production") is None:
        run_pipeline("ml_training_pipeline", {"train_months": "1,2", "eval_month": 3, "trials": 4})
    import pyarrow.parquet as pq

    cadencia_times, plain_times = [], []
    for _ in range(args.repeat):
        cadencia_times.append(
            run_pipeline("batch_prediction_pipeline", {"month": args.month}, "--no-cache")
        )
        plain_times.append(
            timed([sys.executable, __file__, "--plain-run", "--month", str(args.month)])
        )
    rows = pq.ParquetFile(
        home / "predictions" / f"month={args.month:02d}" / "part-0.parquet"
    ).metadata.num_rows
    c, p = median(cadencia_times), median(plain_times)
    print(
        table(
            [f"whole process, month {args.month} ({rows} rows)", "median s", "rows/s"],
            [
                ["plain script: load model, predict month, write", f"{p:.2f}", f"{rows / p:,.0f}"],
                [
                    "cadencia run batch_prediction_pipeline --no-cache",
                    f"{c:.2f}",
                    f"{rows / c:,.0f}",
                ],
            ],
        )
    )
    print()
    print(
        table(
            ["in process (scoring only)", "median s", "rows/s"], in_process(args.month, args.repeat)
        )
    )


if __name__ == "__main__":
    main()
