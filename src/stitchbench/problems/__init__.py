"""Multi-objective problems: the API, the families, baselines, exact fronts, pymoo and Optuna adapters."""

from .adapters import PymooProblem, optuna_directions, optuna_space, to_pymoo
from .api import KINDS, SPLITS, Objective, Problem, Variable
from .baselines import baseline_vectors, reference_models
from .ensemble_weights import EnsembleWeights, simplex_grid
from .front import nondominated
from .registry import PROBLEMS, create_problem
from .stitch_ensemble import StitchEnsembleProblem
from .stitch_graph import StitchGraphProblem

__all__ = [
    "KINDS",
    "PROBLEMS",
    "SPLITS",
    "EnsembleWeights",
    "Objective",
    "Problem",
    "PymooProblem",
    "StitchEnsembleProblem",
    "StitchGraphProblem",
    "Variable",
    "baseline_vectors",
    "create_problem",
    "nondominated",
    "optuna_directions",
    "optuna_space",
    "reference_models",
    "simplex_grid",
    "to_pymoo",
]
