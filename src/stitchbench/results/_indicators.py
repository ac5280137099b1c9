"""Quality indicators with moocore, on normalized objectives (scores as they are, cost divided by the
instance's costliest candidate): hypervolume against the instance's fixed reference point, IGD+ and additive
epsilon against its exact (or, labeled so, approximate) front, the baselines a front strictly dominates,
the gap to `merged`, anytime hypervolume, and empirical attainment surfaces."""

import json

import moocore
import numpy as np
import pandas as pd

from stitchbench._processes import mapped
from stitchbench.moo._instance import ProblemInstance


def objective_columns(rec: ProblemInstance) -> list[str]:
    return [f"f.{o}" for o in rec.objectives]


def finite_rows(F: np.ndarray) -> np.ndarray:
    return F[np.isfinite(F).all(1)] if len(F) else F


def hypervolume(F: np.ndarray, rec: ProblemInstance) -> float:
    """Hypervolume of F (raw objectives) in the instance's normalized space, in [0, 1]."""
    F = finite_rows(np.asarray(F, dtype=float))
    if not len(F):
        return 0.0
    return float(moocore.hypervolume(rec.normalize(F), ref=np.array(rec.reference_point), maximise=rec.maximize))


def igd_plus(F: np.ndarray, front: np.ndarray, rec: ProblemInstance) -> float:
    """IGD+ of F (raw objectives) to a reference front (the instance's exact or best-known one), both in the
    instance's normalized space (0 where F covers the front)."""
    F, front = finite_rows(np.asarray(F, dtype=float)), np.asarray(front, dtype=float)
    return float(moocore.igd_plus(rec.normalize(F), rec.normalize(front), maximise=rec.maximize))


def strictly_dominates(front: np.ndarray, point: np.ndarray, maximize: list[bool]) -> bool:
    """Some front point is at least as good as `point` on every objective and better on one."""
    if not len(front):
        return False
    sign = np.where(maximize, 1.0, -1.0)
    a, b = front * sign, point * sign
    return bool(((a >= b).all(1) & (a > b).any(1)).any())


def reference_vectors(baselines: pd.DataFrame, rec: ProblemInstance, split: str) -> dict[str, np.ndarray]:
    """Each baseline's objective vector on `split`, from baselines.parquet."""
    sel = baselines[(baselines.instance == rec.id) & (baselines.split == split)]
    out = {}
    for name, g in sel.groupby("baseline", sort=False):
        values = dict(zip(g.objective, g.value, strict=True))
        out[name] = np.array([values[o] for o in rec.objectives])
    return out


def long_front(table: pd.DataFrame, rec: ProblemInstance, split: str, names: list[str]) -> np.ndarray | None:
    """A front stored in long form (instance, split, point, objective, value) as a matrix over `names`."""
    sel = table[(table.instance == rec.id) & (table.split == split)] if len(table) else table
    if not len(sel):
        return None
    return sel.pivot(index="point", columns="objective", values="value")[names].to_numpy(dtype=float)


JOB_KEYS = ["job", "instance", "scenario", "zoo_seed", "problem", "solver", "seed", "split"]


def job_indicators(
    fronts: pd.DataFrame, baselines: pd.DataFrame, exact: pd.DataFrame, instances: dict[str, ProblemInstance]
) -> pd.DataFrame:
    """One row per job and split (finished jobs only: the caller passes their fronts)."""
    rows = []
    truths, bases = {}, {}  # per (instance, split): the exact front and the baselines, read once
    for key, g in fronts.groupby(JOB_KEYS, sort=False) if len(fronts) else []:
        row = dict(zip(JOB_KEYS, key, strict=True))
        rec = instances[row["instance"]]
        at = (rec.id, row["split"])
        if at not in truths:
            truths[at] = long_front(exact, rec, row["split"], rec.objectives)
            bases[at] = reference_vectors(baselines, rec, row["split"])
        F = finite_rows(g[objective_columns(rec)].to_numpy(dtype=float))
        row["points"] = len(F)
        row["hypervolume"] = hypervolume(F, rec)
        row["hv_reference"] = json.dumps(rec.reference_point)
        row["hv_bounds"] = json.dumps(rec.bounds)
        row["front"] = rec.front
        truth = truths[at]
        if truth is not None and len(F):
            row["igd_plus"] = igd_plus(F, truth, rec)
            Fn, Tn = rec.normalize(F), rec.normalize(truth)
            row["eps_additive"] = float(moocore.epsilon_additive(Fn, Tn, maximise=rec.maximize))
        base = bases[at]
        row["dominates"] = ",".join(n for n, b in base.items() if strictly_dominates(F, b, rec.maximize))
        if "merged" in base and len(F):
            for j in rec.party_columns():
                row[f"gap_merged.{rec.objectives[j]}"] = float(F[:, j].max() - base["merged"][j])
        rows.append(row)
    return pd.DataFrame(rows)


