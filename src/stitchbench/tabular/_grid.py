"""The table of the one-shot families (`distill`, `merge`, `finetune`; torch-free): every cell of a full grid
over the problem's variables is one network, stored as its per-sample scores on every party's val and test
split. A candidate's score on a party is the mean of its cell's samples, so every candidate is scored
exactly and the front (over every cell) is exact; claim 5 takes the val-chosen cells with their per-sample
test scores (`front_pool`).
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stitchbench.errors import InputError
from stitchbench.moo._api import Variable
from stitchbench.moo._front import nondominated
from stitchbench.moo._pools import CandidatePool, val_front
from stitchbench.moo._splits import EVAL_SPLITS

from ._files import by_party_split, dense, labelled, read, write

ONE_SHOT_FAMILIES = ("distill", "merge", "finetune")


def axis_values(v: Variable) -> list[Any]:
    """A grid variable's values in level order (what a decision's column takes)."""
    if v.kind == "categorical":
        return list(v.choices)
    if v.kind == "real":
        if not v.levels:
            raise InputError(f"variable {v.name!r} is continuous; a grid table needs every variable on a grid")
        return [float(x) for x in v.grid()]
    return list(range(int(v.bounds[0]), int(v.bounds[1]) + 1))


def axis_levels(v: Variable, column: np.ndarray) -> np.ndarray:
    """The level index of each value of a validated column."""
    if v.kind == "real":
        return v.level(column)
    return (column - v.bounds[0]).astype(np.int64)


def grid_cells(variables: list[Variable]) -> list[dict[str, Any]]:
    """Every cell of the grid, as {variable: value}, in the table's (C) order."""
    values = [axis_values(v) for v in variables]
    shape = [len(v) for v in values]
    return [
        {v.name: values[j][i] for j, (v, i) in enumerate(zip(variables, idx, strict=True))}
        for idx in np.ndindex(*shape)
    ]


@dataclass
class GridTable:
    """`samples[(party, split)]`: (cells, N) per-sample scores of every cell's network."""

    family: str
    variables: list[Variable]
    samples: dict[tuple[str, str], np.ndarray]
    _scores: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.family not in ONE_SHOT_FAMILIES:
            raise InputError(f"unknown grid family {self.family!r}; valid: {', '.join(ONE_SHOT_FAMILIES)}")
        self.shape = tuple(len(axis_values(v)) for v in self.variables)
        cells = int(np.prod(self.shape))
        for key, a in self.samples.items():
            if a.ndim != 2 or len(a) != cells:
                raise InputError(f"grid table {key}: samples of shape {a.shape}, expected ({cells}, N)")

    def scores(self, party: str, split: str) -> np.ndarray:
        """(cells,) each cell's score: the mean of its per-sample scores."""
        if (party, split) not in self._scores:
            self._scores[party, split] = self.samples[party, split].astype(np.float64).mean(1)
        return self._scores[party, split]

    def val_samples(self, party: str) -> int:
        return self.samples[party, "val"].shape[1]

    def restrict(self, keep: dict[str, np.ndarray], objectives: list[str | None]) -> "GridTable":
        """This table with each party's val split cut to the samples `keep[party]` (a fidelity)."""
        samples = dict(self.samples) | {(p, "val"): self.samples[p, "val"][:, idx] for p, idx in keep.items()}
        return GridTable(self.family, self.variables, samples)

    def cells(self, matrix: np.ndarray) -> np.ndarray:
        """The cell of each validated decision (n, variables)."""
        levels = [axis_levels(v, matrix[:, j]) for j, v in enumerate(self.variables)]
        return np.ravel_multi_index(levels, self.shape)

    def lookup(self, matrix: np.ndarray, objectives: list[str | None], split: str) -> np.ndarray:
        if None in objectives:
            raise InputError(f"a {self.family} table has no cost objective; objectives are parties")
        idx = self.cells(np.asarray(matrix, dtype=float))
        return np.stack([self.scores(p, split)[idx] for p in objectives], 1)

    def front_kind(self) -> str:
        return "exact"

    def all_scores(self, parties: list[str], split: str) -> np.ndarray:
        return np.stack([self.scores(p, split) for p in parties], 1)

    def front(self, objectives: list[str | None], maximize: np.ndarray, split: str) -> np.ndarray:
        return nondominated(self.all_scores([p for p in objectives if p is not None], split), maximize)

    def front_pool(self, parties: list[str]) -> CandidatePool:
        """The val-non-dominated cells (all ties kept), scored on test per sample: B's front for claim 5."""
        keep = val_front(self.all_scores(parties, "val"))
        grid = grid_cells(self.variables)
        return CandidatePool(
            parties,
            [grid[i] for i in keep],
            self.all_scores(parties, "val")[keep],
            self.all_scores(parties, "test")[keep],
            [self.samples[p, "test"][keep].astype(np.float64) for p in parties],
        )

    def stitch_alpha(self, matrix: np.ndarray) -> None:
        return None  # a one-shot network never stitches

    def claim_pools(self, parties: list[str]) -> None:
        return None

    def check_variables(self, variables: list[Variable]) -> None:
        if [v.record() for v in variables] != [v.record() for v in self.variables]:
            raise InputError(f"variables {[v.name for v in variables]} are not the table's grid")

    def write(self, directory: Path) -> dict[str, Any]:
        """samples.parquet (party, split, cell, sample, value); the manifest's fields."""
        parties = list(dict.fromkeys(p for p, _ in self.samples))
        splits = list(EVAL_SPLITS)
        groups = []
        for (p, s), a in self.samples.items():
            n = a.size
            cell, sample = np.unravel_index(np.arange(n), a.shape)
            groups.append(
                {
                    "party": labelled(parties, parties.index(p), n),
                    "split": labelled(splits, splits.index(s), n),
                    "cell": cell.astype(np.int32),
                    "sample": sample.astype(np.int32),
                    "value": a.reshape(-1).astype(np.float32),
                }
            )
        write(Path(directory) / "samples.parquet", groups)
        return {}  # the grid is the manifest's variables

    @classmethod
    def read(cls, directory: Path, manifest: dict[str, Any]) -> "GridTable":
        variables = [Variable(**{**v, "choices": tuple(v["choices"])}) for v in manifest["variables"]]
        cells = int(np.prod([len(axis_values(v)) for v in variables]))
        samples = {}
        for p, s, t in by_party_split(read(directory, manifest, "samples.parquet")):
            shape = (cells, len(t) // cells)
            samples[p, s] = dense(t, ["cell", "sample"], shape, ["value"])[..., 0]
        return cls(manifest["family"], variables, samples)
