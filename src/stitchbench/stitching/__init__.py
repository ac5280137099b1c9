"""Stitching: points (torch.fx), stitch layers, stitched networks, host-only training, caches, cost."""

from ._cache import ActivationCache
from ._cost import CostModel, count_flops, node_flops
from ._flow import Flow, GraphFlow
from ._graph import Point, StitchPoint, TracedNet, find_points, match_points
from ._layers import make_stitch
from ._networks import (
    OUTPUTS,
    GraphDecision,
    Members,
    StitchEnsemble,
    StitchGraph,
    StitchSet,
    branch_logits,
    ensemble_branch_probs,
    graph_logits,
    graph_probs,
    output_probs,
    weighted_probs,
)
from ._setup import StitchSetup, host_training_data, member_records, stitch_setup
from ._training import METHODS, StitchRecipe, train_feature_match, train_stitches

__all__ = [
    "METHODS",
    "OUTPUTS",
    "ActivationCache",
    "CostModel",
    "Flow",
    "GraphDecision",
    "GraphFlow",
    "Members",
    "Point",
    "StitchEnsemble",
    "StitchGraph",
    "StitchPoint",
    "StitchRecipe",
    "StitchSet",
    "StitchSetup",
    "TracedNet",
    "branch_logits",
    "count_flops",
    "ensemble_branch_probs",
    "find_points",
    "graph_logits",
    "graph_probs",
    "host_training_data",
    "make_stitch",
    "match_points",
    "member_records",
    "node_flops",
    "output_probs",
    "stitch_setup",
    "train_feature_match",
    "train_stitches",
    "weighted_probs",
]
