"""Loading a shipped instance by name (issue 23: under 1 s on a torch-free install): in a fresh interpreter
with torch made unimportable, `import stitchbench.tabular` and `load(NAME)` (every sha256 verified), per
instance of the collection; and the bare interpreter's start, measured in the same run, for the ratio.
Then each instance's throughput: candidates scored per second in a batch of 1,000 uniform ones on val; and
the latency of one candidate scored alone (what MOEA/D and Optuna's samplers ask for, one at a time)."""

import subprocess
import sys

import numpy as np
import pytest

from stitchbench.solvers import sample_uniform
from stitchbench.tabular import load
from stitchbench.tabular._catalog import read_catalog

NO_TORCH = "import sys; sys.modules['torch'] = None; "


def start(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bare_interpreter(benchmark):
    benchmark.pedantic(start, args=("pass",), rounds=3, iterations=1)


@pytest.mark.parametrize("name", sorted(read_catalog()))
def test_load_shipped_instance_without_torch(benchmark, name):
    code = f"{NO_TORCH}from stitchbench.tabular import load; load({name!r}).evaluate"
    benchmark.pedantic(start, args=(code,), rounds=3, iterations=1)


@pytest.mark.parametrize("name", sorted(read_catalog()))
def test_shipped_instance_throughput(throughput, name):
    throughput(load(name), name)


SINGLE = 200  # candidates scored one at a time per round


@pytest.mark.parametrize("name", sorted(read_catalog()))
def test_shipped_instance_single_evaluation(benchmark, name):
    problem = load(name)
    rows = [x[None] for x in sample_uniform(problem, SINGLE, np.random.default_rng(0))]
    problem.evaluate(rows[0], "val")

    def one_at_a_time():  # a table scores every candidate it is given (no memo)
        for x in rows:
            problem.evaluate(x, "val")

    benchmark(one_at_a_time)
    per = benchmark.stats.stats.min / SINGLE
    benchmark.extra_info["us_per_evaluation"] = per * 1e6
    print(f"\n{name}: {per * 1e6:,.0f} us per single evaluation")
