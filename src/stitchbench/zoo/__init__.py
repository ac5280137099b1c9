"""The model zoo: architectures, recipes, local / merged / federated training, model store, evaluation."""

from . import _unets  # noqa: F401  (registers the segmentation architectures)
from ._architectures import ARCHITECTURES, create
from ._build import BASE_KINDS, Zoo, build_zoo, check_archs, expand_kinds
from ._exchange import Received, export_model, import_model, receive_model
from ._metrics import probs_loss, score, task_loss
from ._recipe import Recipe
from ._store import ModelRecord, build_model, load_model
from ._training import predict, seeded

__all__ = [
    "ARCHITECTURES",
    "BASE_KINDS",
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
