"""The paper's four findings, checked on a run's test split exactly as defined in PAPER.md.

Scores are in [0, 1]; a point is 0.01. Claims 1-3 use the zoo seeds' mean scores. Claim 4 looks for a
qualifying point on the union of the final test fronts of host p's stitch-ensemble problems; with several
zoo seeds it must hold for each seed. A claim that fails is reported as failing, with its numbers.
"""

import numpy as np
import pandas as pd

from .indicators import baseline_vectors

POINT = 0.01


def reference_scores(baselines: pd.DataFrame, problems: dict, scenario: str) -> dict[int, dict[str, dict[str, float]]]:
    """{zoo_seed: {reference: {party: test score}}} from any problem of the scenario."""
    out: dict[int, dict[str, dict[str, float]]] = {}
    for pid, meta in problems.items():
        if meta["scenario"] != scenario or meta["zoo_seed"] in out:
            continue
        vectors = baseline_vectors(baselines, pid, "test", meta)
        out[meta["zoo_seed"]] = {
            name: {p: float(v[meta["objectives"].index(p)]) for p in meta["parties"]} for name, v in vectors.items()
        }
    return out


def mean_scores(per_seed: dict[int, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    seeds = list(per_seed.values())
    return {ref: {p: float(np.mean([s[ref][p] for s in seeds])) for p in seeds[0][ref]} for ref in seeds[0]}


def check(holds_list: list[bool]) -> bool:
    return bool(holds_list) and all(holds_list)


def claim4(fronts: pd.DataFrame, problems: dict, scenario: str, per_seed: dict, host: str) -> dict:
    others = [q for q in per_seed[next(iter(per_seed))][f"local:{host}"] if q != host]
    results = []
    for seed, ref in per_seed.items():
        pids = [
            pid
            for pid, m in problems.items()
            if m["scenario"] == scenario
            and m["family"] == "stitch-ensemble"
            and m.get("host") == host
            and m["zoo_seed"] == seed
        ]
        if not pids:
            continue
        local, ens = ref[f"local:{host}"], ref["ensemble"]
        need = {host: local[host] - 1.5 * POINT}
        need |= {q: local[q] + 0.5 * (ens[q] - local[q]) for q in others}
        sel = fronts[(fronts.problem.isin(pids)) & (fronts.split == "test")]
        cols = [f"f.{p}" for p in need]
        F = sel[cols].to_numpy(dtype=float) if len(sel) else np.empty((0, len(cols)))
        margins = F - np.array(list(need.values())) if len(F) else np.empty((0, len(cols)))
        best = int(np.argmax(margins.min(1))) if len(F) else None
        results.append(
            {
                "zoo_seed": seed,
                "required": need,
                "best_point": None if best is None else dict(zip(need, map(float, F[best]), strict=True)),
                "holds": bool(best is not None and margins[best].min() >= 0),
                "front_points": len(F),
            }
        )
    return {"host": host, "tested": bool(results), "per_seed": results, "holds": check([r["holds"] for r in results])}


def check_claims(baselines: pd.DataFrame, fronts: pd.DataFrame, problems: dict) -> dict:
    out = {"split": "test", "point": POINT, "scenarios": {}}
    for scenario in sorted({m["scenario"] for m in problems.values()}):
        per_seed = reference_scores(baselines, problems, scenario)
        s = mean_scores(per_seed)
        parties = list(s[next(k for k in s if k.startswith("local:"))])
        c1 = [
            {
                "party": p,
                "local": s[f"local:{p}"][p],
                "merged": s["merged"][p],
                "diff_points": abs(s[f"local:{p}"][p] - s["merged"][p]) / POINT,
                "holds": abs(s[f"local:{p}"][p] - s["merged"][p]) <= 3 * POINT + 1e-9,
            }
            for p in parties
            if "merged" in s
        ]
        c2 = [
            {
                "party": p,
                "other": q,
                "local_p_on_q": s[f"local:{p}"][q],
                "local_q_on_q": s[f"local:{q}"][q],
                "holds": s[f"local:{p}"][q] <= s[f"local:{q}"][q] - 10 * POINT + 1e-9,
            }
            for p in parties
            for q in parties
            if q != p
        ]
        c3 = []
        for p in parties:
            c3.append(
                {
                    "party": p,
                    "on": p,
                    "ensemble": s["ensemble"][p],
                    "local_p": s[f"local:{p}"][p],
                    "holds": s["ensemble"][p] <= s[f"local:{p}"][p] - POINT + 1e-9,
                }
            )
            c3 += [
                {
                    "party": p,
                    "on": q,
                    "ensemble": s["ensemble"][q],
                    "local_p": s[f"local:{p}"][q],
                    "holds": s["ensemble"][q] >= s[f"local:{p}"][q] + POINT - 1e-9,
                }
                for q in parties
                if q != p
            ]
        c4 = [claim4(fronts, problems, scenario, per_seed, p) for p in parties]
        tested4 = [c for c in c4 if c["tested"]]
        out["scenarios"][scenario] = {
            "seeds": sorted(per_seed),
            "claims": [
                {
                    "id": 1,
                    "name": "Local matches merged on its own data",
                    "holds": check([c["holds"] for c in c1]),
                    "checks": c1,
                },
                {"id": 2, "name": "Local is worse elsewhere", "holds": check([c["holds"] for c in c2]), "checks": c2},
                {
                    "id": 3,
                    "name": "The ensemble trades own performance for generalization",
                    "holds": check([c["holds"] for c in c3]),
                    "checks": c3,
                },
                {
                    "id": 4,
                    "name": "A well placed stitch pair recovers",
                    "holds": check([c["holds"] for c in tested4]),
                    "tested": bool(tested4),
                    "checks": c4,
                },
            ],
        }
    return out
