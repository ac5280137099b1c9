"""The table of `ensemble-weights` (torch-free): the members' class probabilities on every party's val and test
split, and each member's FLOPs. A candidate is a weighting of the members (normalized onto the simplex); its
score on a party is the weighted output ensemble's, scored by `stitchbench.moo._scoring` (the code every
ensemble score in stitchbench runs), and its cost the FLOPs of the members with weight > 0.

With two members the score is an exact step function of the weight (`StepAccuracy`, `StepDice`):
evaluating every breakpoint and one weight inside every interval between them gives every objective vector
the problem has, so its front is exact; otherwise the front of a lattice on the simplex (approximate).
"""

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from stitchbench.errors import InputError
from stitchbench.moo._front import nondominated
from stitchbench.moo._lattice import simplex_grid
from stitchbench.moo._scoring import (
    PooledAccuracy,
    WeightedScores,
    is_step,
    member_weights,
    normalize,
    step_weightings,
    switch_names,
    weighted_scores,
)

from ._files import column, read, read_ensemble, write, write_ensemble


@dataclass
class WeightsTable:
    family: ClassVar[str] = "ensemble-weights"

    members: list[str]  # each member's weight variable
    probs: dict[tuple[str, str], np.ndarray]  # (party, split) -> (M, N, C, ...) float32
    labels: dict[tuple[str, str], np.ndarray]  # (party, split) -> (N, ...)
    metric: str
    flops: np.ndarray  # (M,) FLOPs per sample of each whole member
    switches: bool = False  # use.<m> variables follow the weights (see `member_weights`)
    _scorers: dict = field(default_factory=dict, repr=False)

    def scorer(self, party: str, split: str) -> WeightedScores:
        if (party, split) not in self._scorers:
            self._scorers[party, split] = weighted_scores(
                self.probs[party, split], self.labels[party, split], self.metric
            )
        return self._scorers[party, split]

    def lookup(self, matrix: np.ndarray, objectives: list[str | None], split: str) -> np.ndarray:
        """Objective matrix of validated decisions (n, M) (with switches: (n, 2M)); objectives name a party or
        None (cost)."""
        return self.score(member_weights(matrix, self.switches), objectives, split)

    def score(self, W: np.ndarray, objectives: list[str | None], split: str) -> np.ndarray:
        """`lookup` of normalized weightings W (n, M): each party's score, cost (None) as the FLOPs of the
        members with weight > 0."""
        parties = tuple(p for p in objectives if p is not None)
        pooled = self.pooled(parties, split)
        scores = (
            dict(zip(parties, pooled(W).T, strict=True)) if pooled else {p: self.scorer(p, split)(W) for p in parties}
        )
        return np.stack([scores[p] if p is not None else (W > 0) @ self.flops for p in objectives], 1)

    def pooled(self, parties: tuple[str, ...], split: str) -> PooledAccuracy | None:
        """The parties' scorers as one `PooledAccuracy` (two parties or more, more than two members scored by the
        fused accuracy; two members have step scorers); None otherwise. Built on first use."""
        key = ("pooled", parties, split)
        if key not in self._scorers:
            fused = len(parties) > 1 and self.front_kind() != "exact"
            fused = fused and all(self.scorer(p, split).fused() for p in parties)
            self._scorers[key] = (
                PooledAccuracy([self.probs[p, split] for p in parties], [self.labels[p, split] for p in parties])
                if fused
                else None
            )
        return self._scorers[key]

    def front_kind(self) -> str:
        return "exact" if is_step(len(self.members), self.metric) else "approximate"

    def front_weightings(self, parties: list[str], split: str) -> np.ndarray:
        """Weightings whose scores contain the front on `split`: every breakpoint and one weight inside every
        interval between them (exact), or a lattice on the simplex."""
        if self.front_kind() == "exact":
            return step_weightings([self.scorer(p, split).breakpoints() for p in parties])
        return simplex_grid(len(self.members))

    def front(self, objectives: list[str | None], maximize: np.ndarray, split: str) -> np.ndarray:
        W = self.front_weightings([p for p in objectives if p is not None], split)
        return nondominated(self.score(normalize(W), objectives, split), maximize)

    def check_variables(self, variables: list) -> None:
        names, expected = [v.name for v in variables], self.variable_names()
        if names != expected:
            raise InputError(f"variables {names} are not the table's {expected}")

    def variable_names(self) -> list[str]:
        return [*self.members, *(switch_names(self.members) if self.switches else ())]

    def stitch_alpha(self, matrix: np.ndarray) -> None:
        return None  # an output ensemble never stitches

    def claim_pools(self, parties: list[str]) -> None:
        return None

    def val_samples(self, party: str) -> int:
        return len(self.labels[party, "val"])

    def restrict(self, keep: dict[str, np.ndarray], objectives: list[str | None]) -> "WeightsTable":
        """This table with each party's val split cut to the samples `keep[party]` (see `fidelity`)."""
        probs, labels = dict(self.probs), dict(self.labels)
        for party, idx in keep.items():
            probs[party, "val"], labels[party, "val"] = self.probs[party, "val"][:, idx], self.labels[party, "val"][idx]
        return replace(self, probs=probs, labels=labels, _scorers=test_scorers(self._scorers))

    def write(self, directory: Path) -> dict[str, Any]:
        """members.parquet, probs.parquet, labels.parquet; the manifest's fields."""
        write_members(directory, self.members, self.flops)
        return write_ensemble(directory, self.probs, self.labels, ["member"]) | {"switches": self.switches}

    @classmethod
    def read(cls, directory: Path, manifest: dict[str, Any]) -> "WeightsTable":
        probs, labels = read_ensemble(directory, manifest, ["member"])
        members = read(directory, manifest, "members.parquet")
        names = members.column("name").to_pylist()
        flops = column(members, "flops").astype(float)
        return cls(names, probs, labels, manifest["instance"]["metric"], flops, manifest.get("switches", False))


def test_scorers(scorers: dict) -> dict:
    """The scorers of the test split (keys end with the split), which a restricted val leaves as they are."""
    return {k: v for k, v in scorers.items() if k[-1] != "val"}


def write_members(directory: Path, names: list[str], flops: np.ndarray) -> None:
    write(
        Path(directory) / "members.parquet",
        {"member": np.arange(len(names), dtype=np.int32), "name": list(names), "flops": np.asarray(flops, dtype=float)},
    )
