"""Running one job in a workspace: solve on val under the budget, re-score the final front on test, and keep
what the suite's analyses need of it; any error fails this job only."""

import time
from dataclasses import dataclass
from traceback import format_exc

import numpy as np
import pandas as pd

from stitchbench.moo._api import Problem
from stitchbench.moo._front import on_front
from stitchbench.moo._pools import Stitching
from stitchbench.results._analyses import analyses
from stitchbench.solvers import create_solver, run_solver

from ._suite import Job
from ._workspace import Workspace


@dataclass
class JobResult:
    job_id: str
    status: str
    error: str | None
    seconds: float
    traceback: str  # of a failed job ("" if none)
    evaluations: pd.DataFrame
    front: pd.DataFrame
    extra: dict[str, pd.DataFrame]  # the suite's analyses' tables of this job (`Analysis.job_tables`)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The job's files: evaluations and front, and its analyses' tables."""
        return {"evaluations": self.evaluations, "front": self.front} | self.extra


def job_columns(job: Job) -> dict:
    return {
        "job": job.id,
        "instance": job.instance,
        "scenario": job.scenario_key,
        "zoo_seed": job.zoo_seed,
        "problem": job.problem_id,
        "solver": job.solver.label,
        "seed": job.seed,
    }


def frame(problem: Problem, X: np.ndarray, F: np.ndarray, base: dict) -> pd.DataFrame:
    data = {**{k: [v] * len(X) for k, v in base.items()}}
    for j, v in enumerate(problem.variables):
        data[f"x.{v.name}"] = X[:, j] if len(X) else []
    alpha = problem.stitch_alpha(X) if isinstance(problem, Stitching) and len(X) else None
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
        return JobResult(job.id, "failed", error, time.perf_counter() - start, format_exc(), empty, empty, {})


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
    evals["fidelity"] = [e.fidelity for e in run.log]
    evals["cost"] = [e.cost for e in run.log]  # in full-fidelity evaluations
    evals["finite"] = np.isfinite(F).all(1) if len(F) else []  # NaN/inf objectives: kept, flagged, not in fronts
    fronts = []
    if len(F):
        finite = np.flatnonzero(np.isfinite(F).all(1) & (evals["fidelity"].to_numpy() == 1))  # fidelity 1's scores
        Xf = np.unique(X[finite[on_front(F[finite], problem.maximize)]], axis=0)
        for split in ("val", "test"):
            fronts.append(frame(problem, Xf, problem.evaluate(Xf, split), {**base, "split": split}))
            fronts[-1].insert(len(base), "point", range(len(Xf)))
    front = pd.concat(fronts, ignore_index=True) if fronts else pd.DataFrame()
    extra = {name: df for a in analyses(job.analyses) for name, df in a.job_tables(problem, X, F, base).items()}
    return JobResult(job.id, run.status, run.error, time.perf_counter() - start, run.traceback, evals, front, extra)
