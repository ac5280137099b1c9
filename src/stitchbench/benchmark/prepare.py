"""Preparing a run: build (or reuse) every zoo and problem, and take from each problem instance what the
results need: its record, its baselines, its exact or approximate front, and the front of its members'
weighted output ensembles (the reference claim 4 must beat)."""

import json
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from stitchbench.moo.pools import POOL_COLUMNS
from stitchbench.problems import Problem, ProblemInstance
from stitchbench.zoo import EVAL_SPLITS

from .suite import Job
from .workspace import Workspace

LONG = ["instance", "split", "point", "objective", "value"]


@dataclass
class Prepared:
    instances: dict[str, ProblemInstance]
    baselines: pd.DataFrame  # instance, split, baseline, objective, value
    exact_fronts: pd.DataFrame  # instance, split, point, objective, value
    ensemble_fronts: pd.DataFrame  # instance, split, point, objective, value, weights (JSON)
    claim_pools: pd.DataFrame  # instance, pool (stitched, ensembles, references), candidate, ... (moo.pools)


def long_rows(instance: str, split: str, names: list[str], F, point_names=None) -> list[tuple]:
    return [
        (instance, split, point_names[i] if point_names else i, n, float(v))
        for i, f in enumerate(F)
        for n, v in zip(names, f, strict=True)
    ]


def claim_pools(rec: ProblemInstance, problem: Problem) -> list[pd.DataFrame]:
    """Claim 4's pools of a stitching problem, long form (`moo.pools`); none for other problems."""
    pools = problem.claim_pools()
    if pools is None:
        return []
    named = {"ensembles": pools.ensembles, "references": pools.references, "stitched": pools.stitched}
    return [pool.to_frame(instance=rec.id, pool=name) for name, pool in named.items() if pool is not None]


def references(rec: ProblemInstance, problem: Problem) -> tuple[list, list, list]:
    base, exact, ens = [], [], []
    for split in EVAL_SPLITS:
        for name, vec in problem.baselines(split).items():
            base += long_rows(rec.id, split, rec.objectives, [vec], [name])
        front = problem.exact_front(split)
        if front is not None:
            exact += long_rows(rec.id, split, rec.objectives, front)
    weighted = problem.output_ensembles()
    if weighted is not None:
        W, val, test = weighted
        for split, F in (("val", val), ("test", test)):
            ens += [
                (*r, json.dumps([round(float(w), 6) for w in W[r[2]]]))
                for r in long_rows(rec.id, split, rec.parties, F)
            ]
    return base, exact, ens


def prepare(
    jobs: list[Job], ws: Workspace, on_zoo: Callable[[int], None], on_problem: Callable[[int], None]
) -> Prepared:
    """Every zoo, problem and reference table the jobs need; progress through the two callbacks."""
    for j in jobs:
        ws.zoo(j.scenario, j.zoo, j.zoo_seed)
        on_zoo(len(ws.zoos))
    instances: dict[str, ProblemInstance] = {}
    base, exact, ens, pools = [], [], [], []
    for j in jobs:
        if j.instance in instances:
            continue
        instances[j.instance] = rec = ws.instance(j)
        b, e, w = references(rec, ws.problem(j))
        base, exact, ens = base + b, exact + e, ens + w
        pools += claim_pools(rec, ws.problem(j))
        on_problem(len(instances))
    return Prepared(
        instances,
        pd.DataFrame(base, columns=["instance", "split", "baseline", "objective", "value"]),
        pd.DataFrame(exact, columns=LONG),
        pd.DataFrame(ens, columns=[*LONG, "weights"]),
        pd.concat(pools, ignore_index=True) if pools else pd.DataFrame(columns=["instance", "pool", *POOL_COLUMNS]),
    )
