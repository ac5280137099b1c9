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


def group_rows(frame: pd.DataFrame, by: list[str]) -> list[np.ndarray]:
    """The row positions of each group of `frame` by the columns `by`: pandas' groups (in order of first
    appearance; rows with a missing key in none), without a frame per group (a run's tables have millions of
    rows in thousands of groups)."""
    labels = frame.groupby(by, sort=False).ngroup().to_numpy(dtype=float)
    kept = np.flatnonzero(~np.isnan(labels))
    order = kept[np.argsort(labels[kept], kind="stable")]
    return np.split(order, np.cumsum(np.bincount(labels[kept].astype(np.int64)))[:-1]) if len(kept) else []


def by_instance(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """`frame`'s rows per instance (`group_rows`: one pass, not a mask per instance)."""
    return {frame["instance"].iat[g[0]]: frame.iloc[g] for g in group_rows(frame, ["instance"])} if len(frame) else {}


def stacked(frame: pd.DataFrame, columns: list[str], rows: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """`frame`'s `columns` at `rows`, as a float matrix; `arrays` keeps each column's array for the next call (a
    view of the frame's where it is float already)."""
    for c in columns:
        if c not in arrays:
            arrays[c] = frame[c].to_numpy(dtype=float)
    return np.column_stack([arrays[c][rows] for c in columns])


JOB_KEYS = ["job", "instance", "scenario", "zoo_seed", "problem", "solver", "seed", "split"]


def job_indicators(
    fronts: pd.DataFrame, baselines: pd.DataFrame, exact: pd.DataFrame, instances: dict[str, ProblemInstance]
) -> pd.DataFrame:
    """One row per job and split (finished jobs only: the caller passes their fronts)."""
    rows = []
    truths, bases = {}, {}  # per (instance, split): the exact front and the baselines, read once
    groups = group_rows(fronts, JOB_KEYS) if len(fronts) else []
    keys = fronts[JOB_KEYS].iloc[[g[0] for g in groups]].to_dict("records") if groups else []
    values: dict[str, np.ndarray] = {}
    for row, g in zip(keys, groups, strict=True):
        rec = instances[row["instance"]]
        at = (rec.id, row["split"])
        if at not in truths:
            truths[at] = long_front(exact, rec, row["split"], rec.objectives)
            bases[at] = reference_vectors(baselines, rec, row["split"])
        F = finite_rows(stacked(fronts, objective_columns(rec), g, values))
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


RUN_KEYS = ["job", "instance", "solver", "seed"]


def evaluated(
    evaluations: pd.DataFrame, instances: dict[str, ProblemInstance]
) -> list[tuple[dict, np.ndarray, np.ndarray, ProblemInstance]]:
    """Per job (in order of first appearance): its RUN_KEYS, its evaluations' objective values in evaluation
    order, NaN where not at fidelity 1 (a lower fidelity scores a subset of the samples: not the candidate's
    score), the evaluations spent after each (cumulative, full-fidelity equivalents) and its instance."""
    if not len(evaluations):
        return []
    rows = group_rows(evaluations, ["job"])
    order = evaluations["eval"].to_numpy()
    cost = evaluations["cost"].to_numpy(dtype=float) if "cost" in evaluations else np.ones(len(evaluations))
    full = evaluations["fidelity"].to_numpy() == 1 if "fidelity" in evaluations else np.ones(len(evaluations), bool)
    keys = evaluations[RUN_KEYS].iloc[[r[0] for r in rows]].to_dict("records")
    values: dict[str, np.ndarray] = {}
    out = []
    for key, r in zip(keys, rows, strict=True):
        r = r[np.argsort(order[r], kind="stable")]
        rec = instances[key["instance"]]
        F = stacked(evaluations, objective_columns(rec), r, values)
        F[~full[r]] = np.nan
        out.append((key, F, np.cumsum(cost[r]), rec))
    return out


def checkpoints(n: int, count: int = 25) -> list[int]:
    return sorted({round(x) for x in np.geomspace(1, n, count)} | {n}) if n else []


def anytime(evaluations: pd.DataFrame, instances: dict[str, ProblemInstance]) -> pd.DataFrame:
    """Hypervolume of everything evaluated at fidelity 1 so far (val), per job, at log-spaced checkpoints of the
    evaluations spent (full-fidelity equivalents: the ECDF's axis); in a pool of processes from TRACE_POOL_MIN
    jobs on."""
    jobs = evaluated(evaluations, instances)
    tasks = [(F, spent, rec) for _, F, spent, rec in jobs]
    hv = mapped(checkpoint_hypervolumes, tasks, TRACE_POOL_MIN, chunksize=max(1, len(tasks) // 32))
    rows = [
        keys | {"eval": k, "hypervolume": h}
        for (keys, _, spent, _), values in zip(jobs, hv, strict=True)
        for k, h in zip(spent_checkpoints(spent), values, strict=True)
    ]
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "eval", "hypervolume"])


SPENT_TOLERANCE = 1e-9  # in evaluations: sums of fractional costs round


def spent_checkpoints(spent: np.ndarray) -> list[int]:
    """The `checkpoints` of a run that spent `spent` (cumulative) evaluations."""
    return checkpoints(round(spent[-1])) if len(spent) else []


def checkpoint_hypervolumes(F: np.ndarray, spent: np.ndarray, rec: ProblemInstance) -> list[float]:
    """The hypervolume of the rows of F evaluated within each of `spent_checkpoints` evaluations."""
    ends = np.searchsorted(spent, np.array(spent_checkpoints(spent)) + SPENT_TOLERANCE, side="right")
    return [hypervolume(F[:k], rec) for k in ends]


TRACE_BLOCK = 256  # rows checked against the archive at once (`Trace`)
REACHED = 1e-12  # a target this close below a hypervolume is reached (a front's, from other points, rounds)


class Trace:
    """The hypervolume of everything a run evaluated so far, after each row of F (in evaluation order; rows
    not finite count as not evaluated): it changes only after the rows where the non-dominated archive does
    (`changed`), and is computed there on demand, once (`at`): a search for targets needs a few of them."""

    def __init__(self, F: np.ndarray, rec: ProblemInstance):
        self.N = rec.normalize(F)
        G = self.N * np.where(rec.maximize, 1.0, -1.0)  # every objective maximized
        self.indicator = moocore.Hypervolume(ref=rec.reference_point, maximise=rec.maximize)
        archive, changed, self.archives = np.empty(0, dtype=int), [], []
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
                self.archives.append(archive)
        self.changed = np.array(changed, dtype=int)
        self.values: dict[int, float] = {}

    def at(self, k: int) -> float:
        """The hypervolume after the k-th change (0 before the first: k = -1)."""
        if k < 0:
            return 0.0
        if k not in self.values:
            self.values[k] = self.indicator(self.N[self.archives[k]])
        return self.values[k]

    def final(self) -> float:
        return self.at(len(self.changed) - 1)

    def reaching(self, goals: np.ndarray) -> np.ndarray:
        """Per goal, the first row after which the hypervolume reaches it (within REACHED), or -1: each found
        by galloping, then bisecting, over the changes from the last lower goal's."""
        first, k = np.full(len(goals), -1), 0
        for j in np.argsort(goals, kind="stable") if len(self.N) else ():
            goal = goals[j] - REACHED
            if np.isnan(goal):  # sorted last: no hypervolume reaches it
                break
            if goal <= 0:  # the hypervolume before any change: reached at the first row
                first[j] = 0
                continue
            if self.final() < goal:
                break
            lo, hi, step = k, k, 1  # the hypervolume below the goal at every change before lo
            while self.at(hi) < goal:
                lo, hi, step = hi + 1, min(len(self.changed) - 1, hi + step), 2 * step
            while lo < hi:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if self.at(mid) >= goal else (mid + 1, hi)
            first[j], k = self.changed[lo], lo
        return first


def final_hypervolume(F: np.ndarray, rec: ProblemInstance) -> float:
    """The hypervolume of everything evaluated (a `Trace`'s last)."""
    return Trace(F, rec).final()


def first_reaching(F: np.ndarray, rec: ProblemInstance, goals: np.ndarray) -> np.ndarray:
    """`Trace.reaching` of a run."""
    return Trace(F, rec).reaching(goals)


TRACE_POOL_MIN = 200  # runs from which their traces are computed in a pool of processes


def traced(fn, tasks: list[tuple]) -> list:
    """fn (`final_hypervolume`, `first_reaching`) of every task (F, instance, ...): in a pool of processes from
    TRACE_POOL_MIN runs on (`mapped`)."""
    return mapped(fn, tasks, TRACE_POOL_MIN, chunksize=max(1, len(tasks) // 32))  # a trace takes ~10 ms


def attainment(fronts: list[np.ndarray], maximize: list[bool], percentiles=(25, 50, 75)) -> dict[int, np.ndarray]:
    """Empirical attainment surfaces across runs (two objectives): {percentile: points}."""
    data = np.vstack([f for f in fronts if len(f)])
    sets = np.concatenate([np.full(len(f), i + 1) for i, f in enumerate(fronts) if len(f)])
    sign = np.where(maximize, -1.0, 1.0)  # moocore's EAF minimizes
    surf = moocore.eaf(data * sign, sets=sets, percentiles=list(percentiles))
    return {p: surf[surf[:, -1] == p][:, :-1] * sign for p in percentiles}
