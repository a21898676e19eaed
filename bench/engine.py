"""Engine benchmark: whole `cadencia run` processes against plain Python, same run, same machine.

Workloads (issue 2):
  W0  one no-op step
  W1  a chain of 100 no-op steps
  W2  one step fanning out to 500 no-op steps and a join receiving all 500 results
  W3  five chained steps passing a 1,000,000 x 10 float DataFrame (each adds 1 to a column)
  W4  8 Ridge regressions (200,000 x 50) with different alphas, in parallel; the best is picked
  W5  a 10,000-way fan-out (also 1k, 2k, 5k to check that time grows linearly)

Each measurement is the wall time of a whole process (interpreter start, imports, run,
state and artifacts persisted in a fresh CADENCIA_HOME, exit), median of --repeat runs.
The plain-Python baseline runs the same functions as ordinary calls in one process.

    python bench/engine.py                # full table (about two minutes)
    python bench/engine.py --repeat 3 --only W0 W1
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOADS = HERE / "workloads"
RESULTS = HERE / "results"


@dataclass
class Workload:
    key: str
    description: str
    file: str
    params: list[str]
    plain: list[str]
    target: str


WORKLOAD_LIST = [
    Workload("W0", "one no-op step", "w0_one_step.py", [], ["w0", "1"], "<= 0.25 s"),
    Workload(
        "W1", "chain of 100 no-op steps", "w1_chain.py", ["length=100"], ["w1", "100"], "<= 0.4 s"
    ),
    Workload("W2", "fan-out 500 + join", "w2_fan_out.py", ["width=500"], ["w2", "500"], "<= 1.2 s"),
    Workload(
        "W3",
        "80 MB DataFrame x 5 steps",
        "w3_dataframe.py",
        ["rows=1000000"],
        ["w3", "1000000"],
        "<= 3x plain",
    ),
    Workload(
        "W4", "8 Ridge fits + pick best", "w4_ridge.py", ["rows=200000"], ["w4", "200000"], ""
    ),
    Workload(
        "W5-1k", "fan-out 1,000 + join", "w2_fan_out.py", ["width=1000"], ["w2", "1000"], "linear"
    ),
    Workload(
        "W5-2k", "fan-out 2,000 + join", "w2_fan_out.py", ["width=2000"], ["w2", "2000"], "linear"
    ),
    Workload(
        "W5-5k", "fan-out 5,000 + join", "w2_fan_out.py", ["width=5000"], ["w2", "5000"], "linear"
    ),
    Workload(
        "W5", "fan-out 10,000 + join", "w2_fan_out.py", ["width=10000"], ["w2", "10000"], "<= 15 s"
    ),
]


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def measure_cadencia(workload: Workload, repeat: int, executor: str) -> list[float]:
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="cadencia-bench-") as home:
            env = {**os.environ, "CADENCIA_HOME": home}
            command = [
                str(Path(sys.executable).parent / "cadencia"),
                "run",
                str(WORKLOADS / workload.file),
                "--executor",
                executor,
            ]
            for param in workload.params:
                command += ["-p", param]
            times.append(timed(command, env))
    return times


def measure_plain(workload: Workload, repeat: int) -> list[float]:
    command = [sys.executable, str(WORKLOADS / "plain.py"), *workload.plain]
    return [timed(command, dict(os.environ)) for _ in range(repeat)]


@dataclass
class Row:
    key: str
    description: str
    plain_median: float
    cadencia_median: float
    cadencia_min: float
    cadencia_max: float
    target: str
    verdict: str


def verdict(workload: Workload, plain: float, ours: float) -> str:
    target = workload.target
    if target.startswith("<= ") and target.endswith(" s"):
        return "met" if ours <= float(target[3:-2]) else "MISSED"
    if target == "<= 3x plain":
        return "met" if ours <= 3 * plain else "MISSED"
    return ""


def linearity(rows: dict[str, Row]) -> str:
    sizes = {"W5-1k": 1000, "W5-2k": 2000, "W5-5k": 5000, "W5": 10000}
    points = [(sizes[k], rows[k].cadencia_median) for k in sizes if k in rows]
    if len(points) < 3:
        return ""
    per_task = [(t2 - t1) / (n2 - n1) * 1000 for (n1, t1), (n2, t2) in itertools.pairwise(points)]
    spread = max(per_task) / min(per_task)
    shape = "linear" if spread <= 1.5 else "NOT linear"
    slopes = ", ".join(f"{value:.2f}" for value in per_task)
    return f"marginal cost per task between sizes: {slopes} ms ({shape}: max/min {spread:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="workload keys, e.g. W0 W3")
    parser.add_argument("--executor", default="process")
    args = parser.parse_args()
    chosen = [w for w in WORKLOAD_LIST if not args.only or w.key in args.only]
    rows: dict[str, Row] = {}
    for workload in chosen:
        repeat = args.repeat if not workload.key.startswith("W5") else max(3, args.repeat - 2)
        plain = measure_plain(workload, repeat)
        ours = measure_cadencia(workload, repeat, args.executor)
        row = Row(
            workload.key,
            workload.description,
            statistics.median(plain),
            statistics.median(ours),
            min(ours),
            max(ours),
            workload.target,
            "",
        )
        row.verdict = verdict(workload, row.plain_median, row.cadencia_median)
        rows[workload.key] = row
        print(
            f"{workload.key}: plain {row.plain_median:.3f} s, cadencia {row.cadencia_median:.3f} s",
            file=sys.stderr,
        )

    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; executor {args.executor}; median of "
        f"{args.repeat} whole-process runs (W5 sizes: {max(3, args.repeat - 2)}).",
        "",
        "| workload | plain Python | cadencia (median) | min - max | ratio to plain | target "
        "| verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows.values():
        lines.append(
            f"| {row.key} {row.description} | {row.plain_median:.3f} s "
            f"| {row.cadencia_median:.3f} s "
            f"| {row.cadencia_min:.3f} - {row.cadencia_max:.3f} s "
            f"| {row.cadencia_median / row.plain_median:.1f}x | {row.target} | {row.verdict} |"
        )
    note = linearity(rows)
    if note:
        lines += ["", note]
    report = "\n".join(lines)
    print(report)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"engine-{stamp}.json").write_text(
        json.dumps({"rows": [asdict(r) for r in rows.values()], "note": note}, indent=2)
    )
    (RESULTS / "engine-latest.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
