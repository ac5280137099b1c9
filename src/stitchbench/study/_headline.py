"""The headline of a run, first in its report: per scenario and host, the stitched point s* claim 4 selects on
val, scored on test, against merged data, FedAvg, FedProx and the uniform ensemble, with claim 4's verdict,
as mean ± SE over zoo seeds (booleans as counts of seeds), and a paragraph of plain words per scenario
generated from those numbers."""

import numpy as np
import pandas as pd

from stitchbench.moo._instance import ProblemInstance
from stitchbench.results._indicators import reference_vectors, strictly_dominates

from ._bootstrap import combined
from ._records import ClaimsRecord

COMPARED = ("fedavg", "fedprox", "ensemble")  # what the stitched point is checked to strictly dominate


def seed_rows(claims: ClaimsRecord, baselines: pd.DataFrame, instances: dict[str, ProblemInstance]) -> pd.DataFrame:
    """One row per scenario, host and zoo seed: claim 4's verdict there (and why it is not tested), and where a
    stitched candidate was selected, its test score and gap to merged per party, whether it strictly dominates
    each of COMPARED, the bootstrap fraction (with its Monte Carlo SE) and the HV gain."""
    rows = []
    for scenario, data in claims.scenarios.items():
        claim4 = data.claim(4)
        for check in claim4.checks if claim4 else []:
            for r in check.per_seed:
                row = {"scenario": scenario, "host": check.host, "zoo_seed": r.zoo_seed, "verdict": r.verdict}
                if r.selected is None:
                    rows.append(row | {"tested": False, "reason": r.reason or ""})
                    continue
                rec = instances[r.selected.instance]
                base = reference_vectors(baselines, rec, "test")
                parties = list(r.point)
                point = np.array([r.point[p] for p in parties])
                columns = [rec.objectives.index(p) for p in parties]
                row["tested"] = True
                for p, value, j in zip(parties, point, columns, strict=True):
                    row[f"score.{p}"] = value
                    if "merged" in base:
                        row[f"gap_merged.{p}"] = value - base["merged"][j]
                for name in COMPARED:
                    if name in base:
                        row[f"dominates.{name}"] = strictly_dominates(
                            point[None], base[name][columns], [True] * len(parties)
                        )
                row |= {
                    "bootstrap": r.bootstrap.fraction if r.bootstrap else None,
                    "bootstrap_se": r.bootstrap.se if r.bootstrap else None,
                    "hv_gain": r.hv_gain,
                }
                rows.append(row)
    return pd.DataFrame(rows)


def mean_se(values: pd.Series, digits: int = 3) -> str:
    v = values.dropna().to_numpy(dtype=float)
    if not len(v):
        return "—"
    se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0
    return f"{v.mean():.{digits}f} ± {se:.{digits}f}" if len(v) > 1 else f"{v.mean():.{digits}f}"


def headline(claims: ClaimsRecord, baselines: pd.DataFrame, instances: dict[str, ProblemInstance]) -> pd.DataFrame:
    """The headline table: one row per scenario and host (mean ± SE over zoo seeds; n seeds)."""
    seeds = seed_rows(claims, baselines, instances)
    out = []
    for (scenario, host), g in seeds.groupby(["scenario", "host"], sort=False) if len(seeds) else []:
        n = len(g)
        row = {"scenario": scenario, "host": host, "zoo seeds": n}
        t = g[g.tested.astype(bool)]
        for c in g.columns:
            if c.startswith("score."):
                row[f"stitched on {c[6:]} (test)"] = mean_se(g[c])
        for c in g.columns:
            if c.startswith("gap_merged."):
                row[f"gap to merged on {c[11:]} (points)"] = mean_se(g[c] * 100, 1)
        for name in COMPARED:
            if f"dominates.{name}" in g:
                row[f"strictly dominates {name}"] = f"{int(t[f'dominates.{name}'].astype(bool).sum())}/{len(t)}"
        row["claim 4"] = f"{combined(list(g.verdict))} ({seed_counts(g)})"
        nothing = pd.Series(dtype=float)  # no seed tested: no bootstrap, no gain
        row["bootstrap fraction ± SE"] = fractions(t) or "—"
        row["HV gain over E"] = mean_se(t.get("hv_gain", nothing), 4)
        out.append(row)
    return pd.DataFrame(out)


