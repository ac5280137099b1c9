"""Problem evaluation throughput: tabular (ensemble weights, stitch-ensemble with alpha on a grid) and live,
and the time to build a stitch-ensemble table."""

import numpy as np
import pytest

from stitchbench.moo import TabularProblem
from stitchbench.problems import create_problem


def candidates(n_points: int, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.integers(0, n_points, n), rng.uniform(size=n), rng.uniform(size=(n, 2))])


@pytest.fixture(scope="module")
def live(zoo, cache_dir):
    """Live stitch-ensembles of both hosts: their stitch sets trained (outside every timing)."""
    return {h: create_problem("stitch-ensemble", zoo, host=h, cache_dir=cache_dir) for h in zoo.scenario.party_names}


def test_ensemble_weights_throughput(benchmark, zoo):
    """Goal: >= 100,000 evaluations/s on a batch of 1,000 weight vectors (val split)."""
    weights = create_problem("ensemble-weights", zoo)
    X = np.random.default_rng(0).uniform(size=(1000, 2))
    weights.evaluate(X, "val")  # member outputs and scorers built
    benchmark(weights.evaluate, X, "val")
    rate = 1000 / benchmark.stats.stats.mean
    benchmark.extra_info["evals_per_s"] = rate
    print(f"\nensemble-weights: {rate:,.0f} evaluations/s")


def test_stitch_ensemble_table_build(benchmark, zoo, live, tmp_path_factory, cache_dir):
    """Goal: <= 60 s for both hosts' tables (every point x 21 alphas, val and test), stitch training excluded:
    the stitch sets come from `cache_dir`, the tables go to an empty cache."""
    tables = tmp_path_factory.mktemp("tables")
    for problem in live.values():  # the stitch sets, where the table build looks for them
        target = tables / "stitches" / problem.setup.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(problem.setup.path)

    def build():
        return [create_problem("stitch-ensemble", zoo, host=h, alpha_grid=21, cache_dir=tables) for h in live]

    built = benchmark.pedantic(build, rounds=1, iterations=1)
    assert all(isinstance(p, TabularProblem) for p in built)
    print(f"\nstitch-ensemble tables, both hosts, 21 alphas: {benchmark.stats.stats.min:.1f} s")


def test_stitch_ensemble_tabular_vs_live_throughput(benchmark, zoo, live, cache_dir):
    """Goal: >= 100,000 evaluations/s on a batch of 1,000 candidates (val), tabular; live measured in the same
    run (20 candidates, activation cache warm, no memo) for the ratio."""
    table = create_problem("stitch-ensemble", zoo, host="uci-digits", alpha_grid=21, cache_dir=cache_dir)
    n_points = len(table.variables[0].choices)
    X = candidates(n_points, 1000)
    table.evaluate(X, "val")  # scorers built
    benchmark(table.evaluate, X, "val")
    rate = 1000 / benchmark.stats.stats.mean
    p = live["uci-digits"]
    Y = candidates(n_points, 20, seed=1)
    p.evaluate(Y, "val")  # activation cache warm
    import time

    p._memo.clear()
    p._scorers.clear()
    start = time.perf_counter()
    p.evaluate(Y, "val")
    live_rate = len(Y) / (time.perf_counter() - start)
    benchmark.extra_info.update(tabular_evals_per_s=rate, live_evals_per_s=live_rate)
    print(
        f"\nstitch-ensemble: tabular {rate:,.0f} evals/s, live {live_rate:.1f} evals/s; ratio {rate / live_rate:,.0f}x"
    )
