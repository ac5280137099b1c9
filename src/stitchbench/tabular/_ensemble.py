"""The table of a stitch-ensemble with alpha on a grid (torch-free), and claim 4's side of the family.

A candidate (point, alpha, w) scores the weighted sum of its branches' class probabilities, and for a fixed
point and alpha the branches do not depend on w. So the table holds, for every matched point x alpha on the
grid, every branch's probabilities on each party's val and test split (P, A, M, N, C), and scoring any batch
of candidates is, per (point, alpha) they touch, the weighted-ensemble scorer of `stitchbench.moo._scoring`
(the one live evaluation uses, on the same probabilities: table and live scores are identical). Cost is
linear in which branches run: `full` (M,) FLOPs of each whole member (alpha = 0), `prefix` (P,) of every
member up to the point, `branch` (P, M) of each branch's stitches and suffix.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from stitchbench.errors import InputError
from stitchbench.moo._front import nondominated
from stitchbench.moo._lattice import simplex_grid
from stitchbench.moo._pools import ALPHA_MIN, CandidatePool, ClaimPools, ensemble_pools, scored
from stitchbench.moo._scoring import (
    PooledAccuracy,
    StepAccuracy,
    StepBank,
    WeightedScores,
    is_step,
    member_weights,
    normalize,
    sample_intervals,
    step_weightings,
    switch_names,
    weighted_scores,
)

from ._files import column, read, read_ensemble, read_intervals, value_columns, write, write_ensemble, write_intervals
from ._weights import test_scorers, write_members

BranchScorer = Callable[[tuple[int, float], str, str], WeightedScores]  # ((point, alpha), party, split)


def pool_decision(points: list[str], members: list[str]) -> Callable[[tuple[int, float], np.ndarray], dict]:
    def decide(combo: tuple[int, float], w: np.ndarray) -> dict:
        pi, alpha = combo
        return {"point": points[pi], "alpha": float(alpha), "weights": dict(zip(members, map(float, w), strict=True))}

    return decide


def stitch_pools(
    scorer: BranchScorer, points: list[str], members: list[str], parties: list[str], grid: np.ndarray | None
) -> ClaimPools:
    """Claim 4's pools of a stitch-ensemble: stitched candidates enumerated at every point x alpha level >=
    ALPHA_MIN where alpha is on a `grid` (None: live, the jobs' evaluations make S); the members' output
    ensembles at alpha 0; `members` are the parties whose models the branches run."""
    combos = None if grid is None else [(pi, float(a)) for pi in range(len(points)) for a in grid if a >= ALPHA_MIN]
    per_combo = max(len(members) + 1, 20_000 // max(1, len(combos or ())))
    return ensemble_pools(
        scorer,
        parties,
        members,
        combos,
        (0, 0.0),
        pool_decision(points, members),
        lambda: simplex_grid(len(members), per_combo),
    )


def stitch_candidates(
    scorer: BranchScorer,
    matrix: np.ndarray,
    alphas: np.ndarray,
    points: list[str],
    members: list[str],
    parties,
    switches: bool = False,
) -> CandidatePool:
    """Decisions (point, alpha, w... [, use...]) as claim-4 candidates at their evaluated `alphas`
    (`alpha_raw`: as given)."""
    matrix = np.asarray(matrix, dtype=float)
    W = member_weights(matrix[:, 2:], switches)
    combos = [(int(p) if a else 0, float(a)) for p, a in zip(matrix[:, 0], alphas, strict=True)]
    pools = []
    for combo in dict.fromkeys(combos):
        rows = [i for i, c in enumerate(combos) if c == combo]
        pool = scored(combo, W[rows], scorer, parties, pool_decision(points, members), True)
        for d, i in zip(pool.decisions, rows, strict=True):
            d["alpha_raw"] = float(matrix[i, 1])
        pools.append(pool)
    return CandidatePool.concat(pools, parties)


@dataclass
class EnsembleTable:
    family: ClassVar[str] = "stitch-ensemble"

    points: list[str]  # the matched points' names
    members: list[str]  # the party of each member (its weight variable is w.<party>)
    alphas: np.ndarray  # (A,) the alpha grid, alphas[0] = 0
    probs: dict[tuple[str, str], np.ndarray]  # (party, split) -> (P, A, M, N, C, ...) float32
    labels: dict[tuple[str, str], np.ndarray]  # (party, split) -> (N, ...)
    metric: str
    full: np.ndarray  # (M,) FLOPs per sample
    prefix: np.ndarray  # (P,)
    branch: np.ndarray  # (P, M)
    switches: bool = False  # use.<m> variables follow the weights (see `member_weights`)
    # the compact form of two members scored by accuracy (probs and labels empty): (party, split) -> each
    # sample's interval of weights where it is right, (lo, hi, lo_strict, hi_strict), each (P, A, N)
    intervals: dict | None = None
    _scorers: dict = field(default_factory=dict, repr=False)
    _pools: dict = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(points, alphas, members)."""
        return self.branch.shape[0], len(self.alphas), self.branch.shape[1]

    def level(self, alpha: np.ndarray) -> np.ndarray:
        """The index of the nearest grid value of each alpha (a gridded alpha takes its nearest value)."""
        return np.rint(np.asarray(alpha, dtype=float) * (len(self.alphas) - 1)).astype(int)

    def scorer(self, pi: int, ai: int, party: str, split: str) -> WeightedScores:
        key = (pi, ai, party, split)
        if key not in self._scorers:
            if self.intervals is not None:
                self._scorers[key] = StepAccuracy.from_intervals(*(a[pi, ai] for a in self.intervals[party, split]))
            else:
                self._scorers[key] = weighted_scores(
                    self.probs[party, split][pi, ai], self.labels[party, split], self.metric
                )
        return self._scorers[key]

    def compact(self) -> "EnsembleTable":
        """This table in its compact form (two members scored by accuracy): each sample's interval of weights
        where it is right, in place of the probabilities; every score is the same, bit for bit."""
        if self.intervals is not None or self.front_kind() != "exact" or self.metric != "accuracy":
            return self
        P, A, _ = self.shape
        intervals = {}
        for key, probs in self.probs.items():
            probs = np.asarray(probs, dtype=np.float32)  # as the step scorer reads them
            per = [[sample_intervals(probs[pi, ai], self.labels[key]) for ai in range(A)] for pi in range(P)]
            intervals[key] = tuple(np.array([[c[j] for c in row] for row in per]) for j in range(4))
        return replace(self, probs={}, labels={}, intervals=intervals, _scorers={}, _pools={})

    def bank(self, party: str, split: str) -> StepBank | None:
        """Every (point, alpha level)'s step scorer in one `StepBank`, indexed by `canonical` keys (two members
        scored by accuracy or Dice; None otherwise). Built on first use."""
        if self.front_kind() != "exact":
            return None
        key = ("bank", party, split)
        if key not in self._scorers:
            P, A, _ = self.shape
            scorers = [self.scorer(pi if ai else 0, ai, party, split) for pi in range(P) for ai in range(A)]
            self._scorers[key] = StepBank(scorers)
        return self._scorers[key]

    def banked(self, party: str, split: str, rows: int) -> bool:
        """Whether to score `rows` candidates through the bank: once it is built, or for a batch of at least
        one candidate per key (a few candidates, e.g. a job's front on test, build only the scorers of the
        keys they touch: a segmentation key's takes tens of milliseconds)."""
        return ("bank", party, split) in self._scorers or rows >= len(self.points) * len(self.alphas)

    def pooled(self, parties: tuple[str, ...], split: str) -> PooledAccuracy | None:
        """Every (point, alpha level)'s accuracy on each party in one `PooledAccuracy` (as `WeightsTable.pooled`),
        indexed by `canonical` keys: one fused pass over all the parties' samples (more than two members scored
        by accuracy; None otherwise). Built on first use."""
        if self.front_kind() == "exact" or self.metric != "accuracy" or self.labels[parties[0], split].ndim != 1:
            return None
        key = ("pooled", parties, split)
        if key not in self._scorers:
            probs = [self.probs[p, split] for p in parties]
            self._scorers[key] = PooledAccuracy(
                [pr.reshape(-1, *pr.shape[2:]) for pr in probs], [self.labels[p, split] for p in parties]
            )
        return self._scorers[key]

    def combo_scorer(self, combo: tuple[int, float], party: str, split: str) -> WeightedScores:
        """The branches' scorer at (point, alpha); alpha 0: the members' plain output ensemble."""
        pi, alpha = combo
        return self.scorer(pi if alpha else 0, int(self.level(alpha)), party, split)

    def canonical(self, points: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """One key per distinct (point, alpha): alpha = 0 (the plain ensemble) is the same at every point."""
        return np.where(levels == 0, 0, points) * len(self.alphas) + levels

    def lookup(self, matrix: np.ndarray, objectives: list[str | None], split: str) -> np.ndarray:
        """Objective matrix of validated decisions (point, alpha, w... [, use...]); objectives name a party or
        None (cost)."""
        matrix = np.asarray(matrix, dtype=float)
        W = member_weights(matrix[:, 2:], self.switches)
        return self.score_levels(matrix[:, 0], self.level(matrix[:, 1]), W, objectives, split)

    def score_levels(self, points, levels, W, objectives: list[str | None], split: str) -> np.ndarray:
        """`lookup` of point indices, alpha levels and weights (n, M)."""
        W = normalize(W)
        keys = self.canonical(np.asarray(points, dtype=int), np.asarray(levels, dtype=int))
        out = np.empty((len(W), len(objectives)))
        scored = [j for j, p in enumerate(objectives) if p is not None]
        pooled = self.pooled(tuple(objectives[j] for j in scored), split) if scored else None
        if pooled is not None:  # every key and party in one fused pass
            out[:, scored] = pooled(W, keys)
        else:
            w = StepAccuracy.weight_on_a(W) if self.front_kind() == "exact" else None  # what every bank reads
            for j in scored:
                out[:, j] = self.party_scores(keys, W, w, objectives[j], split)
        if None in objectives:
            out[:, objectives.index(None)] = self.cost(keys, W)
        return out

    def party_scores(self, keys: np.ndarray, W: np.ndarray, w: np.ndarray | None, party: str, split: str) -> np.ndarray:
        """One party's scores of weightings W at `canonical` keys: every key in one vectorized pass (a bank,
        reading w), or key by key."""
        bank = self.bank(party, split) if self.banked(party, split, len(W)) else None
        if bank is not None:
            return bank.at(keys, w)
        out = np.empty(len(W))
        for key in np.unique(keys):
            rows = np.flatnonzero(keys == key)
            out[rows] = self.scorer(*divmod(int(key), len(self.alphas)), party, split)(W[rows])
        return out

    def cost(self, keys: np.ndarray, W: np.ndarray) -> np.ndarray:
        pi, ai = np.divmod(keys, len(self.alphas))
        used = W > 0
        stitched = self.prefix[pi] + (used * self.branch[pi]).sum(1)
        return np.where(ai == 0, used @ self.full, stitched)

    def candidate_blocks(self, parties: list[str], split: str, lattice: np.ndarray):
        """Per distinct (point, alpha), rows (point, level, w...) whose objective vectors contain its front on
        `split`: every weight where a party's score can change and one inside each interval between (two
        members: exact), or `lattice` on the simplex (otherwise)."""
        P, A, _ = self.shape
        for pi, ai in [(0, 0)] + [(pi, ai) for pi in range(P) for ai in range(1, A)]:
            breaks = [self.scorer(pi, ai, p, split).breakpoints() for p in parties]
            W = step_weightings(breaks) if all(b is not None for b in breaks) else lattice
            yield np.column_stack([np.full(len(W), pi), np.full(len(W), ai), W])

    def front_candidates(self, parties: list[str], split: str, lattice: np.ndarray) -> np.ndarray:
        """Every row of `candidate_blocks`, in one array."""
        return np.concatenate(list(self.candidate_blocks(parties, split, lattice)))

    def front_kind(self) -> str:
        """Exact for two members (step scorers); otherwise the front of a lattice on the simplex."""
        return "exact" if is_step(self.shape[2], self.metric) else "approximate"

    def front(self, objectives: list[str | None], maximize: np.ndarray, split: str) -> np.ndarray:
        P, A, M = self.shape
        lattice = simplex_grid(M, max(M + 1, 200_000 // (P * A)))
        fronts = [  # each block's front first: the whole front is among them, and each block is small
            nondominated(self.score_levels(b[:, 0], b[:, 1], b[:, 2:], objectives, split), maximize)
            for b in self.candidate_blocks([o for o in objectives if o is not None], split, lattice)
        ]
        return nondominated(np.concatenate(fronts), maximize)

    def check_variables(self, variables: list) -> None:
        """Refuse variables that do not describe this table (point, alpha on its grid, w.<member>)."""
        names, weights = [v.name for v in variables], [f"w.{m}" for m in self.members]
        if names != ["point", "alpha", *weights, *(switch_names(weights) if self.switches else ())]:
            raise InputError(f"variables {names} do not match the table's members {self.members}")
        if list(variables[0].choices) != self.points:
            raise InputError(f"variable point's choices {list(variables[0].choices)} are not the table's points")
        alpha = variables[1]
        if alpha.levels != len(self.alphas):
            raise InputError(f"variable alpha has {alpha.levels} levels, alphas.parquet {len(self.alphas)}")
        if not np.allclose(alpha.grid(), self.alphas):
            first = int(np.flatnonzero(~np.isclose(alpha.grid(), self.alphas))[0])
            raise InputError(
                f"alphas.parquet's level {first} is alpha {float(self.alphas[first])}; variable alpha's grid has "
                f"{float(alpha.grid()[first])} there"
            )

    def stitch_alpha(self, matrix: np.ndarray) -> np.ndarray:
        """The grid value each decision's alpha snaps to (what it is evaluated at)."""
        return self.alphas[self.level(np.asarray(matrix, dtype=float)[:, 1])]

    def claim_pools(self, parties: list[str]) -> ClaimPools:
        key = tuple(parties)
        if key not in self._pools:
            self._pools[key] = stitch_pools(self.combo_scorer, self.points, self.members, parties, self.alphas)
        return self._pools[key]

    def val_samples(self, party: str) -> int:
        return (
            self.intervals[party, "val"][0].shape[-1] if self.intervals is not None else len(self.labels[party, "val"])
        )

    def restrict(self, keep: dict[str, np.ndarray], objectives: list[str | None]) -> "EnsembleTable":
        """This table with each party's val split cut to the samples `keep[party]` (see `fidelity`)."""
        probs, labels, intervals = dict(self.probs), dict(self.labels), dict(self.intervals or {})
        for party, idx in keep.items():
            if self.intervals is not None:
                intervals[party, "val"] = tuple(a[..., idx] for a in self.intervals[party, "val"])
            else:
                probs[party, "val"] = self.probs[party, "val"][:, :, :, idx]
                labels[party, "val"] = self.labels[party, "val"][idx]
        return replace(
            self,
            probs=probs,
            labels=labels,
            intervals=intervals if self.intervals is not None else None,
            _scorers=test_scorers(self._scorers),
            _pools={},
        )

    def write(self, directory: Path) -> dict[str, Any]:
        """members, alphas, points (with costs), probs and labels; the manifest's fields."""
        directory = Path(directory)
        write_members(directory, [f"w.{m}" for m in self.members], self.full)
        write(
            directory / "alphas.parquet", {"level": np.arange(len(self.alphas), dtype=np.int32), "alpha": self.alphas}
        )
        points = {"point": np.arange(len(self.points), dtype=np.int32), "name": self.points, "prefix": self.prefix}
        branches = {f"branch.{m}": np.asarray(self.branch[:, m], dtype=float) for m in range(self.branch.shape[1])}
        write(directory / "points.parquet", points | branches)
        table = self.compact()
        if table.intervals is not None:
            return write_intervals(directory, table.intervals) | {"shape": list(self.shape), "switches": self.switches}
        fields = write_ensemble(directory, self.probs, self.labels, ["point", "level", "member"])
        return fields | {"encoding": "probs", "switches": self.switches}

    @classmethod
    def read(cls, directory: Path, manifest: dict[str, Any]) -> "EnsembleTable":
        intervals = None
        if manifest.get("encoding") == "intervals":
            probs, labels, intervals = {}, {}, read_intervals(directory, manifest)
        else:
            probs, labels = read_ensemble(directory, manifest, ["point", "level", "member"])
        alphas = read(directory, manifest, "alphas.parquet")
        grid = column(alphas, "alpha")[np.argsort(column(alphas, "level"))]
        if len(grid) < 2 or not np.allclose(grid, np.linspace(0, 1, len(grid))):
            raise InputError(f"{directory}: alphas.parquet is not an even grid from 0 to 1: {grid.tolist()}")
        points = read(directory, manifest, "points.parquet")
        order = np.argsort(column(points, "point"))
        branch = np.column_stack([column(points, c) for c in value_columns(points, "branch.")])
        members = read(directory, manifest, "members.parquet")
        return cls(
            [points.column("name").to_pylist()[i] for i in order],
            [n.removeprefix("w.") for n in members.column("name").to_pylist()],
            grid,
            probs,
            labels,
            manifest["instance"]["metric"],
            column(members, "flops").astype(float),
            column(points, "prefix").astype(float)[order],
            branch.astype(float)[order],
            manifest.get("switches", False),
            intervals,
        )
