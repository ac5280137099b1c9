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

from stitchbench.moo.api import Variable
from stitchbench.moo.front import nondominated
from stitchbench.moo.lattice import simplex_grid
from stitchbench.moo.pools import ALPHA_MIN, CandidatePool, ClaimPools, ensemble_pools, scored
from stitchbench.moo.scoring import WeightedScores, interval_weights, normalize, weighted_scores


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


class StitchEnsembleClaims:
    """Claim 4's side of the stitch-ensemble family, shared by its live and tabular forms. A candidate is a
    point, an alpha and weights over the members' branches (variables `point`, `alpha`, `w.<party>`); the
    class using this holds its `table` (an `EnsembleTable`), or overrides `combo_scorer` where it has none."""

    alpha: Variable
    variables: list[Variable]
    table: "EnsembleTable | None"

    def combo_scorer(self, combo: tuple[int, float], party: str, split: str) -> WeightedScores:
        """The `WeightedScores` of the branches at (point index, alpha); alpha 0: the members' output ensemble."""
        pi, alpha = combo
        return self.table.scorer(pi if alpha else 0, int(self.alpha.level(alpha)), party, split)

    def member_parties(self) -> list[str]:
        return [v.name.removeprefix("w.") for v in self.variables[2:]]

    def stitch_alpha(self, matrix: np.ndarray) -> np.ndarray:
        alphas = np.asarray(matrix, dtype=float)[:, 1]
        return self.alpha.grid()[self.alpha.level(alphas)] if self.alpha.levels else alphas

    def pool_decision(self, combo: tuple[int, float], w: np.ndarray) -> dict:
        pi, alpha = combo
        weights = dict(zip(self.member_parties(), map(float, w), strict=True))
        return {"point": self.variables[0].choices[pi], "alpha": float(alpha), "weights": weights}

    def claim_pools(self) -> ClaimPools:
        """Stitched candidates enumerated at every point x alpha level >= ALPHA_MIN where alpha is gridded
        (live: None, the jobs' evaluations make S); the members' output ensembles at alpha 0."""
        points, grid = len(self.variables[0].choices), self.alpha.grid() if self.alpha.levels else None
        combos = None if grid is None else [(pi, float(a)) for pi in range(points) for a in grid if a >= ALPHA_MIN]
        members = self.member_parties()
        per_combo = max(len(members) + 1, 20_000 // max(1, len(combos or ())))
        return ensemble_pools(
            self.combo_scorer,
            self.parties(),
            members,
            combos,
            (0, 0.0),
            self.pool_decision,
            lambda: simplex_grid(len(members), per_combo),
        )

    def candidate_pool(self, matrix: np.ndarray) -> CandidatePool:
        """Decisions as claim-4 candidates, at their evaluated alpha (`alpha_raw`: as given)."""
        matrix = np.asarray(matrix, dtype=float)
        alphas, W = self.stitch_alpha(matrix), normalize(matrix[:, 2:])
        combos = [(int(p) if a else 0, float(a)) for p, a in zip(matrix[:, 0], alphas, strict=True)]
        pools = []
        for combo in dict.fromkeys(combos):
            rows = [i for i, c in enumerate(combos) if c == combo]
            pool = scored(combo, W[rows], self.combo_scorer, self.parties(), self.pool_decision, True)
            for d, i in zip(pool.decisions, rows, strict=True):
                d["alpha_raw"] = float(matrix[i, 1])
            pools.append(pool)
        return CandidatePool.concat(pools, self.parties())
