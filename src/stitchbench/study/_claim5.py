"""Claim 5, stitches versus the one-shot alternatives (PAPER.md): for a host, a zoo seed and a one-shot family
B (`distill`, `merge`, `finetune`), claim 4's held-out test with B's val-chosen front (all ties, scored on
test) in place of the output ensembles E: s* is selected on val among the stitched candidates eligible against
B's front and tested on test against it, with the same thresholds, bootstrap and zoo-seed rule. Each record
adds what each front adds to the other's hypervolume on test, and B's own val-chosen point (the one of
highest mean val score over the parties) with its gap to merged data per party on test.
"""

from dataclasses import replace

import numpy as np
import pandas as pd

from stitchbench.moo._instance import ProblemInstance
from stitchbench.moo._pools import CandidatePool

from ._bootstrap import NOT_TESTED
from ._claim4 import POINT, Group, decide_seed, host_verdict
from ._records import Claim5Check, Claim5Seed, FamilyPoint

ONE_SHOT_POOL = "oneshot"  # the claim pools' name of a one-shot instance's val-chosen front


def best_point(front: CandidatePool) -> int:
    """B's own val-chosen point: the highest mean val score over the parties (ties: the first)."""
    return int(np.argmax(front.val.mean(1)))


def merged_gap(front: CandidatePool, merged: dict[str, np.ndarray]) -> FamilyPoint:
    """B's val-chosen point, its test scores and its gap to merged data per party on test, in points."""
    i = best_point(front)
    point = dict(zip(front.parties, map(float, front.test[i]), strict=True))
    gap = {p: (point[p] - float(merged[p].mean())) / POINT for p in front.parties} if merged else {}
    return FamilyPoint(decision=front.decisions[i], point=point, gap_to_merged_points=gap)


def family_front(recs: list[ProblemInstance], pools: pd.DataFrame, members: list[str]) -> CandidatePool | None:
    """The val front of a family's instances that combine exactly `members` (all ties kept); None without one."""
    ids = [r.id for r in recs if sorted(r.members) == sorted(members)]
    if not ids:
        return None
    mine = pools[(pools.pool == ONE_SHOT_POOL) & pools.instance.isin(ids)]
    return CandidatePool.from_frame(mine, recs[0].parties).front()


def decide_family(
    host: str, seed: int, groups: list[Group], recs: list[ProblemInstance], pools: pd.DataFrame, merged: dict
) -> Claim5Seed:
    """Claim 5 for one family on one zoo seed: the stitching groups whose members the family combines too,
    each with the family's front as its rival."""
    rivals = [(g, family_front(recs, pools, g.instances[0].members)) for g in groups]
    rivaled = [replace(g, ensembles=front) for g, front in rivals if front is not None and len(front)]
    if not rivaled:
        reason = "no instance of the family combines the stitches' members"
        return Claim5Seed(zoo_seed=seed, verdict=NOT_TESTED, reason=reason)
    own = merged_gap(rivaled[0].ensembles, merged)
    return decide_seed(host, rivaled, seed, Claim5Seed).model_copy(update={"family_point": own})


def claim5(
    host: str,
    seeds: list[int],
    recs: list[ProblemInstance],
    pools: pd.DataFrame,
    groups_of,
    merged_of,
    families: list[str],
) -> list[Claim5Check]:
    """Per family present in the run: claim 5 for a host, decided per zoo seed and combined by claim 4's rule
    (`host_verdict`). `groups_of(seed)`: claim 4's groups of the host on a zoo seed; `merged_of(rec)`: merged
    data's per-sample test scores per party, from a one-shot instance's references."""
    out = []
    for family in families:
        per_seed = []
        for seed in seeds:
            groups = groups_of(seed)
            mine = [r for r in recs if r.family == family and r.host == host and r.zoo_seed == seed]
            if not groups:
                result = Claim5Seed(zoo_seed=seed, verdict=NOT_TESTED, reason="no stitching problem")
            elif not mine:
                result = Claim5Seed(zoo_seed=seed, verdict=NOT_TESTED, reason=f"no {family} instance for this host")
            else:
                result = decide_family(host, seed, groups, mine, pools, merged_of(mine[0]))
            per_seed.append(result)
        out.append(Claim5Check(host=host, family=family, verdict=host_verdict(per_seed), per_seed=per_seed))
    return out
