"""The paper's four findings, checked on a run's test split as PAPER.md defines them.

Scores are in [0, 1]; a point is 0.01. Claims are checked per scenario (name and parameters). Claims 1-3
use the mean over the run's zoo seeds of the reference models' scores. Claim 4 is decided per zoo seed and
holds when it holds on every zoo seed: S is the union of the final fronts (chosen on val, scored on test)
of host p's stitch-ensemble problems over all solvers and seeds, restricted to stitched candidates
(alpha > 0); E is the front of weighted output ensembles of the same members (chosen on val, scored on
test). Some s in S must recover (within 1.5 points of local p on p, and at least half the ensemble's gain
over local p on every other party) and no point of E may weakly dominate it.
"""

import json

import moocore
import numpy as np
import pandas as pd

from stitchbench.problems import ProblemInstance

from .indicators import long_front, reference_vectors

POINT = 0.01
EPS = 1e-9


def reference_scores(baselines: pd.DataFrame, recs: list[ProblemInstance]) -> dict[str, dict[str, float]] | None:
    """{reference: {party: test score}} from the first instance whose baselines hold every local model."""
    for rec in recs:
        vectors = reference_vectors(baselines, rec, "test")
        if all(f"local:{p}" in vectors for p in rec.parties) and "ensemble" in vectors:
            return {n: {p: float(v[rec.objectives.index(p)]) for p in rec.parties} for n, v in vectors.items()}
    return None


