"""pymoo's algorithms, driven by ask/tell so the evaluator owns every evaluation.

Operators fit the variable types: real spaces use SBX + polynomial mutation; all-binary spaces bit-flip
mutation and two-point crossover; other discrete spaces integer sampling with SBX/PM and rounding repair.
Spaces with categorical variables run on pymoo's mixed-variable interface (choices, integers, reals each
with their own operators) in every algorithm that takes a mating; MOEA/D, which does not, gets the numeric
encoding rounded before evaluation. `pymoo.mixed-ga` is pymoo's mixed-variable GA with rank-and-crowding
survival. Reference directions (NSGA-III, MOEA/D, RVEA) are sized from the
objective count to about the population size.
"""

import math
from collections.abc import Callable
from typing import Annotated

import numpy as np
from pydantic import Field

from stitchbench.errors import InputError
from stitchbench.moo._api import Problem

from ._api import Evaluator, Solver


def operators(kinds: set[str]) -> dict:
    from pymoo.operators.crossover.pntx import TwoPointCrossover
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.bitflip import BitflipMutation
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import BinaryRandomSampling, FloatRandomSampling, IntegerRandomSampling

    if kinds == {"binary"}:
        return {"sampling": BinaryRandomSampling(), "crossover": TwoPointCrossover(), "mutation": BitflipMutation()}
    if "real" not in kinds:
        return {
            "sampling": IntegerRandomSampling(),
            "crossover": SBX(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair()),
            "mutation": PM(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair()),
        }
    return {"sampling": FloatRandomSampling(), "crossover": SBX(eta=15, prob=0.9), "mutation": PM(eta=20)}


MIXED_CAPABLE = frozenset({"nsga2", "nsga3", "smsemoa", "agemoea2", "rvea"})  # take pymoo's mixed mating


def mixed_operators() -> dict:
    """pymoo's mixed-variable sampling, mating and duplicate elimination: categoricals as choices (integers
    by index), reals with SBX/PM, each by its own type."""
    from pymoo.core.mixed import MixedVariableDuplicateElimination, MixedVariableMating, MixedVariableSampling

    dup = MixedVariableDuplicateElimination()
    return {
        "sampling": MixedVariableSampling(),
        "mating": MixedVariableMating(eliminate_duplicates=dup),
        "eliminate_duplicates": dup,
    }


def uses_mixed(algorithm: str, problem: Problem) -> bool:
    """Whether `algorithm` runs on pymoo's mixed-variable interface: always for the mixed GA; for the others
    that take a mating, where the problem has categorical variables (MOEA/D keeps the rounded numeric form)."""
    return algorithm == "mixed-ga" or (algorithm in MIXED_CAPABLE and "categorical" in problem.kinds)


def ref_dirs(n_obj: int, pop_size: int) -> np.ndarray:
    """Das-Dennis directions, the most partitions whose count does not exceed the population size."""
    from pymoo.util.ref_dirs import get_reference_directions

    p = 1
    while math.comb(p + 1 + n_obj - 1, n_obj - 1) <= pop_size:
        p += 1
    return get_reference_directions("das-dennis", n_obj, n_partitions=p)


