"""Executing jobs: a per-process workspace of zoos and problems (built once, reused by later jobs; only the
most recently used problems stay in memory, as jobs come in instance order)."""

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from traceback import format_exc

import numpy as np
import pandas as pd

from stitchbench.data import get_scenario
from stitchbench.moo.pools import ALPHA_MIN, val_front
from stitchbench.problems import PROBLEMS, Problem, ProblemInstance, create_problem, make_instance, nondominated
from stitchbench.solvers import create_solver, run_solver
from stitchbench.zoo import Zoo, build_zoo

from .suite import Job, ScenarioSpec, ZooSpec


@dataclass
class Workspace:
    cache_dir: Path
    zoo_workers: int = 1  # processes that train a zoo's missing models
    max_problems: int = 3  # problems kept in memory (each holds activation caches): least recently used go
    zoos: dict = field(default_factory=dict)
    problems: OrderedDict = field(default_factory=OrderedDict)
    artifact_paths: dict = field(default_factory=dict)  # folder of every artifact any problem here used

    def artifact_dirs(self) -> list[Path]:
        """Folders of every model and stitch set this workspace uses (what remote workers need)."""
        dirs = [r.artifact.path for z in self.zoos.values() for r in z.records]
        return list(dict.fromkeys(dirs + list(self.artifact_paths)))

    def zoo(self, scenario: ScenarioSpec, spec: ZooSpec, seed: int, on_model=None) -> Zoo:
        key = (scenario.model_dump_json(), spec.model_dump_json(), seed)
        if key not in self.zoos:
            sc = get_scenario(scenario.name, **scenario.params)
            self.zoos[key] = build_zoo(
                sc,
                spec.archs,
                seeds=[seed],
                cache_dir=self.cache_dir,
                recipe=spec.recipe,
                on_model=on_model,
                workers=self.zoo_workers,
            )
        return self.zoos[key]

    def problem(self, job: Job) -> Problem:
        if job.instance not in self.problems:
            zoo = self.zoo(job.scenario, job.zoo, job.zoo_seed)
            problem = create_problem(job.family, zoo, **self.problem_params(job))
            self.artifact_paths |= dict.fromkeys(a.path for a in problem.artifacts().values())
            self.problems[job.instance] = problem
            if len(self.problems) > self.max_problems:
                self.problems.popitem(last=False)
        self.problems.move_to_end(job.instance)
        return self.problems[job.instance]

    def problem_params(self, job: Job) -> dict:
        params = {"seed": job.zoo_seed, **job.problem_params}
        if "cache_dir" in PROBLEMS.entry(job.family).parameters():
            params.setdefault("cache_dir", self.cache_dir)
        return params

    def instance(self, job: Job) -> ProblemInstance:
        """The problem instance record of a job's problem."""
        defaults = {k: v for k, v in PROBLEMS.entry(job.family).parameters().items() if k != "zoo"}
        return make_instance(
            self.problem(job),
            job.problem_id,
            job.family,
            defaults | self.problem_params(job),
            job.scenario_key,
            job.scenario.params,
            job.zoo_seed,
        )


@dataclass
class JobResult:
    job_id: str
    status: str
    error: str | None
    seconds: float
    traceback: str  # of a failed job ("" if none)
    evaluations: pd.DataFrame
    front: pd.DataFrame
    stitched: pd.DataFrame  # live stitching problems: the job's val-chosen stitched candidates (claim 4's S)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The job's files: evaluations and front, and its stitched candidates where it has any."""
        stitched = {"stitched": self.stitched} if len(self.stitched) else {}
        return {"evaluations": self.evaluations, "front": self.front} | stitched


def job_columns(job: Job) -> dict:
    return {
        "job": job.id,
        "instance": job.instance,
        "scenario": job.scenario_key,
        "zoo_seed": job.zoo_seed,
        "problem": job.problem_id,
        "solver": job.solver.name,
        "seed": job.seed,
    }


def frame(problem: Problem, X: np.ndarray, F: np.ndarray, base: dict) -> pd.DataFrame:
    data = {**{k: [v] * len(X) for k, v in base.items()}}
    for j, v in enumerate(problem.variables):
        data[f"x.{v.name}"] = X[:, j] if len(X) else []
    alpha = problem.stitch_alpha(X) if len(X) else None
    if alpha is not None:
        data["alpha_evaluated"] = alpha  # where the family stitches: the alpha the decision is evaluated at
    for j, o in enumerate(problem.objectives):
        data[f"f.{o.name}"] = F[:, j] if len(F) else []
    return pd.DataFrame(data)


def execute(job: Job, workspace: Workspace) -> JobResult:
    """Run one job: solve on val under the budget, then re-score the final front on test. Any error fails
    this job only, with its traceback."""
    start = time.perf_counter()
    try:
        return solve(job, workspace, start)
    except Exception as e:
        empty = pd.DataFrame()
        error = f"{type(e).__name__}: {e}"
        return JobResult(job.id, "failed", error, time.perf_counter() - start, format_exc(), empty, empty, empty)


def solve(job: Job, workspace: Workspace, start: float) -> JobResult:
    problem = workspace.problem(job)
    solver = create_solver(job.solver.name, **job.solver.params)
    run = run_solver(solver, problem, job.budget, job.seed, "val", job.time_limit)
    base = job_columns(job)
    X = np.array([e.x for e in run.log]).reshape(len(run.log), len(problem.variables))
    F = np.array([e.f for e in run.log]).reshape(len(run.log), len(problem.objectives))
    evals = frame(problem, X, F, {**base, "split": "val"})
    evals.insert(len(base), "eval", [e.index for e in run.log])
    evals["seconds"] = [e.seconds for e in run.log]
    evals["finite"] = np.isfinite(F).all(1) if len(F) else []  # NaN/inf objectives: kept, flagged, not in fronts
    fronts = []
    if len(F):
        finite = np.isfinite(F).all(1)
        front_val = nondominated(F[finite], problem.maximize)
        keep = [i for i in np.flatnonzero(finite) if any(np.array_equal(F[i], f) for f in front_val)]
        Xf = np.unique(X[keep], axis=0)
        for split in ("val", "test"):
            fronts.append(frame(problem, Xf, problem.evaluate(Xf, split), {**base, "split": split}))
            fronts[-1].insert(len(base), "point", range(len(Xf)))
    front = pd.concat(fronts, ignore_index=True) if fronts else pd.DataFrame()
    stitched = stitched_candidates(problem, X, F, base)
    return JobResult(job.id, run.status, run.error, time.perf_counter() - start, run.traceback, evals, front, stitched)


def stitched_candidates(problem: Problem, X: np.ndarray, F: np.ndarray, base: dict) -> pd.DataFrame:
    """Where the problem stitches and cannot enumerate its stitched candidates (live): the val-non-dominated
    stitched candidates this job evaluated (all ties), scored on test per sample, as claim 4's pools are
    (`moo.pools`). The union over jobs holds the val front of every stitched candidate any solver evaluated."""
    alpha = problem.stitch_alpha(X) if len(X) else None
    if alpha is None or problem.stitches_enumerated():
        return pd.DataFrame()
    cols = [problem.objectives.index(o) for o in problem.objectives if o.party]
    rows = np.flatnonzero((alpha >= ALPHA_MIN) & np.isfinite(F).all(1))
    Xs = np.unique(X[rows[val_front(F[rows][:, cols])]], axis=0)
    source = {"job": base["job"], "solver": base["solver"], "seed": base["seed"]}
    pool = problem.candidate_pool(Xs)
    for d in pool.decisions:
        d["source"] = source
    return pool.to_frame(instance=base["instance"], pool="stitched")