def mean_scores(per_seed: dict[int, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    seeds = list(per_seed.values())
    names = set.intersection(*(set(s) for s in seeds))
    return {n: {p: float(np.mean([s[n][p] for s in seeds])) for p in seeds[0][n]} for n in sorted(names)}


def verdict(checks: list[dict]) -> bool:
    return bool(checks) and all(c["holds"] for c in checks)


def claim1(s: dict, parties: list[str]) -> list[dict]:
    return [
        {
            "party": p,
            "local": s[f"local:{p}"][p],
            "merged": s["merged"][p],
            "diff_points": abs(s[f"local:{p}"][p] - s["merged"][p]) / POINT,
            "holds": abs(s[f"local:{p}"][p] - s["merged"][p]) <= 3 * POINT + EPS,
        }
        for p in parties
    ]


def claim2(s: dict, parties: list[str]) -> list[dict]:
    return [
        {
            "party": p,
            "other": q,
            "local_p_on_q": s[f"local:{p}"][q],
            "local_q_on_q": s[f"local:{q}"][q],
            "holds": s[f"local:{p}"][q] <= s[f"local:{q}"][q] - 10 * POINT + EPS,
        }
        for p in parties
        for q in parties
        if q != p
    ]


def claim3(s: dict, parties: list[str]) -> list[dict]:
    out = []
    for p in parties:
        ens, loc = s["ensemble"], s[f"local:{p}"]
        out.append(
            {"party": p, "on": p, "ensemble": ens[p], "local_p": loc[p], "holds": ens[p] <= loc[p] - POINT + EPS}
        )
        out += [
            {"party": p, "on": q, "ensemble": ens[q], "local_p": loc[q], "holds": ens[q] >= loc[q] + POINT - EPS}
            for q in parties
            if q != p
        ]
    return out


def recovery_targets(ref: dict, host: str, parties: list[str]) -> dict[str, float]:
    local, ens = ref[f"local:{host}"], ref["ensemble"]
    need = {host: local[host] - 1.5 * POINT}
    return need | {q: local[q] + 0.5 * (ens[q] - local[q]) for q in parties if q != host}


def weakly_dominated(E: np.ndarray, s: np.ndarray) -> np.ndarray:
    """For each row of s: does some row of E score at least as well on every party (maximized)?"""
    if not len(E):
        return np.zeros(len(s), dtype=bool)
    return (E[None, :, :] >= s[:, None, :] - EPS).all(2).any(1)


def hv_scores(F: np.ndarray) -> float:
    """Hypervolume of party scores (maximized, in [0, 1]) against the origin."""
    return float(moocore.hypervolume(F, ref=np.zeros(F.shape[1]), maximise=True)) if len(F) else 0.0


def decision(row: pd.Series, rec: ProblemInstance) -> dict:
    """A stitched front point as its decision: point name, alpha, weights, where it came from."""
    choices = next(v["choices"] for v in rec.variables if v["name"] == "point")
    weights = {v["name"][2:]: float(row[f"x.{v['name']}"]) for v in rec.variables if v["name"].startswith("w.")}
    total = sum(weights.values())
    return {
        "point": choices[int(row["x.point"])],
        "alpha": float(row["x.alpha"]),
        "weights": {k: (w / total if total > 0 else 1 / len(weights)) for k, w in weights.items()},
        "solver": row.solver,
        "seed": int(row.seed),
        "method": rec.params.get("method"),
        "instance": rec.id,
    }


def claim4_seed(
    ref: dict, host: str, recs: list[ProblemInstance], fronts: pd.DataFrame, ensemble_fronts: pd.DataFrame
) -> dict:
    parties = recs[0].parties
    need = recovery_targets(ref, host, parties)
    cols = [f"f.{p}" for p in parties]
    ids = {r.id: r for r in recs}
    sel = fronts[fronts.instance.isin(ids) & (fronts.split == "test")] if len(fronts) else fronts
    stitched = sel[sel["x.alpha"] > 0] if len(sel) else sel
    S = stitched[cols].to_numpy(dtype=float) if len(stitched) else np.empty((0, len(parties)))
    E = np.vstack(
        [f for r in recs if (f := long_front(ensemble_fronts, r, "test", parties)) is not None]
        or [np.empty((0, len(parties)))]
    )
    margins = S - np.array([need[p] for p in parties])
    recovers = (margins >= -EPS).all(1)
    beaten = weakly_dominated(E, S)
    ok = recovers & ~beaten
    result = {
        "required": need,
        "stitched_points": len(S),
        "ensemble_points": len(E),
        "recovering_points": int(recovers.sum()),
        "recovering_but_dominated_by_ensembles": int((recovers & beaten).sum()),
        "hv_gain": hv_scores(np.vstack([S, E])) - hv_scores(E),
        "holds": bool(ok.any()),
    }
    if len(S):
        # the deciding point: the best qualifying one, else the best-recovering one (to show why it fails)
        pool = np.flatnonzero(ok) if ok.any() else np.arange(len(S))
        best = pool[np.argmax(margins[pool].min(1))]
        row = stitched.iloc[best]
        result["point"] = dict(zip(parties, map(float, S[best]), strict=True))
        result["dominated_by_ensemble"] = bool(beaten[best])
        result["decision"] = decision(row, ids[row.instance])
    return result


def claim4(
    host: str, per_seed: dict, recs: list[ProblemInstance], fronts: pd.DataFrame, ensemble_fronts: pd.DataFrame
) -> dict:
    seeds = {}
    for seed, ref in per_seed.items():
        mine = [r for r in recs if r.family == "stitch-ensemble" and r.host == host and r.zoo_seed == seed]
        if mine:
            seeds[seed] = {"zoo_seed": seed} | claim4_seed(ref, host, mine, fronts, ensemble_fronts)
    tested = bool(seeds) and set(seeds) == set(per_seed)
    return {
        "host": host,
        "tested": tested,
        "per_seed": list(seeds.values()),
        "holds": tested and verdict(list(seeds.values())),
    }


def check_claims(
    baselines: pd.DataFrame,
    fronts: pd.DataFrame,
    ensemble_fronts: pd.DataFrame,
    instances: dict[str, ProblemInstance],
) -> dict:
    out: dict = {"split": "test", "point": POINT, "scenarios": {}}
    for scenario in sorted({r.scenario for r in instances.values()}):
        recs = [r for r in instances.values() if r.scenario == scenario]
        per_seed = {}
        for seed in sorted({r.zoo_seed for r in recs}):
            ref = reference_scores(baselines, [r for r in recs if r.zoo_seed == seed])
            if ref is not None:
                per_seed[seed] = ref
        if not per_seed:
            continue
        s = mean_scores(per_seed)
        parties = recs[0].parties
        has_merged = "merged" in s
        c4 = [claim4(p, per_seed, recs, fronts, ensemble_fronts) for p in parties]
        tested4 = [c for c in c4 if c["tested"]]
        out["scenarios"][scenario] = {
            "seeds": sorted(per_seed),
            "claims": [
                {
                    "id": 1,
                    "name": "Local matches merged on its own data",
                    "tested": has_merged,
                    "holds": has_merged and verdict(claim1(s, parties)),
                    "checks": claim1(s, parties) if has_merged else [],
                },
                {
                    "id": 2,
                    "name": "Local is worse elsewhere",
                    "tested": True,
                    "holds": verdict(claim2(s, parties)),
                    "checks": claim2(s, parties),
                },
                {
                    "id": 3,
                    "name": "The ensemble trades own performance for generalization",
                    "tested": True,
                    "holds": verdict(claim3(s, parties)),
                    "checks": claim3(s, parties),
                },
                {
                    "id": 4,
                    "name": "Stitches improve on ensembles",
                    "tested": bool(tested4),
                    "holds": verdict(tested4),
                    "checks": c4,
                },
            ],
        }
    return json.loads(json.dumps(out, default=float))
