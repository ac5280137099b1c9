"""The solver registry: built-ins plus third-party solvers from the `stitchbench.solvers` entry point group
(loaded on first lookup)."""

from stitchbench.errors import InputError
from stitchbench.moo._api import Problem
from stitchbench.registry import Registry, first_line

from ._api import Solver
from ._builtin import Exhaustive, RandomSearch
from ._halving import SuccessiveHalving
from ._optuna_solvers import OPTUNA
from ._pymoo_solvers import PYMOO

ENTRY_POINT_GROUP = "stitchbench.solvers"

SOLVERS: Registry[Solver] = Registry("solver", ENTRY_POINT_GROUP)
for _name, _cls in {
    **PYMOO,
    **OPTUNA,
    "random": RandomSearch,
    "exhaustive": Exhaustive,
    SuccessiveHalving.name: SuccessiveHalving,
}.items():
    SOLVERS.add(_name, _cls, first_line(_cls))


def create_solver(name: str, **params) -> Solver:
    return SOLVERS.create(name, **params)


def check_supports(name: str, problem_kinds: set[str]) -> None:
    """Reject a solver that cannot handle a problem's variable kinds."""
    supports = set(SOLVERS.entry(name).factory.supports)
    missing = problem_kinds - supports
    if missing:
        raise InputError(
            f"solver {name!r} does not support {', '.join(sorted(missing))} variables "
            f"(it supports: {', '.join(sorted(supports))})"
        )


def fits(name: str, problem: Problem) -> bool:
    """Whether solver `name` supports every variable kind of `problem`."""
    return problem.kinds <= set(SOLVERS.entry(name).factory.supports)
