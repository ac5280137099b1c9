"""Preparing a run: build (or reuse) every zoo and problem, and take from each problem instance what the
results need: its record, its baselines, its exact or approximate front, the front of its members' weighted
output ensembles and claim 4's pools (the references).

Two phases, with progress callbacks: train every missing model (all zoos' in one pool of processes); then
build every problem's stored artifacts (stitch sets, tables) and its instances' references in a pool too,
the references stored content-addressed like the tables (a warm run reads them), and return each instance's
record and references to this process, which loads no problem itself."""

import io
import json
import time
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from stitchbench import __version__
from stitchbench._artifacts import ArtifactStore
from stitchbench._devices import resolve, worker_devices
from stitchbench._hashing import canonical_json
from stitchbench._processes import worker_pool
from stitchbench.moo import EVAL_SPLITS, Problem, ProblemInstance
from stitchbench.results._analyses import analyses
from stitchbench.results._leaderboard import front_source
from stitchbench.tabular._catalog import collection_name, read_catalog
from stitchbench.tabular._load import TableProblem, shipped
from stitchbench.zoo._build import train_models, zoo_configs
from stitchbench.zoo._recipe import eval_key

from ._suite import Job
from ._workspace import Workspace, zoo_key

LONG = ["instance", "split", "point", "objective", "value"]
COLUMNS = {
    "baselines": ["instance", "split", "baseline", "objective", "value"],
    "exact_fronts": [*LONG, "source"],  # source: what the front is (`front_source`)
    "ensemble_fronts": [*LONG, "weights"],
}
REFERENCES_FORMAT = 3  # bump when what references hold, or how any of them is computed, changes


@dataclass
class Prepared:
    instances: dict[str, ProblemInstance]
    tables: dict[str, pd.DataFrame]  # COLUMNS' tables (baselines, exact and ensemble fronts) and the analyses'
    timings: dict[str, float]  # seconds per phase: models, problems


def long_rows(instance: str, split: str, names: list[str], F, point_names=None) -> list[tuple]:
    return [
        (instance, split, point_names[i] if point_names else i, n, float(v))
        for i, f in enumerate(F)
        for n, v in zip(names, f, strict=True)
    ]


def columns(names: list[str]) -> dict[str, list[str]]:
    """Every reference table's columns: COLUMNS' and those of the named analyses'."""
    return COLUMNS | {t: c for a in analyses(names) for t, c in a.reference_tables.items()}


def references(rec: ProblemInstance, problem: Problem, names: list[str]) -> dict[str, pd.DataFrame]:
    """One instance's references: the tables of `COLUMNS`, and each named analysis' own. An approximate front
    is the shipped collection's best-known one where the instance is a shipped one (`tabular.shipped`), or
    served from its shipped table."""
    base, exact, ens = [], [], []
    known = None
    if problem.front_kind() == "approximate":
        known = problem if isinstance(problem, TableProblem) else shipped(rec)
    source = front_source(problem.front_kind(), known is not None)
    for split in EVAL_SPLITS:
        for name, vec in problem.baselines(split).items():
            base += long_rows(rec.id, split, rec.objectives, [vec], [name])
        front = (known or problem).exact_front(split)
        if front is not None:
            exact += [(*row, source) for row in long_rows(rec.id, split, rec.objectives, front)]
    weighted = problem.output_ensembles()
    if weighted is not None:
        W, val, test = weighted
        for split, F in (("val", val), ("test", test)):
            ens += [
                (*r, json.dumps([round(float(w), 6) for w in W[r[2]]]))
                for r in long_rows(rec.id, split, rec.parties, F)
            ]
    tables = {
        "baselines": pd.DataFrame(base, columns=COLUMNS["baselines"]),
        "exact_fronts": pd.DataFrame(exact, columns=COLUMNS["exact_fronts"]),
        "ensemble_fronts": pd.DataFrame(ens, columns=COLUMNS["ensemble_fronts"]),
    }
    for analysis in analyses(names):
        tables |= analysis.references(rec, problem)
    return tables


def stored_references(ws: Workspace, job: Job) -> tuple[ProblemInstance, dict[str, pd.DataFrame]]:
    """A job's instance record and its references, computed once and stored content-addressed by the record
    (every parameter and the sha256 of every artifact the problem uses; the device kind and evaluation batch
    size it ran with; the shipped instance's manifest sha256 where one has its name) as parquet bytes in a
    safetensors artifact (sha256-verified on every read, nothing unpickled). A shipped table's are read from
    it (no model, no cache)."""
    if job.table is not None:
        problem = ws.problem(job)
        return problem.instance, references(problem.instance, problem, job.analyses)
    rec = ws.instance(job)
    batch = ws.zoo(job.scenario, job.zoo, job.zoo_seed).eval_batch_size
    config = {"format": REFERENCES_FORMAT, "stitchbench": __version__, "instance": rec.model_dump(mode="json")}
    config |= {"analyses": job.analyses} if job.analyses else {}  # the keys of runs without any stay as they were
    config |= eval_key(batch)
    shipped_entry = read_catalog().get(collection_name(rec.id))  # its best-known front may be the reference
    config |= {"shipped": shipped_entry["manifest_sha256"]} if shipped_entry else {}

    def build():
        tables = references(rec, ws.problem(job), job.analyses)
        return {name: parquet_tensor(df) for name, df in tables.items()}, {"instance": rec.id}

    artifact = ArtifactStore(ws.cache_dir, "references", ws.device.type).get_or_build(config, build)
    return rec, {name: pd.read_parquet(io.BytesIO(t.numpy().tobytes())) for name, t in artifact.tensors().items()}


