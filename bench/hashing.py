"""SHA-256 (hashlib, SHA-NI when the CPU has it) against BLAKE3 for content addressing.

    python bench/hashing.py

Hashes an 80 MB buffer (a W3 DataFrame artifact) and 10,000 small values
(W5's element artifacts); median of several runs, in the same process.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time
from collections.abc import Callable

import blake3


def median_seconds(work: Callable[[], object], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    large = os.urandom(80_000_000)
    small = [str(i).encode() for i in range(10_000)]
    candidates: dict[str, Callable[[bytes], str]] = {
        "sha256": lambda data: hashlib.sha256(data).hexdigest(),
        "blake3, 1 thread": lambda data: blake3.blake3(data).hexdigest(),
        "blake3, all cores": lambda data: blake3.blake3(
            data, max_threads=blake3.blake3.AUTO
        ).hexdigest(),
    }
    print("| algorithm | 80 MB | throughput | 10,000 small values |")
    print("|---|---|---|---|")
    for name, digest in candidates.items():
        big = median_seconds(lambda digest=digest: digest(large))
        many = median_seconds(lambda digest=digest: [digest(item) for item in small])
        print(
            f"| {name} | {big * 1000:.1f} ms | {80 / big / 1000:.2f} GB/s | {many * 1000:.1f} ms |"
        )


if __name__ == "__main__":
    main()
