"""The headline of a run, first in its report: per scenario and host, the stitched point claim 4 picks on
val, scored on test, against merged data, FedAvg, FedProx and the uniform ensemble, with claim 4's verdict,
as mean ± SE over zoo seeds (booleans as counts of seeds), and a paragraph of plain words per scenario
generated from those numbers."""

import numpy as np
import pandas as pd

from stitchbench.moo.instance import ProblemInstance

from .indicators import reference_vectors, strictly_dominates

COMPARED = ("fedavg", "fedprox", "ensemble")  # what the stitched point is checked to strictly dominate


def seed_rows(claims: dict, baselines: pd.DataFrame, instances: dict[str, ProblemInstance]) -> pd.DataFrame:
    """One row per scenario, host and tested zoo seed: the point's test score and gap to merged per party,
    whether it strictly dominates each of COMPARED, claim 4's verdict, bootstrap fraction and HV gain."""
    rows = []
    for scenario, data in claims.get("scenarios", {}).items():
        claim4 = next((c for c in data["claims"] if c["id"] == 4), None)
        for check in claim4["checks"] if claim4 else []:
            for r in check["per_seed"]:
                if not r.get("tested"):
                    continue
                rec = instances[r["decision"]["instance"]]
                base = reference_vectors(baselines, rec, "test")
                parties = list(r["point"])
                point = np.array([r["point"][p] for p in parties])
                columns = [rec.objectives.index(p) for p in parties]
                row = {"scenario": scenario, "host": check["host"], "zoo_seed": r["zoo_seed"]}
                for p, value, j in zip(parties, point, columns, strict=True):
                    row[f"score.{p}"] = value
                    if "merged" in base:
                        row[f"gap_merged.{p}"] = value - base["merged"][j]
                for name in COMPARED:
                    if name in base:
                        row[f"dominates.{name}"] = strictly_dominates(
                            point[None], base[name][columns], [True] * len(parties)
                        )
                row |= {"holds": r["holds"], "bootstrap": r["bootstrap_fraction"], "hv_gain": r["hv_gain"]}
                rows.append(row)
    return pd.DataFrame(rows)


def mean_se(values: pd.Series, digits: int = 3) -> str:
    v = values.dropna().to_numpy(dtype=float)
    if not len(v):
        return "—"
    se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0
    return f"{v.mean():.{digits}f} ± {se:.{digits}f}" if len(v) > 1 else f"{v.mean():.{digits}f}"


def headline(claims: dict, baselines: pd.DataFrame, instances: dict[str, ProblemInstance]) -> pd.DataFrame:
    """The headline table: one row per scenario and host (mean ± SE over zoo seeds; n seeds)."""
    seeds = seed_rows(claims, baselines, instances)
    out = []
    for (scenario, host), g in seeds.groupby(["scenario", "host"], sort=False) if len(seeds) else []:
        n = len(g)
        row = {"scenario": scenario, "host": host, "zoo seeds": n}
        for c in g.columns:
            if c.startswith("score."):
                row[f"stitched on {c[6:]} (test)"] = mean_se(g[c])
        for c in g.columns:
            if c.startswith("gap_merged."):
                row[f"gap to merged on {c[11:]} (points)"] = mean_se(g[c] * 100, 1)
        for name in COMPARED:
            if f"dominates.{name}" in g:
                row[f"strictly dominates {name}"] = f"{int(g[f'dominates.{name}'].sum())}/{n}"
        row["claim 4"] = f"PASS {int(g.holds.sum())}/{n}" if g.holds.all() else f"FAIL ({int(g.holds.sum())}/{n} hold)"
        row["bootstrap fraction"] = mean_se(g.bootstrap)
        row["HV gain over E"] = mean_se(g.hv_gain, 4)
        out.append(row)
    return pd.DataFrame(out)


def verdicts(claims: dict, baselines: pd.DataFrame, instances: dict[str, ProblemInstance]) -> dict[str, str]:
    """Per scenario, a paragraph of plain words from the headline numbers."""
    seeds = seed_rows(claims, baselines, instances)
    return {
        scenario: " ".join(host_sentences(host, h) for host, h in g.groupby("host", sort=False))
        for scenario, g in (seeds.groupby("scenario", sort=False) if len(seeds) else [])
    }


def host_sentences(host: str, h: pd.DataFrame) -> str:
    n = len(h)
    scores = ", ".join(f"{c[6:]} {h[c].mean():.3f}" for c in h.columns if c.startswith("score."))
    gaps = {c[11:]: h[c].mean() * 100 for c in h.columns if c.startswith("gap_merged.")}
    worst = min(gaps, key=gaps.get) if gaps else None
    if worst is None:
        gap = "there is no merged model to compare with"
    elif gaps[worst] < 0:
        gap = f"{-gaps[worst]:.1f} points below merged data on {worst}, its largest gap"
    else:
        gap = "at or above merged data on every party"
    counts = {name: int(h[f"dominates.{name}"].sum()) for name in COMPARED if f"dominates.{name}" in h}
    every = " and ".join(k for k, c in counts.items() if c == n)
    some = " and ".join(k for k, c in counts.items() if 0 < c < n)
    none = " or ".join(k for k, c in counts.items() if c == 0)
    parts = [f"{every} on every zoo seed" if every else "", f"{some} on some zoo seeds only" if some else ""]
    parts = [x for x in parts if x]
    if parts:
        dominance = f"It strictly dominates {'; '.join(parts)}" + (f", but not {none}." if none else ".")
    else:
        dominance = f"It strictly dominates none of {', '.join(counts)}." if counts else ""
    if h.holds.all():
        where = f"on all {n} zoo seeds" if n > 1 else "on its zoo seed"
        c4 = f"Claim 4 holds {where} (bootstrap fraction {h.bootstrap.mean():.1%})."
    else:
        c4 = (
            f"Claim 4 fails: it holds on {int(h.holds.sum())} of {n} zoo seeds (bootstrap fraction "
            f"{h.bootstrap.mean():.1%}, 95% needed)."
        )
    seeds = f"{n} zoo seed{'s' if n > 1 else ''}"
    picked = f"the stitched point claim 4 picks on val scores {scores} on test, {gap}"
    return f"Host {host} ({seeds}): {picked}. {dominance} {c4}"
