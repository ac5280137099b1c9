"""Tabular throughput per family: candidates scored per second in a batch of 1,000 uniform candidates on
val, on 2 cores. Goal (issue 23): >= 1,000,000 candidates/s for every tabular family. And a shipped ensemble's
latency one weighting at a time (as MOEA/D and ask-and-tell loops ask), its parties pooled into one pass and
each party scored alone, in one run."""

import time

import numpy as np
import pytest

from stitchbench.moo import TabularProblem
from stitchbench.problems import create_problem

FAMILIES = {
    "ensemble-weights": {"cache_dir": None},
    "stitch-ensemble": {"host": "uci-digits", "alpha_grid": 21},
    "stitch-ensemble+cost": {"host": "uci-digits", "alpha_grid": 21, "cost": True},
    "stitch-graph": {"host": "uci-digits", "max_points": 4},
}


@pytest.mark.parametrize("name", list(FAMILIES))
def test_tabular_candidates_per_second(throughput, zoo, cache_dir, name):
    params = {"cache_dir": cache_dir, **FAMILIES[name]}
    problem = create_problem(name.split("+")[0], zoo, **{k: v for k, v in params.items() if v is not None})
    assert isinstance(problem, TabularProblem)
    throughput(problem, name)


def test_one_weighting_at_a_time_pooled_against_each_party_alone(benchmark, monkeypatch):
    """500 single weightings of `digits-shift-4.weights-6` (4 parties, 6 members) on val."""
    from stitchbench.moo._scoring import normalize
    from stitchbench.tabular import load
    from stitchbench.tabular._weights import WeightsTable

    problem = load("digits-shift-4.weights-6")
    objectives = [o.name if o.name != "cost" else None for o in problem.objectives]
    W = normalize(np.random.default_rng(0).random((500, len(problem.table.members))))

    def scored() -> list:
        return [problem.table.score(W[i : i + 1], objectives, "val") for i in range(len(W))]

    def run():
        start = time.perf_counter()
        pooled = scored()
        middle = time.perf_counter()
        monkeypatch.setattr(WeightsTable, "pooled", lambda *_: None)
        alone = scored()
        monkeypatch.undo()
        assert all(np.array_equal(a, b) for a, b in zip(pooled, alone, strict=True))
        return (middle - start) / len(W), (time.perf_counter() - middle) / len(W)

    scored()  # the scorers built
    pooled, alone = benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info |= {"pooled_s": pooled, "alone_s": alone, "ratio": alone / pooled}
    print(
        f"\none weighting: {pooled * 1e6:.0f} us pooled, {alone * 1e6:.0f} us each party alone ({alone / pooled:.2f}x)"
    )
