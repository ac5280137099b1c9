"""Training recipes: optimizer, learning rate, epochs, batch size; stated per scenario, overridable."""

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from stitchbench.errors import InputError

EVAL_BATCH_SIZE = 128  # the default: on the CPU small batches stay in cache (about 4x faster than large ones)


def eval_key(batch_size: int) -> dict:
    """What the key of an artifact computed with this evaluation batch size holds of it: a sample's outputs can
    depend on the batch it is in (kernels are chosen by shape), so the size, but only where it is not the
    default, so that every key made before it existed stays as it was."""
    return {} if batch_size == EVAL_BATCH_SIZE else {"eval_batch_size": batch_size}


class Recipe(BaseModel):
    """How a model is trained. For federated kinds, `rounds * local_epochs == epochs` (compute parity: every
    kind may use `epochs` passes over its training data). With `patience`, training stops early on the val
    split of the parties it trains on (not before `min_epochs`), and the weights of the best val epoch (round)
    are kept."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = Field(2e-3, gt=0, le=10)
    epochs: int = Field(6, ge=1, le=10_000)
    batch_size: int = Field(64, ge=1, le=65_536)
    weight_decay: float = Field(0.0, ge=0, le=1)
    local_epochs: int = Field(1, ge=1, le=10_000, description="federated: local epochs per round")
    prox_mu: float = Field(0.01, ge=0, le=1_000, description="FedProx proximal weight")
    patience: int | None = Field(
        None, ge=1, description="early stopping: epochs (federated: rounds) without a better val score; None: off"
    )
    min_epochs: int = Field(
        0, ge=0, description="early stopping: never before this many epochs (rounds), to get off a plateau"
    )
    channels_last: bool = Field(False, description="train image models in channels-last memory format (faster on CPU)")
    eval_batch_size: int = Field(
        EVAL_BATCH_SIZE,
        ge=1,
        le=65_536,
        description="samples per forward pass in evaluation: predictions, activation caches, tables (a GPU wants more)",
    )

    @model_validator(mode="after")
    def _parity(self):
        self.rounds  # noqa: B018 (raises where epochs is not a multiple of local_epochs)
        return self

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        return torch.optim.SGD(params, lr=self.lr, momentum=0.9, weight_decay=self.weight_decay)

    def key_fields(self) -> dict:
        """The recipe as a model's key holds it (`eval_key`: early stopping evaluates)."""
        return self.model_dump(exclude={"eval_batch_size"}) | eval_key(self.eval_batch_size)

    @property
    def rounds(self) -> int:
        """Federated rounds: epochs / local_epochs, so federated and merged training see as many samples;
        an InputError where that division is not exact (compute parity would break)."""
        if self.epochs % self.local_epochs:
            raise InputError(
                f"federated training needs rounds x local_epochs == epochs, but epochs={self.epochs} is not a "
                f"multiple of local_epochs={self.local_epochs}; choose local_epochs among "
                + ", ".join(str(k) for k in range(1, self.epochs + 1) if self.epochs % k == 0)
            )
        return self.epochs // self.local_epochs
