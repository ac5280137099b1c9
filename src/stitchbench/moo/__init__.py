"""The multi-objective problem API without torch: variables, objectives, the `Problem` base, instance
records, non-dominated filtering, score kernels and the pymoo/Optuna adapters. Everything here imports
only numpy, pandas-free scientific libraries and pydantic, so tabular problems run without the stitching
layer."""

from .adapters import PymooProblem, optuna_directions, optuna_space, to_pymoo
from .api import EVAL_SPLITS, Objective, Problem, Variable
from .front import nondominated
from .instance import ProblemInstance, instance_id, make_instance, scenario_key

__all__ = [
    "EVAL_SPLITS",
    "Objective",
    "Problem",
    "ProblemInstance",
    "PymooProblem",
    "Variable",
    "instance_id",
    "make_instance",
    "nondominated",
    "optuna_directions",
    "optuna_space",
    "scenario_key",
    "to_pymoo",
]
