"""Scenarios: a task split into parties, each with its own train/val/test data."""

from dataclasses import dataclass, field
from typing import Any

import torch

from stitchbench._hashing import config_hash
from stitchbench.errors import unknown

from ._splits import SPLITS


@dataclass(frozen=True)
class Split:
    """One party's split: inputs, labels, and global sample ids (`source:index`) for provenance."""

    x: torch.Tensor
    y: torch.Tensor
    ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Party:
    name: str
    source: str
    splits: dict[str, Split]

    def split(self, name: str) -> Split:
        if name not in self.splits:
            raise unknown("split", name, SPLITS)
        return self.splits[name]


@dataclass(frozen=True)
class Scenario:
    """A named task over parties. `params` are what made it; with `name` they identify it."""

    name: str
    task: str  # "classification" | "segmentation"
    metric: str  # "accuracy" | "dice"
    num_classes: int
    in_channels: int
    parties: tuple[Party, ...]
    params: dict[str, Any]
    recipe: dict[str, Any] = field(default_factory=dict)
    arch: str = "cnn"  # the default architecture for this task
    data_digest: str = ""  # of data files `params` do not pin down (e.g. the folder scenario's)

    @property
    def party_names(self) -> list[str]:
        return [p.name for p in self.parties]

    def party(self, name: str) -> Party:
        for p in self.parties:
            if p.name == name:
                return p
        raise unknown("party", name, self.party_names)

    def identity(self) -> dict[str, Any]:
        """What makes this scenario: name, parameters and, where set, the digest of its data files."""
        return {"name": self.name, "params": self.params} | ({"data": self.data_digest} if self.data_digest else {})

    @property
    def key(self) -> str:
        return config_hash(self.identity())

    def example(self, n: int = 8) -> torch.Tensor:
        """Zeros shaped like n inputs: enough to trace networks and count FLOPs, and no party's data."""
        x = self.parties[0].splits["train"].x  # its shape and dtype only
        return torch.zeros(n, *x.shape[1:], dtype=x.dtype)
