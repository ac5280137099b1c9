"""Multi-objective problems: the API, the families, baselines, exact fronts, pymoo and Optuna adapters."""

from stitchbench.moo._adapters import PymooProblem, optuna_directions, optuna_space, to_pymoo
from stitchbench.moo._api import Objective, Problem, TabularProblem, Variable
from stitchbench.moo._front import nondominated
from stitchbench.moo._instance import ProblemInstance, instance_id, make_instance, scenario_key
from stitchbench.moo._lattice import simplex_grid

from ._baselines import baseline_vectors, reference_models
from ._ensemble_weights import EnsembleWeights, output_ensemble_front
from ._registry import PROBLEMS, create_problem
from ._stitch_ensemble import StitchEnsembleProblem
from ._stitch_graph import StitchGraphProblem

__all__ = [
    "PROBLEMS",
    "EnsembleWeights",
    "Objective",
    "Problem",
    "ProblemInstance",
    "PymooProblem",
    "StitchEnsembleProblem",
    "StitchGraphProblem",
    "TabularProblem",
    "Variable",
    "baseline_vectors",
    "create_problem",
    "instance_id",
    "make_instance",
    "nondominated",
    "optuna_directions",
    "optuna_space",
    "output_ensemble_front",
    "reference_models",
    "scenario_key",
    "simplex_grid",
    "to_pymoo",
]
