"""The table of a tabular stitch graph: every raw decision of a k-point subset mapped to its canonical
candidate, and every canonical candidate's objective values per split. Torch-free (numpy only).

Raw decisions are rows in the numeric encoding of the subset's variables: `ab.<p>` for the k points, then
`ba.<p>`, then `output` (0, 1, 2 for A, B, avg). The *raw decision index* of a row is
`sum_b row[b] * 2**b + row[2k] * 4**k` over its 2k switch bits b, so indices run over 0 .. 3 * 4**k - 1.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from stitchbench.errors import InputError
from stitchbench.moo._front import nondominated

from ._files import column, read, value_columns, write


def raw_rows(k: int) -> np.ndarray:
    """Every raw decision of a k-point subset, row i having raw decision index i: (3 * 4**k, 2k + 1)."""
    index = np.arange(3 * 4**k)
    bits = (index[:, None] % 4**k >> np.arange(2 * k)) & 1
    return np.concatenate([bits, (index // 4**k)[:, None]], axis=1).astype(float)


def decision_index(matrix: np.ndarray, k: int) -> np.ndarray:
    """The raw decision index of each validated row (see the module docstring)."""
    m = np.asarray(matrix).astype(np.int64)
    return m[:, : 2 * k] @ (np.int64(1) << np.arange(2 * k, dtype=np.int64)) + m[:, 2 * k] * 4**k


@dataclass
class GraphTable:
    """`decision_to_candidate[i]`: the candidate row of raw decision i; `candidates`: the canonical rows
    (n_cand, 2k + 1); `scores[split]`: their objective values (n_cand, n_objectives); `samples[party]`: their
    per-sample scores on the party's val split (n_cand, N) float32, whose mean is its score: what fidelities
    read (tables of format 1 have none)."""

    family: ClassVar[str] = "stitch-graph"

    decision_to_candidate: np.ndarray
    candidates: np.ndarray
    scores: dict[str, np.ndarray]
    samples: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        d2c, cands = self.decision_to_candidate, self.candidates
        if cands.ndim != 2 or cands.shape[1] % 2 != 1:
            raise InputError(f"graph table: candidates have shape {cands.shape}; expected (n, 2k + 1)")
        if d2c.shape != (3 * 4**self.k,) or d2c.dtype.kind not in "iu":
            raise InputError(f"graph table: decision_to_candidate {d2c.shape} {d2c.dtype}; expected ({3 * 4**self.k},)")
        if len(d2c) and not (d2c.min() >= 0 and d2c.max() < len(cands)):
            raise InputError("graph table: decision_to_candidate points outside the candidates")
        for split, s in self.scores.items():
            if s.ndim != 2 or len(s) != len(cands):
                raise InputError(f"graph table: {split} scores have shape {s.shape}; expected ({len(cands)}, m)")
        for party, s in self.samples.items():
            if s.ndim != 2 or len(s) != len(cands):
                raise InputError(f"graph table: {party}'s samples have shape {s.shape}; expected ({len(cands)}, N)")

    @property
    def k(self) -> int:
        """The number of points in the subset."""
        return self.candidates.shape[1] // 2

    def lookup(self, matrix: np.ndarray, objectives: list[str | None], split: str) -> np.ndarray:
        """Objective values of validated rows (n, 2k + 1), vectorized: (n, n_objectives) (the table holds
        every objective's value, in the problem's order)."""
        if split not in self.scores:
            raise InputError(f"graph table has no split {split!r}; it has {', '.join(self.scores)}")
        return self.scores[split][self.decision_to_candidate[decision_index(matrix, self.k)]]

    def front_kind(self) -> str:
        return "exact"

    def front(self, objectives: list[str | None], maximize: np.ndarray, split: str) -> np.ndarray:
        """The exact front: the non-dominated objective vectors of all candidates."""
        return nondominated(self.scores[split], maximize)

    def val_samples(self, party: str) -> int:
        if party not in self.samples:
            raise InputError(
                f"this stitch-graph table has no per-sample scores of {party!r} (it has: "
                f"{', '.join(self.samples) or 'none'}), so it has no fidelities; rebuild it (stitch-graph table "
                "format 2 has them)"
            )
        return self.samples[party].shape[1]

    def restrict(self, keep: dict[str, np.ndarray], objectives: list[str | None]) -> "GraphTable":
        """This table scoring each party's val split on the samples `keep[party]` (see `fidelity`): each
        party's score the mean of those samples' scores."""
        val = self.scores["val"].copy()
        for j, party in enumerate(objectives):
            if party is not None:
                val[:, j] = self.samples[party][:, keep[party]].astype(np.float64).mean(1)
        return replace(self, scores={**self.scores, "val": val})

    def check_variables(self, variables: list) -> None:
        if len(variables) != 2 * self.k + 1:
            raise InputError(f"{len(variables)} variables for a graph table over {self.k} points ({2 * self.k + 1})")

    def stitch_alpha(self, matrix: np.ndarray) -> None:
        return None  # switches, not a mixing alpha: claim 4 is about stitch-ensembles

    def claim_pools(self, parties: list[str]) -> None:
        return None

    def write(self, directory: Path) -> dict[str, Any]:
        """One file per array (`graph.<array>.parquet`: `value` for 1-D, `c.<j>` for 2-D arrays)."""
        arrays = self.to_arrays()
        for name, a in arrays.items():
            a = np.asarray(a)
            columns = {"value": a} if a.ndim == 1 else {f"c.{j}": a[:, j] for j in range(a.shape[1])}
            write(Path(directory) / f"graph.{name}.parquet", columns)
        return {"graph_arrays": list(arrays)}

    @classmethod
    def read(cls, directory: Path, manifest: dict[str, Any]) -> "GraphTable":
        arrays = {}
        for name in manifest["graph_arrays"]:
            t = read(directory, manifest, f"graph.{name}.parquet")
            cols = value_columns(t, "c.")
            arrays[name] = np.column_stack([column(t, c) for c in cols]) if cols else column(t, "value")
        return cls.from_arrays(arrays)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "decision_to_candidate": self.decision_to_candidate,
            "candidates": self.candidates,
            **{f"scores.{s}": v for s, v in self.scores.items()},
            **{f"samples.{p}": v for p, v in self.samples.items()},
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "GraphTable":
        missing = {"decision_to_candidate", "candidates"} - set(arrays)
        if missing:
            raise InputError(f"graph table: missing arrays {sorted(missing)}; got {sorted(arrays)}")
        scores = {
            k.removeprefix("scores."): np.asarray(v, dtype=float) for k, v in arrays.items() if k.startswith("scores.")
        }
        samples = {k.removeprefix("samples."): np.asarray(v) for k, v in arrays.items() if k.startswith("samples.")}
        return cls(
            np.asarray(arrays["decision_to_candidate"]).astype(np.int64),
            np.asarray(arrays["candidates"], dtype=float),
            scores,
            samples,
        )
