"""Trained models as content-addressed artifacts (safetensors + manifest), and loading them back safely."""

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from torch import nn

from stitchbench._artifacts import Artifact, IntegrityError

from ._architectures import create
from ._training import seeded


@dataclass(frozen=True)
class ModelRecord:
    """A stored model: what it is, which parties' data it touched, and where its weights are."""

    artifact: Artifact

    @property
    def manifest(self) -> dict[str, Any]:
        return self.artifact.manifest

    @property
    def kind(self) -> str:
        return self.manifest["config"]["kind"]

    @property
    def arch(self) -> str:
        return self.manifest["config"]["arch"]

    @property
    def seed(self) -> int:
        return self.manifest["config"]["seed"]

    @property
    def touched(self) -> tuple[str, ...]:
        """The parties whose data trained this model."""
        return tuple(self.manifest["touched"])

    @property
    def sha256(self) -> str:
        return self.manifest["sha256"]

    @cached_property
    def module(self) -> nn.Module:
        """The model in eval mode, its weights verified against the manifest's sha256."""
        return load_model(self.artifact)


def load_model(artifact: Artifact) -> nn.Module:
    """Rebuild the architecture named in the manifest and load its verified safetensors weights."""
    return build_model(artifact.manifest["config"], artifact.tensors(), artifact.path)


def build_model(config: dict[str, Any], tensors: dict, source: object) -> nn.Module:
    """The architecture of `config` with `tensors` loaded strictly (shapes and names must fit), frozen."""
    try:
        with seeded(None):  # its initial weights are replaced: they need not draw from the global RNG
            model = create(
                config["arch"], config["in_channels"], config["num_classes"], **config.get("arch_params", {})
            )
    except (TypeError, ValueError, RuntimeError) as e:
        raise IntegrityError(
            f"{source}: architecture {config['arch']!r} cannot be built from in_channels "
            f"{config['in_channels']!r}, num_classes {config['num_classes']!r}, arch_params "
            f"{config.get('arch_params', {})!r}: {e}"
        ) from e
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        raise IntegrityError(
            f"weights in {source} do not fit architecture {config['arch']!r}: {str(e).splitlines()[0]}"
        ) from e
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()
