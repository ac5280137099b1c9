"""Multi-objective problems: the API, the families, baselines, exact fronts, pymoo and Optuna adapters."""

from stitchbench.moo.adapters import PymooProblem, optuna_directions, optuna_space, to_pymoo
from stitchbench.moo.api import Objective, Problem, TabularProblem, Variable
from stitchbench.moo.front import nondominated
from stitchbench.moo.instance import ProblemInstance, instance_id, make_instance, scenario_key
from stitchbench.moo.lattice import simplex_grid

from .baselines import baseline_vectors, reference_models
from .ensemble_weights import EnsembleWeights, output_ensemble_front
from .registry import PROBLEMS, create_problem
from .stitch_ensemble import StitchEnsembleProblem
from .stitch_graph import StitchGraphProblem

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