def parquet_tensor(df: pd.DataFrame) -> torch.Tensor:
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    return torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)


Progress = Callable[[str], None]  # called after each step of a phase with what it did


def zoo_models(jobs: list[Job], ws: Workspace) -> list[tuple]:
    """(scenario, config) of every model the jobs' zoos hold, each once (a table's job has none)."""
    zoos = {zoo_key(j.scenario, j.zoo, j.zoo_seed): j for j in jobs if j.table is None}
    models = {}
    for j in zoos.values():
        scenario = ws.scenario(j.scenario)
        for c in zoo_configs(scenario, j.zoo.archs, seeds=[j.zoo_seed], recipe=j.zoo.recipe):
            models.setdefault(canonical_json(c), (scenario, c))
    return list(models.values())


def check_models(jobs: list[Job], ws: Workspace) -> None:
    """Refuse (an IntegrityError: exit 2) a cached model of the jobs' zoos whose manifest or weights are
    damaged: a run checks them before it writes anything."""
    store = ArtifactStore(ws.cache_dir, "models")
    for _, config in zoo_models(jobs, ws):
        if (found := store.get(store.key(config))) is not None:
            found.tensors()  # verifies the sha256


def build_groups(jobs: list[Job]) -> list[list[Job]]:
    """Per distinct problem build (a cost variant reuses its problem's stitch sets and tables; a shipped table
    is its own), one job per instance it serves."""
    found: dict[tuple, dict[str, Job]] = {}
    for j in jobs:
        params = {k: v for k, v in j.problem_params.items() if k != "cost"}
        key = (j.table,) if j.table is not None else (j.scenario_key, j.zoo_seed, j.family, canonical_json(params))
        found.setdefault(key, {}).setdefault(j.instance, j)
    return [list(group.values()) for group in found.values()]


def builds(jobs: list[Job]) -> list[Job]:
    """One job per distinct problem build."""
    return [group[0] for group in build_groups(jobs)]


_WORKSPACE: Workspace | None = None  # a build worker's own


def init_build_worker(device: str, cache_dir: str) -> None:
    """In a build worker process (after `worker_init`): its workspace, on its own device."""
    global _WORKSPACE
    torch.set_num_threads(1)  # as many workers as cores
    _WORKSPACE = Workspace(Path(cache_dir), device=resolve(device))


Built = tuple[list[tuple[ProblemInstance, dict[str, pd.DataFrame]]], list[Path]]


def build_in_worker(group: list[Job]) -> Built:
    """In a build worker process: `build_group`."""
    assert _WORKSPACE is not None
    return build_group(_WORKSPACE, group)


def build_group(ws: Workspace, group: list[Job]) -> Built:
    """Build (or find) one problem's stored artifacts: each of its instances' record and references, and the
    folders of every artifact it uses (what a Ray run ships to its workers)."""
    return [stored_references(ws, job) for job in group], ws.artifact_dirs()


def build_problems(
    jobs: list[Job], ws: Workspace, on_built: Progress, on_problem: Progress
) -> dict[str, tuple[ProblemInstance, dict[str, pd.DataFrame]]]:
    """Build every problem once, so that its stitch sets, tables and references are stored, and return each
    instance's record and references: in `ws.zoo_workers` processes (one thread each, the scenarios with the
    most parties first, tables last; on CUDA they take the GPUs in turn), or here."""

    def parties(job: Job) -> int:
        return len(ws.scenario(job.scenario).party_names) if job.scenario is not None else 0

    todo = sorted(build_groups(jobs), key=lambda g: -parties(g[0]))
    found = {}

    def take(built: Built, group: list[Job]) -> None:
        refs, dirs = built
        ws.artifact_paths |= dict.fromkeys(dirs)
        for rec, frames in refs:
            found[rec.id] = (rec, frames)
            on_problem(rec.id)
        on_built(group[0].instance)

    if ws.zoo_workers < 2 or len(todo) < 2:
        for group in todo:
            take(build_group(ws, group), group)
        return found
    devices = [str(d) for d in worker_devices(ws.device, min(ws.zoo_workers, len(todo)))]
    with worker_pool(devices, f"{__name__}:init_build_worker", str(ws.cache_dir)) as pool:
        futures = {pool.submit(build_in_worker, g): g for g in todo}
        for future in as_completed(futures):
            take(future.result(), futures[future])
    return found


def prepare(jobs: list[Job], ws: Workspace, on_model: Progress, on_built: Progress, on_problem: Progress) -> Prepared:
    """Every model, problem and reference table the jobs need; progress through the three callbacks (a
    model trained, a problem built, an instance's references ready)."""
    start = time.perf_counter()
    train_models(ws.cache_dir, zoo_models(jobs, ws), ws.zoo_workers, lambda label, _s: on_model(label), ws.device)
    timings = {"models": time.perf_counter() - start}
    found = build_problems(jobs, ws, on_built, on_problem)
    timings["problems"] = time.perf_counter() - start - timings["models"]
    order = list(dict.fromkeys(j.instance for j in jobs))
    frames = {
        name: pd.concat(kept, ignore_index=True)
        if (kept := [found[i][1][name] for i in order if len(found[i][1][name])])
        else pd.DataFrame(columns=cols)
        for name, cols in columns(jobs[0].analyses if jobs else []).items()
    }
    return Prepared({i: found[i][0] for i in order}, frames, timings=timings)
