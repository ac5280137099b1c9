"""Built-in baselines: uniform random search and exhaustive enumeration."""

import itertools
import math
from typing import Annotated

import numpy as np
from pydantic import Field

from stitchbench.errors import InputError
from stitchbench.moo._api import Problem, sample_uniform

from ._api import Evaluator, Solver


class RandomSearch(Solver):
    """Uniform random search: batches of decisions drawn uniformly from the space."""

    name = "random"
    supports = frozenset({"real", "integer", "categorical", "binary"})

    def __init__(self, batch: Annotated[int, Field(ge=1, le=1_000_000)] = 50):
        self.batch = batch

    def solve(self, problem, evaluator: Evaluator, budget, seed):
        rng = np.random.default_rng(seed)
        while evaluator.remaining > 0:
            evaluator(sample_uniform(problem, min(self.batch, evaluator.remaining), rng))


def space_size(problem: Problem) -> int:
    return math.prod(int(v.bounds[1] - v.bounds[0]) + 1 for v in problem.variables)


class Exhaustive(Solver):
    """Enumerates a discrete space in a fixed (lexicographic) order, up to the budget."""

    name = "exhaustive"
    supports = frozenset({"integer", "categorical", "binary"})

    def __init__(
        self,
        limit: Annotated[int, Field(ge=1, le=10**9)] = 100_000,
        batch: Annotated[int, Field(ge=1, le=1_000_000)] = 256,
    ):
        self.limit, self.batch = limit, batch

    def check(self, problem: Problem) -> None:
        size = space_size(problem)
        if size > self.limit:
            raise InputError(
                f"exhaustive: the space of {problem.name!r} has {size} candidates, more than the limit {self.limit}"
            )

    def solve(self, problem, evaluator: Evaluator, budget, seed):
        self.check(problem)
        ranges = [range(int(v.bounds[0]), int(v.bounds[1]) + 1) for v in problem.variables]
        rows = itertools.product(*ranges)
        while evaluator.remaining > 0:
            chunk = list(itertools.islice(rows, min(self.batch, evaluator.remaining)))
            if not chunk:
                return
            evaluator(np.array(chunk, dtype=float))
