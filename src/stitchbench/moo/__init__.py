"""The multi-objective problem API without torch: variables, objectives, the `Problem` and `TabularProblem`
bases, instance records, non-dominated filtering, the simplex lattice, the protocols the study tests with
`isinstance` (`Members`, `Stitching`) and the pymoo/Optuna adapters. Importing it loads neither torch nor
pymoo nor optuna (nor pandas): the adapters and `Stitching` (claim 4's pools) load when first used."""

from importlib import import_module

from ._api import Objective, Problem, TabularProblem, Variable
from ._front import nondominated
from ._instance import Members, ProblemInstance, instance_id, make_instance, scenario_key
from ._lattice import simplex_grid
from ._splits import EVAL_SPLITS

LAZY = {
    **{name: "_adapters" for name in ("PymooProblem", "optuna_directions", "optuna_space", "to_pymoo")},
    "Stitching": "_pools",
}


def __getattr__(name: str):
    if name in LAZY:
        return getattr(import_module(f"{__name__}.{LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EVAL_SPLITS",
    "Members",
    "Objective",
    "Problem",
    "ProblemInstance",
    "PymooProblem",
    "Stitching",
    "TabularProblem",
    "Variable",
    "instance_id",
    "make_instance",
    "nondominated",
    "optuna_directions",
    "optuna_space",
    "scenario_key",
    "simplex_grid",
    "to_pymoo",
]
