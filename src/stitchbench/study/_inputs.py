"""What the claims read of a run: the reference models' per-sample scores of an instance, and claim 4's groups
of a host's stitching instances on a zoo seed, from the long tables the study writes (`analysis`)."""

import numpy as np
import pandas as pd

from stitchbench.moo._instance import ProblemInstance
from stitchbench.moo._pools import CandidatePool

from ._claim4 import Group

Samples = dict[str, dict[str, np.ndarray]]  # reference -> party -> per-sample test scores (one zoo seed)


def reference_samples(table: pd.DataFrame, rec: ProblemInstance) -> Samples:
    mine = table[table.instance == rec.id]
    out: Samples = {}
    for row in mine.itertuples(index=False):
        out.setdefault(row.baseline, {})[row.party] = np.asarray(row.samples, dtype=np.float64)
    return out


def groups_of(host: str, recs: list[ProblemInstance], pools: pd.DataFrame) -> list[Group]:
    """Claim 4's groups of a host's stitching instances on one zoo seed: one per set of members (E and the
    references are fixed by the members, so one instance's serve the group)."""
    by_members: dict[tuple, list[ProblemInstance]] = {}
    for rec in sorted(recs, key=lambda r: r.id):
        by_members.setdefault(tuple(sorted(rec.members)), []).append(rec)
    groups = []
    for members in by_members.values():
        ids = [r.id for r in members]
        mine = pools[pools.instance.isin(ids)]

        def pool(name: str, ids: list[str], mine=mine, parties=members[0].parties) -> CandidatePool:
            return CandidatePool.from_frame(mine[(mine.pool == name) & mine.instance.isin(ids)], parties)

        groups.append(Group(members, pool("stitched", ids), pool("ensembles", ids[:1]), pool("references", ids[:1])))
    return groups


def host_groups(host: str, seed: int, recs: list[ProblemInstance], pools: pd.DataFrame) -> list[Group]:
    """Claim 4's groups of a host's stitching instances on one zoo seed (none without one)."""
    stitching = set(pools[pools.pool == "ensembles"].instance) if len(pools) else set()
    mine = [r for r in recs if r.host == host and r.zoo_seed == seed and r.id in stitching]
    return groups_of(host, mine, pools) if mine else []
