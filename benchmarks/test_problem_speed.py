"""Problem evaluation throughput."""

import time

import numpy as np
import pytest

from stitchbench.problems import create_problem


@pytest.fixture(scope="module")
def weights(zoo):
    return create_problem("ensemble-weights", zoo)


def test_ensemble_weights_throughput(benchmark, weights):
    """Goal: >= 10,000 evaluations/s on a batch of 1,000 weight vectors (val split)."""
    rng = np.random.default_rng(0)
    weights.evaluate([[0.5, 0.5]])  # member outputs cached

    def batch():
        weights._memo.clear()  # measure evaluation, not the memo
        return weights.evaluate(rng.uniform(size=(1000, 2)), "val")

    benchmark(batch)
    rate = 1000 / benchmark.stats.stats.mean
    benchmark.extra_info["evals_per_s"] = rate
    print(f"\nensemble-weights: {rate:,.0f} evaluations/s")


def test_stitch_ensemble_throughput_cached_vs_uncached(benchmark, zoo, cache_dir):
    from stitchbench.stitching import StitchEnsemble

    p = create_problem("stitch-ensemble", zoo, host="uci-digits", cache_dir=cache_dir)
    rng = np.random.default_rng(1)
    n_pts = len(p.setup.members.points)
    X = np.column_stack([rng.integers(0, n_pts, 20), rng.uniform(0.05, 1, 20), rng.uniform(size=(20, 2))])
    p.evaluate(X[:1])
    for pi in range(n_pts):  # warm the activation cache
        p.evaluate([[pi, 0.5, 0.5, 0.5]])

    def cached():
        p._memo.clear()
        p._branches.clear()
        p.evaluate(X, "val")

    benchmark.pedantic(cached, rounds=3, iterations=1)
    rate_cached = len(X) / benchmark.stats.stats.min
    m, s = p.setup.members, p.setup.stitches
    start = time.perf_counter()
    import torch

    with torch.no_grad():
        for pi, a, w0, w1 in X:
            total = w0 + w1
            net = StitchEnsemble(m, s, int(pi), float(a), [w0 / total, w1 / total])
            for party in zoo.scenario.party_names:
                x = zoo.scenario.party(party).split("val").x
                torch.cat([net(c) for c in x.split(128)])
    rate_full = len(X) / (time.perf_counter() - start)
    benchmark.extra_info.update(cached_evals_per_s=rate_cached, uncached_evals_per_s=rate_full)
    print(
        f"\nstitch-ensemble: {rate_cached:.1f} evals/s from the cache, {rate_full:.1f} without; "
        f"ratio {rate_cached / rate_full:.2f}x"
    )
