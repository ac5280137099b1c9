"""The model zoo: architectures, recipes, local / merged / federated training, model store, evaluation."""

from . import unets  # noqa: F401  (registers the segmentation architectures)
from .architectures import ARCHITECTURES, create
from .build import BASE_KINDS, EVAL_SPLITS, Zoo, build_zoo, check_archs, expand_kinds
from .exchange import Received, export_model, import_model, receive_model
from .metrics import probs_loss, score, task_loss
from .recipe import Recipe
from .store import ModelRecord, build_model, load_model
from .training import predict, seeded

__all__ = [
    "ARCHITECTURES",
    "BASE_KINDS",
    "EVAL_SPLITS",
    "ModelRecord",
    "Received",
    "Recipe",
    "Zoo",
    "build_model",
    "build_zoo",
    "check_archs",
    "create",
    "expand_kinds",
    "export_model",
    "import_model",
    "load_model",
    "predict",
    "probs_loss",
    "receive_model",
    "score",
    "seeded",
    "task_loss",
]