def failed_jobs(jobs: dict[str, dict]) -> pd.DataFrame:
    """Jobs that did not finish: their status, evaluation count, error and log file."""
    rows = [
        {
            "job": j,
            "instance": s.get("instance"),
            "status": s["status"],
            "evaluations": s.get("evaluations", 0),
            "error": s.get("error"),
            "log": s.get("log"),
        }
        for j, s in jobs.items()
        if s["status"] != "done"
    ]
    return pd.DataFrame(rows, columns=["job", "instance", "status", "evaluations", "error", "log"])


def checkpoints(n: int, count: int = 25) -> list[int]:
    return sorted({round(x) for x in np.geomspace(1, n, count)} | {n}) if n else []


def anytime(evaluations: pd.DataFrame, instances: dict[str, ProblemInstance]) -> pd.DataFrame:
    """Hypervolume of everything evaluated so far (val), at log-spaced checkpoints, per job (in a pool of
    processes from TRACE_POOL_MIN jobs on)."""
    jobs, tasks = [], []  # each job's keys and (objective values in evaluation order, instance): no frames kept
    for job, g in evaluations.groupby("job", sort=False) if len(evaluations) else []:
        first = g.iloc[0]
        rec = instances[first.instance]
        jobs.append({"job": job, "instance": first.instance, "solver": first.solver, "seed": first.seed})
        tasks.append((g.sort_values("eval")[objective_columns(rec)].to_numpy(dtype=float), rec))
    hv = mapped(checkpoint_hypervolumes, tasks, TRACE_POOL_MIN, chunksize=max(1, len(tasks) // 32))
    rows = [
        keys | {"eval": k, "hypervolume": h}
        for keys, (F, _), values in zip(jobs, tasks, hv, strict=True)
        for k, h in zip(checkpoints(len(F)), values, strict=True)
    ]
    return pd.DataFrame(rows, columns=["job", "instance", "solver", "seed", "eval", "hypervolume"])


def checkpoint_hypervolumes(F: np.ndarray, rec: ProblemInstance) -> list[float]:
    """The hypervolume of F's first k rows at each of its `checkpoints` k."""
    return [hypervolume(F[:k], rec) for k in checkpoints(len(F))]


TRACE_BLOCK = 256  # rows checked against the archive at once (`trace`)


def trace(F: np.ndarray, rec: ProblemInstance) -> np.ndarray:
    """The hypervolume of everything evaluated so far, after each row of F (in evaluation order; rows not
    finite count as not evaluated): computed where the non-dominated archive changes, carried forward."""
    N = rec.normalize(F)
    G = N * np.where(rec.maximize, 1.0, -1.0)  # every objective maximized
    indicator = moocore.Hypervolume(ref=rec.reference_point, maximise=rec.maximize)
    archive, changed, values = np.empty(0, dtype=int), [], []
    finite = np.flatnonzero(np.isfinite(F).all(1))
    for start in range(0, len(finite), TRACE_BLOCK):
        rows = finite[start : start + TRACE_BLOCK]
        # a row the archive already dominates stays dominated (whatever replaces a member dominates it too)
        rows = rows[~(G[archive][:, None] >= G[rows][None]).all(2).any(0)]
        for i in rows:
            if (G[archive] >= G[i]).all(1).any():
                continue
            archive = np.append(archive[~(G[i] >= G[archive]).all(1)], i)  # i and what it leaves
            changed.append(i)
            values.append(indicator(N[archive]))
    last = np.searchsorted(changed, np.arange(len(F)), side="right") - 1
    return np.where(last >= 0, np.array([0.0, *values])[last + 1], 0.0)


TRACE_POOL_MIN = 200  # runs from which their traces are computed in a pool of processes


def traces(tasks: list[tuple[np.ndarray, ProblemInstance]]) -> list[np.ndarray]:
    """`trace` of every (F, instance): in a pool of processes from TRACE_POOL_MIN runs on (`mapped`)."""
    return mapped(trace, tasks, TRACE_POOL_MIN, chunksize=max(1, len(tasks) // 32))  # a trace takes ~10 ms


def attainment(fronts: list[np.ndarray], maximize: list[bool], percentiles=(25, 50, 75)) -> dict[int, np.ndarray]:
    """Empirical attainment surfaces across runs (two objectives): {percentile: points}."""
    data = np.vstack([f for f in fronts if len(f)])
    sets = np.concatenate([np.full(len(f), i + 1) for i, f in enumerate(fronts) if len(f)])
    sign = np.where(maximize, -1.0, 1.0)  # moocore's EAF minimizes
    surf = moocore.eaf(data * sign, sets=sets, percentiles=list(percentiles))
    return {p: surf[surf[:, -1] == p][:, :-1] * sign for p in percentiles}