def build(algorithm: str, problem: Problem, pop_size: int):
    """The pymoo algorithm (pymoo is imported here, when a pymoo solver first runs)."""
    from pymoo.algorithms.moo.moead import MOEAD
    from pymoo.algorithms.moo.nsga2 import NSGA2, RankAndCrowding
    from pymoo.algorithms.moo.nsga3 import NSGA3
    from pymoo.algorithms.moo.rvea import RVEA
    from pymoo.algorithms.moo.sms import SMSEMOA
    from pymoo.core.mixed import MixedVariableGA

    n_obj = len(problem.objectives)
    if algorithm == "moead":
        return MOEAD(ref_dirs=ref_dirs(n_obj, pop_size), n_neighbors=min(15, pop_size), **operators(problem.kinds))
    ops = (
        mixed_operators()
        if uses_mixed(algorithm, problem)
        else {**operators(problem.kinds), "eliminate_duplicates": True}
    )
    if algorithm == "nsga2":
        return NSGA2(pop_size=pop_size, **ops)
    if algorithm == "nsga3":
        return NSGA3(ref_dirs=ref_dirs(n_obj, pop_size), pop_size=pop_size, **ops)
    if algorithm == "smsemoa":
        return SMSEMOA(pop_size=pop_size, **ops)
    if algorithm == "agemoea2":
        from pymoo.algorithms.moo.age2 import AGEMOEA2  # imports numba: only when asked for

        return AGEMOEA2(pop_size=pop_size, **ops)
    if algorithm == "rvea":
        return RVEA(ref_dirs=ref_dirs(n_obj, pop_size), pop_size=pop_size, **ops)
    if algorithm == "mixed-ga":
        return MixedVariableGA(pop_size=pop_size, survival=RankAndCrowding())
    raise ValueError(algorithm)


class PymooSolver(Solver):
    algorithm: str
    supports = frozenset({"real", "integer", "categorical", "binary"})

    def __init__(self, pop_size: Annotated[int, Field(ge=4, le=100_000)] = 40):
        self.pop_size = pop_size

    def check_budget(self, budget: int) -> None:
        """A budget that evaluates the first population whole."""
        if self.pop_size > budget:
            raise InputError(
                f"solver {self.name!r}: pop_size {self.pop_size} is more than the budget, {budget} evaluations; "
                f"give pop_size <= {budget}"
            )

    def solve(self, problem, evaluator: Evaluator, budget, seed):
        from pymoo.core.individual import Individual
        from pymoo.core.population import Population

        from stitchbench.moo._adapters import to_pymoo
        from stitchbench.moo._instance import normalized, objective_bounds

        mixed = uses_mixed(self.algorithm, problem)
        pm = to_pymoo(problem, evaluator.split, mixed=mixed)
        # the algorithm sees each objective over its range (a cost in FLOPs would otherwise swamp the scores
        # in MOEA/D's unnormalized decomposition); the evaluator logs raw values
        bounds = objective_bounds(problem)
        algorithm = build(self.algorithm, problem, self.pop_size)
        algorithm.setup(pm, termination=("n_eval", budget), seed=seed, verbose=False)
        while algorithm.has_next() and evaluator.remaining > 0:
            infills = algorithm.ask()
            if infills is None:  # no new candidate left (pymoo gives up on a space its population exhausted)
                break
            single = isinstance(infills, Individual)  # loop-wise algorithms (MOEA/D) ask one at a time
            pop = Population.create(infills) if single else infills
            if len(pop) == 0:
                break
            X = pop.get("X")
            F = evaluator(pm.rows(X if mixed else np.atleast_2d(X)))
            pop = pop[: len(F)]
            pop.set("F", pm.sign * normalized(F, bounds))
            algorithm.tell(infills=pop[0] if single else pop)


def pymoo_solver(algorithm: str, description: str) -> type[PymooSolver]:
    return type(
        f"Pymoo_{algorithm}",
        (PymooSolver,),
        {"name": f"pymoo.{algorithm}", "algorithm": algorithm, "__doc__": description},
    )


PYMOO: dict[str, Callable] = {
    "pymoo.nsga2": pymoo_solver("nsga2", "pymoo NSGA-II"),
    "pymoo.nsga3": pymoo_solver("nsga3", "pymoo NSGA-III (Das-Dennis reference directions)"),
    "pymoo.moead": pymoo_solver("moead", "pymoo MOEA/D (Das-Dennis reference directions)"),
    "pymoo.smsemoa": pymoo_solver("smsemoa", "pymoo SMS-EMOA"),
    "pymoo.agemoea2": pymoo_solver("agemoea2", "pymoo AGE-MOEA2"),
    "pymoo.rvea": pymoo_solver("rvea", "pymoo RVEA (Das-Dennis reference directions)"),
    "pymoo.mixed-ga": pymoo_solver("mixed-ga", "pymoo mixed-variable GA with rank-and-crowding survival"),
}
