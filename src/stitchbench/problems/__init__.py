"""Problem families built from a zoo: the registry (`create_problem`, `PROBLEMS`), the live families, their
baselines and output ensembles. The problem contract itself (`Problem`, `TabularProblem`, `Variable`,
`Objective`, instance records, adapters) is `stitchbench.moo`, the torch-free core."""

from ._baselines import baseline_vectors, reference_models
from ._ensemble_weights import EnsembleWeights, output_ensemble_front
from ._registry import PROBLEMS, create_problem
from ._stitch_ensemble import StitchEnsembleProblem
from ._stitch_graph import StitchGraphProblem

__all__ = [
    "PROBLEMS",
    "EnsembleWeights",
    "StitchEnsembleProblem",
    "StitchGraphProblem",
    "baseline_vectors",
    "create_problem",
    "output_ensemble_front",
    "reference_models",
]
