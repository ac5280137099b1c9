import numpy as np
import pytest

from stitchbench.data import get_scenario
from stitchbench.solvers import sample_uniform
from stitchbench.zoo import build_zoo

QUICK = "--benchmark-max-time=0.05 --benchmark-min-rounds=1 --benchmark-warmup=off"


def pytest_collection_modifyitems(config, items):
    """Every benchmark reports what it timed, so under --benchmark-disable (nothing timed) each one that takes
    the benchmark fixture is skipped, saying how to run them all quickly instead."""
    if config.getoption("benchmark_disable"):
        skip = pytest.mark.skip(reason=f"--benchmark-disable times nothing to report; for a quick run: {QUICK}")
        for item in items:
            if "benchmark" in item.fixturenames:
                item.add_marker(skip)


@pytest.fixture
def throughput(benchmark):
    """Benchmarks `problem.evaluate` on a batch of 1,000 uniform candidates on val (scorers built before the
    timing): `throughput(problem, name)` records the rate in extra_info, prints and returns it."""

    def measure(problem, name: str) -> float:
        X = sample_uniform(problem, 1000, np.random.default_rng(0))
        problem.evaluate(X, "val")
        benchmark(problem.evaluate, X, "val")
        rate = len(X) / benchmark.stats.stats.mean
        benchmark.extra_info["candidates_per_s"] = rate
        print(f"\n{name}: {rate:,.0f} candidates/s")
        return rate

    return measure


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-cache")


@pytest.fixture(scope="session")
def digits():
    return get_scenario("digits-shift")


@pytest.fixture(scope="session")
def zoo(digits, cache_dir):
    return build_zoo(digits, cache_dir=cache_dir)
