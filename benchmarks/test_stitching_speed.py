"""Stitching performance, as ratios measured in one run.

1. Feature matching all stitches at once (supernetwork) vs one point at a time, same number of steps
   (goal: speed-up >= 0.6 x number of points).
2. Evaluating a stitch-ensemble candidate from the activation cache vs a full forward of both parents,
   per point, against the ideal FLOPs ratio (goal: measured >= 80% of ideal).
"""

import time

import pytest
import torch

from stitchbench.stitching import (
    ActivationCache,
    CostModel,
    StitchEnsemble,
    StitchRecipe,
    StitchSet,
    ensemble_branch_probs,
    prepare,
    train_feature_match,
)


@pytest.fixture(scope="module")
def setup(zoo, cache_dir):
    return prepare(zoo, "uci-digits", "double-batched", cache_dir=cache_dir)


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def test_feature_match_supernetwork_vs_per_point(benchmark, setup, digits):
    m = setup.members
    x = digits.party("uci-digits").split("train").x
    recipe = StitchRecipe()
    steps = 30
    n = len(m.points)

    def all_at_once():
        train_feature_match(m, StitchSet(m.points, len(m)), x, recipe, 0, steps=steps)

    def one_at_a_time():
        s = StitchSet(m.points, len(m))
        for pi in range(n):
            train_feature_match(m, s, x, recipe, 0, points=[pi], steps=steps)

    t_all = benchmark.pedantic(all_at_once, rounds=3, iterations=1)
    t_all = benchmark.stats.stats.min
    t_each = best_of(one_at_a_time)
    speedup = t_each / t_all
    benchmark.extra_info.update(points=n, speedup=speedup, goal=0.6 * n, per_point_s=t_each, all_at_once_s=t_all)
    print(
        f"\nfeature matching: {n} points, all at once {t_all:.2f}s, one at a time {t_each:.2f}s, "
        f"speed-up {speedup:.2f}x (goal {0.6 * n:.1f}x)"
    )


def test_cached_evaluation_vs_full_forward(benchmark, setup, digits):
    m, s = setup.members, setup.stitches
    cache = ActivationCache(m, digits)
    cost = CostModel(m, s, digits.example())
    party = "mnist"
    x = digits.party(party).split("val").x
    full_flops = cost.full(0) + cost.full(1)
    rows = []
    for pi in range(len(m.points)):
        lives = [cache.lives(k, pi, party, "val") for k in (0, 1)]
        suffix_flops = cost.ensemble(pi, 0.5, [0.5, 0.5]) - sum(cost.segment(k, None, pi) for k in (0, 1))
        ideal = full_flops / suffix_flops
        with torch.no_grad():
            t_cached = best_of(lambda lives=lives, pi=pi: ensemble_branch_probs(m, s, pi, lives, 0.5), 5)
            t_full = best_of(
                lambda pi=pi: torch.cat([StitchEnsemble(m, s, pi, 0.5, [0.5, 0.5])(c) for c in x.split(128)]), 5
            )
        measured = t_full / t_cached
        rows.append((m.point_names[pi], ideal, measured, measured / ideal))
    benchmark.pedantic(
        lambda: ensemble_branch_probs(m, s, 0, [cache.lives(k, 0, party, "val") for k in (0, 1)], 0.5),
        rounds=3,
        iterations=1,
    )
    benchmark.extra_info["per_point"] = rows
    print("\npoint, ideal speed-up (FLOPs), measured, measured/ideal")
    for r in rows:
        print(f"{r[0]:>10} {r[1]:8.2f} {r[2]:8.2f} {r[3]:6.0%}")
