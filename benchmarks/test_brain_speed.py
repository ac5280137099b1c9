"""brain-mri at its default size (64x64 coronal slices, 16-channel U-Nets): building the zoo from scratch
in two processes, as `stitchbench run` does (goal: <= 6 minutes on a 2-core machine), and evaluating one
stitch-ensemble candidate on both sites' val splits. Each records wall time, CPU time (user + sys, less
sensitive to a shared machine) and the load average at the start, since a busy machine inflates wall time."""

import os
import time

import numpy as np
import pytest

from stitchbench.data import get_scenario
from stitchbench.problems import create_problem
from stitchbench.zoo import build_zoo


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished (joined) worker processes."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@pytest.fixture(scope="module")
def brain():
    return get_scenario("brain-mri")


def test_brain_zoo_build(benchmark, brain, cache_dir):
    """Cold: the five models (two locals, merged, FedAvg, FedProx) trained with early stopping."""
    per_model: dict[str, float] = {}
    load, cpu = os.getloadavg()[0], cpu_seconds()
    zoo = benchmark.pedantic(
        lambda: build_zoo(
            brain, cache_dir=cache_dir, on_model=lambda d, t: per_model.__setitem__(d, round(t, 1)), workers=2
        ),
        rounds=1,
        iterations=1,
    )
    cpu = cpu_seconds() - cpu
    epochs = {r.kind: r.manifest["epochs_run"] for r in zoo.records}
    benchmark.extra_info.update(per_model=per_model, epochs_run=epochs, cpu_s=cpu, load_1min=load)
    print(f"\nbrain-mri zoo: cpu {cpu:.0f} s, load {load:.1f}; per model (s): {per_model}; epochs run: {epochs}")


def test_stitch_ensemble_evaluation(benchmark, brain, cache_dir):
    """One stitched candidate (a middle point, alpha 0.5) scored on both sites' val splits, from a warm
    activation cache (what a solver's evaluation costs)."""
    problem = create_problem(
        "stitch-ensemble", build_zoo(brain, cache_dir=cache_dir), host="site-a", cache_dir=cache_dir
    )
    x = np.array([[len(problem.setup.members.points) // 2, 0.5, 0.5, 0.5]])
    problem.evaluate(x, "val")  # fills the activation cache at that point

    def once():
        problem._memo.clear()
        problem._scorers.clear()
        return problem.evaluate(x, "val")

    load, cpu = os.getloadavg()[0], cpu_seconds()
    start = time.perf_counter()
    benchmark.pedantic(once, rounds=20, iterations=1)
    cpu = (cpu_seconds() - cpu) / 20
    wall = (time.perf_counter() - start) / 20
    benchmark.extra_info.update(cpu_s_per_eval=cpu, load_1min=load)
    print(f"\nstitch-ensemble evaluation: {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms cpu, load {load:.1f}")
