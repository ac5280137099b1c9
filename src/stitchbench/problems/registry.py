"""The problem registry: families built from a zoo and parameters."""

from stitchbench.moo.api import Problem
from stitchbench.registry import Registry
from stitchbench.zoo import Zoo

from .ensemble_weights import EnsembleWeights
from .stitch_ensemble import StitchEnsembleProblem
from .stitch_graph import StitchGraphProblem

PROBLEMS: Registry[Problem] = Registry("problem")
PROBLEMS.add("ensemble-weights", EnsembleWeights, EnsembleWeights.summary)
PROBLEMS.add("stitch-ensemble", StitchEnsembleProblem, StitchEnsembleProblem.summary)
PROBLEMS.add("stitch-graph", StitchGraphProblem, StitchGraphProblem.summary)


def create_problem(name: str, zoo: Zoo, **params) -> Problem:
    return PROBLEMS.create(name, zoo, **params)
