"""Claim 4's candidate pools (PAPER.md), built the same way for stitches and for output ensembles.

A pool is a set of candidates with their val and test party scores and each kept candidate's per-sample test
scores (a split's score is the mean of its samples' scores, so a bootstrap can resample them). `val_front`
selects the val-non-dominated candidates with all ties kept; `weighting_pool` enumerates every weighting of
weighted-sum scorers: with two members every breakpoint of val and test and one weighting
inside every interval between them (exact: every candidate has the scores of one of these), a lattice on the
simplex otherwise (approximate). `Stitching` is what a family whose candidates stitch gives claim 4.
Torch-free.
"""

import json
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from ._instance import Members
from ._lattice import simplex_grid
from ._scoring import WeightedScores, normalize, step_weightings
from ._splits import EVAL_SPLITS

if TYPE_CHECKING:
    import pandas as pd

ALPHA_MIN = 0.05  # a smaller evaluated alpha is, for practical purposes, the output ensemble: never a stitch


def val_front(val: np.ndarray) -> np.ndarray:
    """Indices of the rows of `val` (scores, maximized) that no row dominates: all ties kept."""
    if not len(val):
        return np.arange(0)
    import moocore

    return np.flatnonzero(moocore.is_nondominated(np.asarray(val, dtype=float), maximise=True, keep_weakly=True))


@dataclass
class CandidatePool:
    """Candidates as claim 4 compares them: `decisions` (JSON-able), party scores on val and test (n, P), and
    per party the per-sample test scores (n, N_party). `exact`: the pool holds every candidate's scores."""

    parties: list[str]
    decisions: list[dict]
    val: np.ndarray
    test: np.ndarray
    samples: list[np.ndarray]
    exact: bool = True

    def __len__(self) -> int:
        return len(self.decisions)

    def take(self, index: Sequence[int] | np.ndarray) -> "CandidatePool":
        index = np.asarray(index, dtype=int)
        return CandidatePool(
            self.parties,
            [self.decisions[i] for i in index],
            self.val[index],
            self.test[index],
            [s[index] for s in self.samples],
            self.exact,
        )

    def front(self) -> "CandidatePool":
        """The val-non-dominated candidates, all ties kept."""
        return self.take(val_front(self.val))

    @classmethod
    def empty(cls, parties: list[str], samples: Sequence[int] = ()) -> "CandidatePool":
        P = len(parties)
        n = list(samples) or [0] * P
        return cls(parties, [], np.empty((0, P)), np.empty((0, P)), [np.empty((0, k)) for k in n])

    @classmethod
    def concat(cls, pools: Sequence["CandidatePool"], parties: list[str]) -> "CandidatePool":
        pools = [p for p in pools if len(p)]
        if not pools:
            return cls.empty(parties)
        return cls(
            parties,
            [d for p in pools for d in p.decisions],
            np.concatenate([p.val for p in pools]),
            np.concatenate([p.test for p in pools]),
            [np.concatenate([p.samples[j] for p in pools]) for j in range(len(parties))],
            all(p.exact for p in pools),
        )

    def to_frame(self, **columns) -> "pd.DataFrame":
        """Long form, one row per candidate and party: `columns` (e.g. instance, pool), candidate, decision
        (JSON), exact, party, val, test, samples (the per-sample test scores, float32)."""
        rows = [
            {
                **columns,
                "candidate": i,
                "decision": json.dumps(d),
                "exact": self.exact,
                "party": p,
                "val": float(self.val[i, j]),
                "test": float(self.test[i, j]),
                "samples": self.samples[j][i].astype(np.float32),
            }
            for i, d in enumerate(self.decisions)
            for j, p in enumerate(self.parties)
        ]
        import pandas as pd  # imported here: loading a table does not pay for it

        return pd.DataFrame(rows, columns=[*columns, *POOL_COLUMNS])

    @classmethod
    def from_frame(cls, df: "pd.DataFrame", parties: list[str]) -> "CandidatePool":
        """The pool of `to_frame` tables (of any instances, pools and jobs): a candidate is one value of the
        key columns (every column but the party's values), with exactly one row per party and one decision;
        candidates in key order, each decision naming its `instance` where the table has one. A table whose
        rows do not line up that way raises ValueError."""
        if not len(df):
            return cls.empty(parties)
        keys = [c for c in df.columns if c not in VALUE_COLUMNS]
        df = df.sort_values([*keys, "party"], kind="stable")
        rows = df.groupby(keys, sort=False, dropna=False)
        bad = (rows.size() != len(parties)) | (rows.party.nunique() != len(parties))
        if bad.any() or not set(df.party) <= set(parties):
            raise ValueError(f"candidate {bad.idxmax() if bad.any() else ''} has not one row for each of {parties}")
        if (rows.decision.nunique() > 1).any():
            raise ValueError("a candidate's rows carry different decisions")
        by = {p: g for p, g in df.groupby("party", sort=False)}
        first = by[parties[0]]
        decisions = [json.loads(d) for d in first.decision]
        if "instance" in first:
            decisions = [d | {"instance": i} for d, i in zip(decisions, first.instance, strict=True)]
        return cls(
            parties,
            decisions,
            np.stack([by[p].val.to_numpy(dtype=float) for p in parties], 1),
            np.stack([by[p].test.to_numpy(dtype=float) for p in parties], 1),
            [np.stack([np.asarray(x, dtype=np.float64) for x in by[p].samples]) for p in parties],
            bool(df.exact.all()),
        )


