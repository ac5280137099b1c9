"""Solvers: the API, the budget-owning evaluator, pymoo and Optuna adapters, built-ins, plugins."""

from ._api import BudgetExhausted, Evaluation, Evaluator, JobTimeout, Solver
from ._builtin import Exhaustive, RandomSearch, sample_uniform, space_size
from ._job import SolverRun, run_solver
from ._registry import ENTRY_POINT_GROUP, SOLVERS, check_supports, create_solver, fits

__all__ = [
    "ENTRY_POINT_GROUP",
    "SOLVERS",
    "BudgetExhausted",
    "Evaluation",
    "Evaluator",
    "Exhaustive",
    "JobTimeout",
    "RandomSearch",
    "Solver",
    "SolverRun",
    "check_supports",
    "create_solver",
    "fits",
    "run_solver",
    "sample_uniform",
    "space_size",
]