def fractions(rows: pd.DataFrame) -> str:
    """The bootstrap fractions of zoo seeds' rows, each with its Monte Carlo SE."""
    if "bootstrap" not in rows:
        return ""
    pairs = zip(rows.bootstrap, rows.bootstrap_se, strict=True)
    return ", ".join(f"{f:.1%} ± {se:.1%}" for f, se in pairs if pd.notna(f))


def seed_counts(g: pd.DataFrame) -> str:
    """How many zoo seeds gave each verdict, e.g. "2 HOLDS, 1 FAILS of 3 zoo seeds"."""
    counts = g.verdict.value_counts()
    return ", ".join(f"{n} {v}" for v, n in counts.items()) + f" of {len(g)} zoo seed{'s' if len(g) > 1 else ''}"


def verdicts(claims: ClaimsRecord, baselines: pd.DataFrame, instances: dict[str, ProblemInstance]) -> dict[str, str]:
    """Per scenario, a paragraph of plain words from the headline numbers."""
    seeds = seed_rows(claims, baselines, instances)
    return {
        scenario: " ".join(host_sentences(host, h) for host, h in g.groupby("host", sort=False))
        for scenario, g in (seeds.groupby("scenario", sort=False) if len(seeds) else [])
    }


def host_sentences(host: str, seeds: pd.DataFrame) -> str:
    """A host's sentences from its zoo seeds' rows; parties of other scenarios (all-NaN columns of a run with
    scenarios of different parties) are left out."""
    seeds = seeds.dropna(axis=1, how="all")
    h = seeds[seeds.tested.astype(bool)]
    untested = seeds[~seeds.tested.astype(bool)]
    n = len(h)
    if not n:
        why = "; ".join(sorted(set(untested.reason)))
        return f"Host {host}: claim 4 is not tested on any of its {len(seeds)} zoo seeds ({why})."
    scores = ", ".join(f"{c[6:]} {h[c].mean():.3f}" for c in h.columns if c.startswith("score."))
    gaps = {c[11:]: h[c].mean() * 100 for c in h.columns if c.startswith("gap_merged.")}
    worst = min(gaps, key=gaps.get) if gaps else None
    if worst is None:
        gap = "there is no merged model to compare with"
    elif gaps[worst] < 0:
        gap = f"{-gaps[worst]:.1f} points below merged data on {worst}, its largest gap"
    else:
        gap = "at or above merged data on every party"
    counts = {name: int(h[f"dominates.{name}"].astype(bool).sum()) for name in COMPARED if f"dominates.{name}" in h}
    every = " and ".join(k for k, c in counts.items() if c == n)
    some = " and ".join(k for k, c in counts.items() if 0 < c < n)
    none = " or ".join(k for k, c in counts.items() if c == 0)
    parts = [f"{every} on every zoo seed" if every else "", f"{some} on some zoo seeds only" if some else ""]
    parts = [x for x in parts if x]
    if parts:
        dominance = f"It strictly dominates {'; '.join(parts)}" + (f", but not {none}." if none else ".")
    else:
        dominance = f"It strictly dominates none of {', '.join(counts)}." if counts else ""
    verdict = combined(list(seeds.verdict))
    why = "; ".join(sorted({r for r in seeds.get("reason", pd.Series(dtype=str)).dropna() if r}))
    tested = fractions(h)
    c4 = f"Claim 4 {verdict} ({seed_counts(seeds)}" + (f"; bootstrap fractions {tested}" if tested else "")
    c4 += f"; {why})." if why else ")."
    counted = f"{n} zoo seed{'s' if n > 1 else ''}" + (f" tested of {len(seeds)}" if len(untested) else "")
    picked = f"the stitched candidate s* claim 4 selects on val scores {scores} on test, {gap}"
    return f"Host {host} ({counted}): {picked}. {dominance} {c4}"
