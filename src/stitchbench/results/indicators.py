"""Quality indicators with moocore: hypervolume (fixed reference point), IGD+ and additive epsilon against
exact fronts, dominated baselines, gap to `merged`, anytime hypervolume, and empirical attainment."""

import json

import moocore
import numpy as np
import pandas as pd


def objective_columns(meta: dict) -> list[str]:
    return [f"f.{o}" for o in meta["objectives"]]


def finite_rows(F: np.ndarray) -> np.ndarray:
    return F[np.isfinite(F).all(1)] if len(F) else F


def hypervolume(F: np.ndarray, meta: dict) -> float:
    F = finite_rows(F)
    if not len(F):
        return 0.0
    return float(moocore.hypervolume(F, ref=np.array(meta["reference_point"]), maximise=meta["maximize"]))


def dominates(front: np.ndarray, point: np.ndarray, maximize: list[bool]) -> bool:
    """Some front point weakly dominates `point` (at least as good everywhere)."""
    sign = np.where(maximize, 1.0, -1.0)
    return bool(((front * sign) >= (point * sign) - 1e-12).all(1).any()) if len(front) else False


def baseline_vectors(baselines: pd.DataFrame, problem: str, split: str, meta: dict) -> dict[str, np.ndarray]:
    sel = baselines[(baselines.problem == problem) & (baselines.split == split)]
    out = {}
    for name, g in sel.groupby("baseline", sort=False):
        values = dict(zip(g.objective, g.value, strict=True))
        out[name] = np.array([values[o] for o in meta["objectives"]])
    return out


def exact_front(exact: pd.DataFrame, problem: str, split: str, meta: dict) -> np.ndarray | None:
    if exact is None or not len(exact):
        return None
    sel = exact[(exact.problem == problem) & (exact.split == split)]
    if not len(sel):
        return None
    wide = sel.pivot(index="point", columns="objective", values="value")
    return wide[meta["objectives"]].to_numpy()


def job_indicators(fronts: pd.DataFrame, baselines: pd.DataFrame, exact: pd.DataFrame, problems: dict) -> pd.DataFrame:
    rows = []
    keys = ["job", "scenario", "zoo_seed", "problem", "solver", "seed", "split"]
    for key, g in fronts.groupby(keys, sort=False):
        row = dict(zip(keys, key, strict=True))
        meta = problems[row["problem"]]
        F = finite_rows(g[objective_columns(meta)].to_numpy(dtype=float))
        row["points"] = len(F)
        row["hypervolume"] = hypervolume(F, meta)
        row["hv_reference"] = json.dumps(meta["reference_point"])
        truth = exact_front(exact, row["problem"], row["split"], meta)
        if truth is not None and len(F):
            row["igd_plus"] = float(moocore.igd_plus(F, truth, maximise=meta["maximize"]))
            row["eps_additive"] = float(moocore.epsilon_additive(F, truth, maximise=meta["maximize"]))
        base = baseline_vectors(baselines, row["problem"], row["split"], meta)
        row["dominates"] = ",".join(n for n, b in base.items() if dominates(F, b, meta["maximize"]))
        if "merged" in base:
            for j, party in enumerate(meta["objectives"]):
                if party in meta["parties"] and len(F):
                    row[f"gap_merged.{party}"] = float(F[:, j].max() - base["merged"][j])
        rows.append(row)
    return pd.DataFrame(rows)


def checkpoints(n: int, count: int = 25) -> list[int]:
    return sorted({round(x) for x in np.geomspace(1, n, count)} | {n}) if n else []


def anytime(evaluations: pd.DataFrame, problems: dict) -> pd.DataFrame:
    """Hypervolume of everything evaluated so far (val), at log-spaced checkpoints, per job."""
    rows = []
    for job, g in evaluations.groupby("job", sort=False):
        meta = problems[g.problem.iloc[0]]
        F = g.sort_values("eval")[objective_columns(meta)].to_numpy(dtype=float)
        for k in checkpoints(len(F)):
            rows.append(
                {
                    "job": job,
                    "problem": g.problem.iloc[0],
                    "solver": g.solver.iloc[0],
                    "seed": g.seed.iloc[0],
                    "zoo_seed": g.zoo_seed.iloc[0],
                    "eval": k,
                    "hypervolume": hypervolume(F[:k], meta),
                }
            )
    return pd.DataFrame(rows)


def attainment(fronts: list[np.ndarray], maximize: list[bool], percentiles=(25, 50, 75)) -> dict[int, np.ndarray]:
    """Empirical attainment surfaces across runs (two objectives): {percentile: points}."""
    data = np.vstack([f for f in fronts if len(f)])
    sets = np.concatenate([np.full(len(f), i + 1) for i, f in enumerate(fronts) if len(f)])
    sign = np.where(maximize, -1.0, 1.0)  # moocore's EAF minimizes
    surf = moocore.eaf(data * sign, sets=sets, percentiles=list(percentiles))
    return {p: surf[surf[:, -1] == p][:, :-1] * sign for p in percentiles}
