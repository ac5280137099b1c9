"""The report's tables of a run: each instance's solvers (hypervolume, rank, tests against the best), its
runtime-ECDF areas and its baselines."""

import numpy as np
import pandas as pd

from stitchbench.moo._instance import ProblemInstance

from ._indicators import reference_vectors
from ._statistics import ALPHA, decided


def versus_best(best: str, solver: str, stats: pd.DataFrame) -> tuple[str, str]:
    """(Holm-corrected p, A12 of the solver against the best) from statistics.parquet's pair row."""
    row = stats[
        ((stats.solver_a == solver) & (stats.solver_b == best))
        | ((stats.solver_a == best) & (stats.solver_b == solver))
    ]
    if not len(row):
        return "—", "—"
    r = row.iloc[0]
    effect = r.A12 if r.solver_a == solver else 1 - r.A12
    p = "too few seeds" if r.verdict == "too few seeds" else f"{r.p_holm:.3g}" + (" *" if r.p_holm <= ALPHA else "")
    return p, f"{effect:.2f}"


def ranked_rows(values: pd.DataFrame, column: str, label: str, count: str, stats: pd.DataFrame) -> list[dict]:
    """Per solver, the best mean of `column` first: its `count` of rows, mean ± sd, rank, and the Holm p and
    A12 against the best from the pair tests `stats`."""
    summary = values.groupby("solver")[column].agg(["mean", "std", "count"]).sort_values("mean", ascending=False)
    best = summary.index[0]
    rows = []
    for rank, (solver, r) in enumerate(summary.iterrows(), 1):
        p, effect = ("—", "—") if solver == best else versus_best(best, solver, stats)
        rows.append(
            {
                "solver": solver,
                count: int(r["count"]),
                f"{label} mean ± sd": f"{r['mean']:.4f} ± {0 if np.isnan(r['std']) else r['std']:.4f}",
                "rank": rank,
                "p vs best (MWU, Holm)": p,
                "A12 vs best": effect,
            }
        )
    return rows


def solver_table(rec: ProblemInstance, indicators: pd.DataFrame, stats: pd.DataFrame) -> pd.DataFrame:
    sel = indicators[(indicators.instance == rec.id) & (indicators.split == "test")] if len(indicators) else indicators
    if not len(sel):
        return pd.DataFrame()
    stats = stats[(stats.instance == rec.id) & (stats.get("split", "test") == "test")] if len(stats) else stats
    rows = ranked_rows(sel, "hypervolume", "HV", "seeds", stats)
    for row in rows:
        mine = sel[sel.solver == row["solver"]]
        doms = mine.dominates.str.split(",").explode()
        doms = doms[doms != ""].value_counts()
        if "igd_plus" in sel and sel.igd_plus.notna().any():
            row[f"IGD+ mean ({rec.front} front)"] = f"{mine.igd_plus.mean():.4f}"
        row["strictly dominates (seeds)"] = ", ".join(f"{k} {v}/{row['seeds']}" for k, v in doms.items()) or "—"
    return pd.DataFrame(rows)


def area_table(per_run: pd.DataFrame, tests: pd.DataFrame) -> pd.DataFrame:
    """An instance's runtime-ECDF areas (val) per solver, and the solvers each is significantly better than
    (two-sided Mann-Whitney U over runs, Holm-corrected within the instance: `anytime.instance_tests`)."""
    rows = ranked_rows(per_run, "area", "ECDF area", "runs", tests)
    beats = [pair for pair in map(decided, tests.itertuples()) if pair]
    for row in rows:
        row["significantly better than"] = ", ".join(b for a, b in beats if a == row["solver"]) or "—"
    return pd.DataFrame(rows)


def fmt(x: float) -> str:
    return f"{x:.3f}"


def baseline_table(rec: ProblemInstance, baselines: pd.DataFrame) -> pd.DataFrame:
    """Each reference model's objective vector on test."""
    base = reference_vectors(baselines, rec, "test")
    return pd.DataFrame(
        [{"baseline": k, **{o: fmt(v[i]) for i, o in enumerate(rec.objectives)}} for k, v in base.items()]
    )
