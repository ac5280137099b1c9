"""Claim 4, stitches improve on ensembles, as a held-out test (PAPER.md): one stitched candidate is selected
on val and only it is tested on test, so that picking the luckiest of many candidates cannot decide it.

For a host p on one zoo seed, each set of members its stitching instances combine is a `Group`: S (the
val-non-dominated stitched candidates of those instances, evaluated alpha >= ALPHA_MIN), E (the val-chosen
weighted output ensembles of the same members) and the references (each member alone, their uniform
ensemble). Thresholds on a split: t_p = local p on p - 1.5 points, t_q = local p on q + half the uniform
ensemble's gain over it. A candidate is eligible when, on val, it meets every threshold and no point of E
weakly dominates it; s* maximizes the val margin min(min_r (s_r - t_r), min_e max_r (s_r - e_r)) over the
eligible candidates of every group, ties broken by instance id, then by the candidate's decision (JSON with
sorted keys). On test, s* must meet the test thresholds with no point of E (scored on test) weakly dominating
it, and that must hold on a paired bootstrap of the test samples (`bootstrap`): HOLDS at >= 95% of resamples,
FAILS with no eligible candidate, a failing point estimate or <= 5%, INCONCLUSIVE otherwise.
"""

import json
from dataclasses import dataclass, replace
from typing import TypeVar

import moocore
import numpy as np

from stitchbench.moo._instance import ProblemInstance
from stitchbench.moo._pools import CandidatePool, val_front

from ._bootstrap import FAILS, NOT_TESTED, combined, fraction, verdict
from ._records import Bootstrap, Claim4Seed, HeldOutTest, Selected

T = TypeVar("T", bound=HeldOutTest)

POINT = 0.01
EPS = 1e-9
OWN_LOSS = 1.5 * POINT  # how far below local p on p a recovering stitch may score on p
GAIN_SHARE = 0.5  # the share of the uniform ensemble's gain over local p it must keep on every other party


@dataclass
class Group:
    """One set of members' pools for claim 4 (one host, one zoo seed). `stitched`'s decisions name their
    `instance`; `references`' decisions name their `reference` (`local:<party>`, `ensemble`)."""

    instances: list[ProblemInstance]
    stitched: CandidatePool
    ensembles: CandidatePool
    references: CandidatePool

    def reference(self, name: str) -> int:
        return [d["reference"] for d in self.references.decisions].index(name)

    def need(self, host: int, split: str) -> np.ndarray:
        """The thresholds on `split` (P,)."""
        refs = getattr(self.references, split)
        party = self.references.parties[host]
        return thresholds(refs[self.reference(f"local:{party}")], refs[self.reference("ensemble")], host)


def thresholds(local: np.ndarray, ensemble: np.ndarray, host: int) -> np.ndarray:
    """What s must reach on each party (axis 0; further axes are resamples)."""
    need = local + GAIN_SHARE * (ensemble - local)
    need[host] = local[host] - OWN_LOSS
    return need


def meets(X: np.ndarray, need: np.ndarray, tol: float = EPS) -> np.ndarray:
    """Per row of X (n, P): at or above `need` on every party, within `tol`."""
    return (X - need >= -tol).all(1)


