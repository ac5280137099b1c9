"""The report's per-run work: a run's hypervolume trace (`results._indicators.trace`, what the anytime
comparison reads), on a long run of 2 objectives (a Ctrl-C test's 40,000 evaluations) and on a suite's job of
5 objectives (1,000 evaluations), with random search's objective vectors (most are dominated)."""

import numpy as np
import pytest

from stitchbench.moo._instance import ProblemInstance
from stitchbench.results._indicators import trace


def instance(objectives: int) -> ProblemInstance:
    return ProblemInstance(
        id="i", problem_id="p", scenario="s", scenario_name="s", scenario_params={}, zoo_seed=0,
        family="ensemble-weights", params={}, host=None, parties=[f"p{i}" for i in range(objectives)],
        metric="accuracy", objectives=[f"p{i}" for i in range(objectives)], maximize=[True] * objectives,
        variables=[], bounds=[(0, 1)] * objectives, reference_point=[0] * objectives, front="exact", artifacts={},
    )  # fmt: skip


@pytest.mark.parametrize("rows,objectives", [(40_000, 2), (1_000, 5)])
def test_trace(benchmark, rows, objectives):
    rng = np.random.default_rng(0)
    F = rng.beta(8, 2, (rows, objectives))  # scores near 0.8, as a model's accuracies are
    rec = instance(objectives)
    hv = benchmark(trace, F, rec)
    assert hv[-1] > 0
    print(f"\n{rows} evaluations, {objectives} objectives: {benchmark.stats.stats.min * 1e3:.1f} ms")