POOL_COLUMNS = ["candidate", "decision", "exact", "party", "val", "test", "samples"]
VALUE_COLUMNS = ("decision", "exact", "party", "val", "test", "samples")  # the rest are a candidate's key


@dataclass
class ClaimPools:
    """What a stitching problem gives claim 4: `stitched` (the exact or lattice enumeration of its stitched
    candidates, chosen on val; None where it is live: then the jobs' evaluated candidates make it),
    `ensembles` (weighted output ensembles of the same members, chosen on val) and `references` (each
    member alone, as `local:<party>`, and their uniform ensemble, as `ensemble`)."""

    stitched: CandidatePool | None
    ensembles: CandidatePool
    references: CandidatePool


@runtime_checkable
class Stitching(Members, Protocol):
    """A problem whose candidates stitch (`stitch-ensemble`): the study gives it claim 4 (PAPER.md) where
    `isinstance(problem, Stitching)`; the runner records each evaluated decision's `alpha_evaluated`.
    `stitchbench.tabular._ensemble.stitch_pools` and `stitch_candidates` implement the pools for weightings
    of branches at (point, alpha)."""

    def stitch_alpha(self, matrix: np.ndarray) -> np.ndarray | None:
        """The alpha each validated decision is evaluated at (a gridded alpha snapped to its grid); a decision
        is stitched where it is at least ALPHA_MIN."""
        ...

    def claim_pools(self) -> ClaimPools | None:
        """Its stitched candidates, enumerated where `stitches_enumerated()`, the members' weighted output
        ensembles and the references."""
        ...

    def stitches_enumerated(self) -> bool:
        """Whether `claim_pools()` enumerates the stitched candidates (else each job keeps its own)."""
        ...

    def candidate_pool(self, matrix: np.ndarray) -> CandidatePool:
        """Validated decisions as candidates (val and test scores, per-sample test scores): the study calls it
        on each job's val-chosen stitched candidates where they are not enumerated."""
        ...


Scorer = Callable[[Hashable, str, str], WeightedScores]  # (combo, party, split) -> the combo's scorer


def scored(combo: Hashable, W: np.ndarray, scorer: Scorer, parties: list[str], decide, exact: bool) -> CandidatePool:
    """The weightings W of one combo as a pool: val and test scores, per-sample test scores."""
    samples = [scorer(combo, p, "test").samples(W) for p in parties]
    val = np.stack([scorer(combo, p, "val")(W) for p in parties], 1)
    test = np.stack([s.mean(1) for s in samples], 1)
    return CandidatePool(parties, [decide(combo, w) for w in W], val, test, samples, exact)


def weighting_pool(
    combos: Sequence[Hashable],
    scorer: Scorer,
    parties: list[str],
    decide: Callable[[Hashable, np.ndarray], dict],
    lattice: Callable[[], np.ndarray],
) -> CandidatePool:
    """The val-non-dominated weightings (all ties) of every combo (e.g. a point and an alpha), scored on test
    per sample. Exact where every scorer gives breakpoints (two members): every breakpoint of both
    splits and one weighting inside each interval between them; otherwise the `lattice()` (approximate)."""
    chosen = []
    exact = True
    for combo in combos:
        breaks = [scorer(combo, p, s).breakpoints() for p in parties for s in EVAL_SPLITS]
        exact_here = all(b is not None for b in breaks)
        exact = exact and exact_here
        W = normalize(step_weightings(breaks) if exact_here else lattice())  # the weights as a problem evaluates them
        val = np.stack([scorer(combo, p, "val")(W) for p in parties], 1)
        keep = val_front(val)  # a candidate on the pool's front is on its combo's front
        chosen.append((combo, W[keep], val[keep]))
    if not chosen:
        return CandidatePool.empty(parties)
    overall = val_front(np.concatenate([v for _, _, v in chosen]))
    pools, start = [], 0
    for combo, W, _ in chosen:
        mine = overall[(overall >= start) & (overall < start + len(W))] - start
        start += len(W)
        if len(mine):
            pools.append(scored(combo, W[mine], scorer, parties, decide, exact))
    pool = CandidatePool.concat(pools, parties)
    pool.exact = exact
    return pool


def ensemble_pools(
    scorer: Scorer,
    parties: list[str],
    members: list[str],
    stitched_combos: Sequence[Hashable] | None,
    ensemble_combo: Hashable,
    decide: Callable[[Hashable, np.ndarray], dict],
    lattice: Callable[[], np.ndarray],
) -> ClaimPools:
    """Claim 4's pools of a problem whose candidates are weightings of branches at combos (a stitch-ensemble:
    a point and an alpha; `ensemble_combo` is the plain output ensemble of the members, named by party in
    `members`). `stitched_combos`: those whose evaluated alpha is >= ALPHA_MIN, or None where the problem
    cannot enumerate them (live alpha); `lattice()`: their weightings beyond two members. E's lattice is
    `simplex_grid(M)`, fixed by the members alone, so every instance of the same members has the same E."""
    M = len(members)
    refs_W = np.vstack([np.eye(M), np.full((1, M), 1 / M)])
    refs = scored(ensemble_combo, refs_W, scorer, parties, decide, True)
    refs.decisions = [{"reference": f"local:{m}"} for m in members] + [{"reference": "ensemble"}]
    return ClaimPools(
        None if stitched_combos is None else weighting_pool(stitched_combos, scorer, parties, decide, lattice),
        weighting_pool([ensemble_combo], scorer, parties, decide, lambda: simplex_grid(M)),
        refs,
    )