def dominated_by(S: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Per row of S (n, P): weakly dominated (within EPS) by some row of E."""
    dominated = np.zeros(len(S), dtype=bool)
    if not len(E) or not len(S):
        return dominated
    E = E[val_front(E)]  # an e that another e' dominates dominates nothing e' does not
    chunk = max(1, int(5e7 // (len(E) * S.shape[1])))
    for i in range(0, len(S), chunk):
        dominated[i : i + chunk] = (E[:, None] >= S[i : i + chunk][None] - EPS).all(2).any(0)
    return dominated


def margins(S: np.ndarray, E: np.ndarray, need: np.ndarray) -> np.ndarray:
    """Per row of S (n, P): min(min_r (s_r - t_r), min_e max_r (s_r - e_r)); positive where s meets every
    threshold and no e weakly dominates it."""
    out = (S - need).min(1)
    if len(E) and len(S):
        E = E[val_front(E)]
        chunk = max(1, int(5e7 // (len(E) * S.shape[1])))
        for i in range(0, len(S), chunk):
            out[i : i + chunk] = np.minimum(out[i : i + chunk], (S[i : i + chunk][:, None] - E[None]).max(2).min(1))
    return out


def hv(F: np.ndarray) -> float:
    """Hypervolume of party scores (maximized, in [0, 1]) against the origin."""
    return float(moocore.hypervolume(F, ref=np.zeros(F.shape[1]), maximise=True)) if len(F) else 0.0


def distinct_rows(samples: list[np.ndarray]) -> list[np.ndarray]:
    """Per-party per-sample scores with candidates identical on every sample of every party kept once."""
    if not len(samples[0]):
        return samples
    widths = np.cumsum([s.shape[1] for s in samples])[:-1]
    return np.split(np.unique(np.hstack(samples), axis=0), widths, axis=1)


def tie_key(decision: dict) -> str:
    return json.dumps(decision, sort_keys=True)


def select(groups: list[Group], host: int) -> tuple[int, int, float, int]:
    """(group, candidate in its S, val margin, eligible count) of s*: the eligible candidate of largest val
    margin (ties: instance id, then decision); with none eligible, the closest candidate."""
    best, eligible = None, 0
    for g, group in enumerate(groups):
        S, E = group.stitched, group.ensembles
        m = margins(S.val, E.val, group.need(host, "val"))
        ok = m > EPS
        eligible += int(ok.sum())
        for i in range(len(S)):
            key = (not ok[i], -m[i], S.decisions[i]["instance"], tie_key(S.decisions[i]))
            if best is None or key < best[0]:
                best = (key, g, i, float(m[i]))
    _, g, i, m = best
    return g, i, m, eligible


def test_condition(group: Group, i: int, host: int):
    """The bootstrap condition of s* (row i of the group's S): on each resample, s* meets the thresholds and
    no point of E weakly dominates it."""
    s = [x[i] for x in group.stitched.samples]
    E = distinct_rows(group.ensembles.samples)
    R = group.references.samples
    local, ens = group.reference(f"local:{group.references.parties[host]}"), group.reference("ensemble")

    def condition(parties: list[np.ndarray], _zoo: np.ndarray) -> np.ndarray:
        s_b = np.stack([x @ w for x, w in zip(s, parties, strict=True)])  # (P, b)
        E_b = np.stack([x @ w for x, w in zip(E, parties, strict=True)], 1)  # (nE, P, b)
        R_b = np.stack([x @ w for x, w in zip(R, parties, strict=True)], 1)
        need = thresholds(R_b[local], R_b[ens], host)
        dominated = (E_b >= s_b[None] - EPS).all(1).any(0) if len(E_b) else np.zeros(s_b.shape[1], dtype=bool)
        return (s_b - need >= -EPS).all(0) & ~dominated

    return condition


def val_fronts(groups: list[Group]) -> list[Group]:
    """The groups with references, each with S its stitched candidates' val front."""
    return [replace(g, stitched=g.stitched.front()) for g in groups if len(g.references)]


def decide_seed(host: str, groups: list[Group], zoo_seed: int, record: type[T] = Claim4Seed) -> T:
    """Claim 4 for a host on one zoo seed, over the groups of its stitching instances, as a `record` (claim 5
    gives a one-shot family's front in E's place, and its record names it so)."""
    groups = val_fronts(groups)
    rival = record.RIVAL
    counts = {
        "zoo_seed": zoo_seed,
        "instances": sorted(r.id for g in groups for r in g.instances),
        "stitched_points": sum(len(g.stitched) for g in groups),
        f"{rival}_points": sum(len(g.ensembles) for g in groups),
        f"{rival}_exact": all(g.ensembles.exact for g in groups),
    }
    if not counts["stitched_points"]:
        return record(**counts, verdict=NOT_TESTED, reason="no stitched candidate")
    h = groups[0].references.parties.index(host)
    gi, i, margin, eligible = select(groups, h)
    group = groups[gi]
    S, E, parties = group.stitched, group.ensembles, group.stitched.parties
    decision = S.decisions[i]
    rec = next(r for r in group.instances if r.id == decision["instance"])
    need = group.need(h, "test")
    point = S.test[i]
    on_test = bool(meets(point[None], need)[0] and not dominated_by(point[None], E.test)[0])
    base = counts | {
        "eligible": eligible,
        "members": list(rec.members),
        "selected": Selected(**decision, method=rec.params.get("method", ""), params=rec.params),
        "val_margin": margin,
        "required_val": dict(zip(parties, map(float, group.need(h, "val")), strict=True)),
        "required": dict(zip(parties, map(float, need), strict=True)),
        "point_val": dict(zip(parties, map(float, S.val[i]), strict=True)),
        "point": dict(zip(parties, map(float, point), strict=True)),
        "holds_on_point_estimate": on_test,
        "stitched_exact": S.exact,
        "hv_gain": hv(np.vstack([S.test, E.test])) - hv(E.test),  # what S adds to E on test
        "hv_rival_gain": hv(np.vstack([S.test, E.test])) - hv(S.test),  # what E adds to S
    }
    if not eligible:
        return record(**base, verdict=FAILS, reason="no stitched candidate is eligible on val (the closest is shown)")
    if not on_test:
        return record(**base, verdict=FAILS, reason="s* fails on the test point estimate")
    f = fraction(test_condition(group, i, h), [x.shape[1] for x in S.samples])
    return record(**base, bootstrap=Bootstrap.of(f), verdict=verdict(f))


def host_verdict(per_seed: list[HeldOutTest]) -> str:
    """HOLDS when it holds on every tested zoo seed (at least one), FAILS when it fails on any; an untested
    seed never hides a failure."""
    return combined([r.verdict for r in per_seed])
