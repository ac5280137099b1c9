"""Tabular throughput per family: candidates scored per second in a batch of 1,000 uniform candidates on
val, on 2 cores. Goal (issue 23): >= 1,000,000 candidates/s for every tabular family."""

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
