"""The table of a stitch-ensemble with alpha on a grid (torch-free).

A candidate (point, alpha, w) scores the weighted sum of its branches' class probabilities, and for a fixed
point and alpha the branches do not depend on w. So the table holds, for every matched point x alpha on the
grid, every branch's probabilities on each party's val and test split (P, A, M, N, C), and scoring any batch
of candidates is, per (point, alpha) they touch, the weighted-ensemble scorer of `stitchbench.moo.scoring`
(the one live evaluation uses, on the same probabilities: table and live scores are identical). Cost is
linear in which branches run: `full` (M,) FLOPs of each whole member (alpha = 0), `prefix` (P,) of every
member up to the point, `branch` (P, M) of each branch's stitches and suffix.
"""

from dataclasses import dataclass, field

import numpy as np

from stitchbench.moo.front import nondominated
from stitchbench.moo.scoring import WeightedScores, interval_weights, weighted_scores


def normalize(W: np.ndarray) -> np.ndarray:
    """Rows of weights on the simplex (all-zero rows: uniform), rounded to 12 decimals (a canonical form)."""
    W = np.atleast_2d(np.asarray(W, dtype=float))
    total = W.sum(1, keepdims=True)
    return np.round(np.where(total > 0, W / np.where(total > 0, total, 1), 1 / W.shape[1]), 12)


def weighting_objectives(W: np.ndarray, objectives, scorer, flops: np.ndarray) -> np.ndarray:
    """Objective matrix of normalized weightings W (n, M) of an output ensemble: each party's score from
    `scorer(party)` (a `WeightedScores`), cost as the FLOPs of the members with weight > 0."""
    return np.stack([scorer(o.party)(W) if o.party else (W > 0) @ flops for o in objectives], 1)


@dataclass
class EnsembleTable:
    alphas: np.ndarray  # (A,) the alpha grid, alphas[0] = 0
    probs: dict[tuple[str, str], np.ndarray]  # (party, split) -> (P, A, M, N, C, ...) float32
    labels: dict[tuple[str, str], np.ndarray]  # (party, split) -> (N, ...)
    metric: str
    full: np.ndarray  # (M,) FLOPs per sample
    prefix: np.ndarray  # (P,)
    branch: np.ndarray  # (P, M)
    _scorers: dict = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(points, alphas, members)."""
        return self.branch.shape[0], len(self.alphas), self.branch.shape[1]

    def scorer(self, pi: int, ai: int, party: str, split: str) -> WeightedScores:
        key = (pi, ai, party, split)
        if key not in self._scorers:
            self._scorers[key] = weighted_scores(
                self.probs[party, split][pi, ai], self.labels[party, split], self.metric
            )
        return self._scorers[key]

    def canonical(self, points: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """One key per distinct (point, alpha): alpha = 0 (the plain ensemble) is the same at every point."""
        return np.where(levels == 0, 0, points) * len(self.alphas) + levels

    def lookup(self, points: np.ndarray, levels: np.ndarray, W: np.ndarray, objectives: list[str | None], split: str):
        """Objective matrix (n, len(objectives)) of candidates: point indices, alpha levels, weights (n, M);
        objectives name a party (its score) or None (cost)."""
        W = normalize(W)
        keys = self.canonical(np.asarray(points, dtype=int), np.asarray(levels, dtype=int))
        out = np.empty((len(W), len(objectives)))
        for key in np.unique(keys):
            rows = np.flatnonzero(keys == key)
            pi, ai = divmod(int(key), len(self.alphas))
            for j, party in enumerate(objectives):
                if party is not None:
                    out[rows, j] = self.scorer(pi, ai, party, split)(W[rows])
        if None in objectives:
            out[:, objectives.index(None)] = self.cost(keys, W)
        return out

    def cost(self, keys: np.ndarray, W: np.ndarray) -> np.ndarray:
        pi, ai = np.divmod(keys, len(self.alphas))
        used = W > 0
        stitched = self.prefix[pi] + (used * self.branch[pi]).sum(1)
        return np.where(ai == 0, used @ self.full, stitched)

    def front_candidates(self, parties: list[str], split: str, lattice: np.ndarray) -> np.ndarray:
        """Rows (point, level, w...) whose objective vectors contain the front on `split`: per distinct
        (point, alpha), every weight where a party's score can change and one inside each interval between
        (two members, accuracy: exact), or `lattice` on the simplex (otherwise)."""
        P, A, _ = self.shape
        rows = []
        for pi, ai in [(0, 0)] + [(pi, ai) for pi in range(P) for ai in range(1, A)]:
            breaks = [self.scorer(pi, ai, p, split).breakpoints() for p in parties]
            if all(b is not None for b in breaks):
                w = np.concatenate(interval_weights(np.concatenate(breaks)))
                W = np.stack([w, 1 - w], 1)
            else:
                W = lattice
            rows.append(np.column_stack([np.full(len(W), pi), np.full(len(W), ai), W]))
        return np.concatenate(rows)

    def front(self, objectives: list[str | None], maximize: np.ndarray, split: str, lattice: np.ndarray):
        rows = self.front_candidates([o for o in objectives if o is not None], split, lattice)
        return nondominated(self.lookup(rows[:, 0], rows[:, 1], rows[:, 2:], objectives, split), maximize)

    def exact(self) -> bool:
        """Whether `front` is exact: two members scored by accuracy."""
        return self.shape[2] == 2 and self.metric == "accuracy"
