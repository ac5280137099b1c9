"""The headline figure's numbers: per scenario and host, each method's val-chosen point (claim 4's s*, each
one-shot family's own point, the uniform ensemble, FedAvg, FedProx, the host's local model) as its gap to
merged data per party on test. Per test sample, the gap is averaged over the zoo seeds where the method has a
point; its mean comes with a 95% percentile interval from resampling the test samples (`bootstrap.interval`).
"""

import numpy as np
import pandas as pd

from stitchbench.moo._instance import ProblemInstance
from stitchbench.moo._pools import CandidatePool

from ._bootstrap import interval
from ._claim4 import POINT, select, val_fronts
from ._claim5 import ONE_SHOT_POOL, best_point
from ._inputs import host_groups, reference_samples
from ._records import Gap

STITCH = "stitch s*"
REFERENCES = {"ensemble": "uniform ensemble", "fedavg": "FedAvg", "fedprox": "FedProx"}

Points = dict[str, dict[str, np.ndarray]]  # method -> party -> per-sample test scores


def seed_points(
    host: str, seed: int, recs: list[ProblemInstance], pools: pd.DataFrame, samples: pd.DataFrame, families: list[str]
) -> tuple[Points, dict[str, np.ndarray]]:
    """Each method's val-chosen point on one zoo seed, and merged data's per-sample scores ({} without)."""
    out: Points = {}
    groups = val_fronts(host_groups(host, seed, recs, pools))
    if any(len(g.stitched) for g in groups):
        g, i, _, _ = select(groups, groups[0].references.parties.index(host))
        S = groups[g].stitched
        out[STITCH] = {p: x[i] for p, x in zip(S.parties, S.samples, strict=True)}
    mine = [r for r in recs if r.host == host and r.zoo_seed == seed]
    for family in families:
        ids = [r.id for r in mine if r.family == family]
        if ids:
            table = pools[(pools.pool == ONE_SHOT_POOL) & pools.instance.isin(ids)]
            front = CandidatePool.from_frame(table, recs[0].parties).front()
            i = best_point(front)
            out[family] = {p: x[i] for p, x in zip(front.parties, front.samples, strict=True)}
    refs = next((r for r in (reference_samples(samples, rec) for rec in mine) if "merged" in r), {})
    out |= {label: refs[name] for name, label in (*REFERENCES.items(), (f"local:{host}", "local")) if name in refs}
    return out, refs.get("merged", {})


def gap_rows(recs: list[ProblemInstance], pools: pd.DataFrame, samples: pd.DataFrame, families: list[str]) -> list[Gap]:
    """One row per host, method and party: gap (points), its interval, and the zoo seeds it averages."""
    rows = []
    parties = recs[0].parties
    for host in parties:
        per_seed = [seed_points(host, s, recs, pools, samples, families) for s in sorted({r.zoo_seed for r in recs})]
        methods = list(dict.fromkeys(m for points, merged in per_seed if merged for m in points))
        for method in methods:
            having = [(points[method], merged) for points, merged in per_seed if merged and method in points]
            for p in parties:
                x = np.mean([pt[p] - merged[p] for pt, merged in having], 0) / POINT
                lo, hi = interval(x)
                rows.append(
                    Gap(host=host, method=method, party=p, gap=float(x.mean()), lo=lo, hi=hi, zoo_seeds=len(having))
                )
    return rows
