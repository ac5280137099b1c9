"""Preparing a run: build (or reuse) every zoo and problem, and take from each problem instance what the
results need: its record, its baselines, its exact or approximate front, and the front of its members'
weighted output ensembles (the reference claim 4 must beat).

Three phases, each with its progress callback: train every missing model (all zoos' in one pool of
processes), build every problem's stored artifacts (stitch sets, tables: in a pool too), then, in this
process, load each problem from the cache and take its references."""

import json
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import pandas as pd
import torch

from stitchbench.hashing import canonical_json
from stitchbench.moo.pools import POOL_COLUMNS
from stitchbench.problems import Problem, ProblemInstance
from stitchbench.processes import die_with_parent
from stitchbench.zoo import EVAL_SPLITS
from stitchbench.zoo.build import train_models, zoo_configs

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
    timings: dict[str, float]  # seconds per phase: models, stitch_sets_and_tables, references


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


Progress = Callable[[str], None]  # called after each step of a phase with what it did


def zoo_models(jobs: list[Job], ws: Workspace) -> list[tuple]:
    """(scenario, config) of every model the jobs' zoos hold, each once."""
    zoos = {(j.scenario.name, canonical_json(j.scenario.params), j.zoo.model_dump_json(), j.zoo_seed): j for j in jobs}
    models = {}
    for j in zoos.values():
        scenario = ws.scenario(j.scenario)
        for c in zoo_configs(scenario, j.zoo.archs, seeds=[j.zoo_seed], recipe=j.zoo.recipe):
            models.setdefault(canonical_json(c), (scenario, c))
    return list(models.values())


def builds(jobs: list[Job]) -> list[Job]:
    """One job per distinct problem build: a cost variant reuses its problem's stitch sets and tables."""
    found: dict[tuple, Job] = {}
    for j in jobs:
        params = {k: v for k, v in j.problem_params.items() if k != "cost"}
        found.setdefault((j.scenario_key, j.zoo_seed, j.family, canonical_json(params)), j)
    return list(found.values())


_WORKSPACE: Workspace | None = None  # a build worker's own


def init_build_worker() -> None:
    die_with_parent()
    torch.set_num_threads(1)  # as many workers as cores


def build_in_worker(cache_dir: str, job: Job) -> str:
    """In a worker process: build (or find) one problem's stored artifacts; its instance id."""
    global _WORKSPACE
    if _WORKSPACE is None:
        _WORKSPACE = Workspace(Path(cache_dir))
    _WORKSPACE.problem(job)
    return job.instance


def build_problems(jobs: list[Job], ws: Workspace, on_built: Progress) -> None:
    """Build every problem once, so that its stitch sets and tables are stored: in `ws.zoo_workers`
    processes (one thread each, the scenarios with the most parties first), or here with one."""
    todo = sorted(builds(jobs), key=lambda j: -len(ws.scenario(j.scenario).party_names))
    if ws.zoo_workers < 2 or len(todo) < 2:
        for j in todo:
            ws.problem(j)
            on_built(j.instance)
        return
    ctx = get_context("spawn")
    workers = min(ws.zoo_workers, len(todo))
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_build_worker) as pool:
        for future in as_completed([pool.submit(build_in_worker, str(ws.cache_dir), j) for j in todo]):
            on_built(future.result())


def prepare(jobs: list[Job], ws: Workspace, on_model: Progress, on_built: Progress, on_problem: Progress) -> Prepared:
    """Every model, problem and reference table the jobs need; progress through the three callbacks."""
    start = time.perf_counter()
    train_models(ws.cache_dir, zoo_models(jobs, ws), ws.zoo_workers, lambda label, _s: on_model(label))
    timings = {"models": time.perf_counter() - start}
    build_problems(jobs, ws, on_built)
    timings["stitch_sets_and_tables"] = time.perf_counter() - start - timings["models"]
    instances: dict[str, ProblemInstance] = {}
    base, exact, ens, pools = [], [], [], []
    for j in jobs:
        if j.instance in instances:
            continue
        instances[j.instance] = rec = ws.instance(j)
        b, e, w = references(rec, ws.problem(j))
        base, exact, ens = base + b, exact + e, ens + w
        pools += claim_pools(rec, ws.problem(j))
        on_problem(j.instance)
    return Prepared(
        instances,
        pd.DataFrame(base, columns=["instance", "split", "baseline", "objective", "value"]),
        pd.DataFrame(exact, columns=LONG),
        pd.DataFrame(ens, columns=[*LONG, "weights"]),
        pd.concat(pools, ignore_index=True) if pools else pd.DataFrame(columns=["instance", "pool", *POOL_COLUMNS]),
        timings | {"references": time.perf_counter() - start - sum(timings.values())},
    )
