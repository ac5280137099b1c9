"""The 7-member ensemble instance's throughput in pool workers (issue 35): candidates scored per second in a
batch of 1,000 uniform candidates on val, by one worker alone and per worker with two workers at once, in one
run; each worker runs one BLAS thread (`stitchbench._processes.pin_threads`). Goal: within 1.5x (2 cores)."""

import time

import numpy as np

from stitchbench._processes import worker_pool
from stitchbench.solvers import sample_uniform
from stitchbench.tabular import load

INSTANCE = "digits-shift-4.weights-7-switches"
SECONDS = 3.0  # each worker scores batches for this long

_problem = None


def _load() -> None:
    """A worker's setup: load the instance once, and warm its scorers up."""
    global _problem
    _problem = load(INSTANCE)
    _problem.evaluate(sample_uniform(_problem, 1000, np.random.default_rng(0)), "val")


def _rate(seed: int) -> float:
    """Candidates per second, scoring batches of 1,000 for SECONDS."""
    rng = np.random.default_rng(seed)
    batches = [sample_uniform(_problem, 1000, rng) for _ in range(8)]
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < SECONDS:
        _problem.evaluate(batches[done % len(batches)], "val")
        done += 1
    return done * 1000 / (time.perf_counter() - start)


def rates(workers: int) -> list[float]:
    with worker_pool(workers, f"{__name__}:_load") as pool:
        return list(pool.map(_rate, range(workers)))


def test_two_workers_against_one(benchmark):
    def run() -> tuple[float, float]:
        return rates(1)[0], min(rates(2))

    alone, each = benchmark.pedantic(run, rounds=1, iterations=1)
    ratio = alone / each
    benchmark.extra_info |= {"alone_per_s": alone, "two_workers_each_per_s": each, "ratio": ratio}
    print(f"\n{INSTANCE}: {alone:,.0f}/s alone, {each:,.0f}/s per worker of two: {ratio:.2f}x (goal <= 1.5x)")
