"""Solver comparisons that can decide: per problem instance and split, pairwise two-sided Mann-Whitney U
tests of hypervolume over solver seeds, Holm-corrected within the instance and split, with the
Vargha-Delaney A12 effect size. On val they compare search (the split solvers optimize); on test, what the
report shows, they also carry how the chosen fronts generalize. Where a pair's seeds are too few for its
Holm-corrected p to reach ALPHA whatever the data (the smallest exact p, times the number of pairs, exceeds
it), no p-value is reported: "too few seeds"."""

from itertools import combinations
from math import comb

import numpy as np
import pandas as pd

ALPHA = 0.05
COLUMNS = [
    *("instance", "split", "solver_a", "solver_b", "n_a", "n_b", "hv_a", "hv_b"),
    *("U", "p", "p_holm", "A12", "verdict"),
]


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values."""
    m = len(p)
    order = np.argsort(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def smallest_p(n_a: int, n_b: int) -> float:
    """The smallest two-sided exact Mann-Whitney p-value any samples of these sizes can give."""
    return min(1.0, 2 / comb(n_a + n_b, n_a))


def a12(a: np.ndarray, b: np.ndarray) -> float:
    """Vargha-Delaney A12: the probability that a seed of `a` beats one of `b` (ties count half)."""
    return float(((a[:, None] > b[None, :]).sum() + 0.5 * (a[:, None] == b[None, :]).sum()) / (len(a) * len(b)))


def decided(row) -> tuple[str, str] | None:
    """(winner, loser) of a pair row (solver_a, solver_b, verdict) whose verdict separates them; else None."""
    if row.verdict == "a better":
        return row.solver_a, row.solver_b
    if row.verdict == "b better":
        return row.solver_b, row.solver_a
    return None


def verdict(p_holm: float, effect: float) -> str:
    if p_holm > ALPHA:
        return "no significant difference"
    return "a better" if effect > 0.5 else "b better"


def mann_whitney_pairs(samples: dict[str, np.ndarray]) -> list[dict]:
    """Every pair (a, b) of `samples` (solver -> one value per seed), in key order: two-sided Mann-Whitney U,
    Holm-corrected over the pairs, with A12 and the verdict; where no Holm-corrected p could reach ALPHA with
    these seeds, p is NaN and the verdict "too few seeds"."""
    pairs = list(combinations(samples, 2))
    if not pairs:
        return []
    from scipy.stats import mannwhitneyu  # scipy.stats takes 0.7 s to import: only when testing

    tests = [mannwhitneyu(samples[a], samples[b], alternative="two-sided") for a, b in pairs]
    p = np.array([t.pvalue for t in tests], dtype=float)
    rows = []
    for (a, b), t, pv, ph in zip(pairs, tests, p, holm(np.nan_to_num(p, nan=1.0)), strict=True):
        effect = a12(samples[a], samples[b])
        decidable = len(pairs) * smallest_p(len(samples[a]), len(samples[b])) <= ALPHA
        rows.append(
            {
                "solver_a": a,
                "solver_b": b,
                "n_a": len(samples[a]),
                "n_b": len(samples[b]),
                "mean_a": float(samples[a].mean()),
                "mean_b": float(samples[b].mean()),
                "U": float(t.statistic),
                "p": float(pv) if decidable else np.nan,
                "p_holm": float(ph) if decidable else np.nan,
                "A12": effect,
                "verdict": verdict(ph, effect) if decidable else "too few seeds",
            }
        )
    return rows


def pairwise_tests(indicators: pd.DataFrame) -> pd.DataFrame:
    """Every pair of solvers on every instance and split, on hypervolume (`mann_whitney_pairs`)."""
    rows = []
    for (instance, split), g in indicators.groupby(["instance", "split"], sort=False) if len(indicators) else []:
        hv = {s: h.hypervolume.to_numpy(dtype=float) for s, h in g.groupby("solver", sort=True)}
        for r in mann_whitney_pairs(hv):
            r["hv_a"], r["hv_b"] = r.pop("mean_a"), r.pop("mean_b")
            rows.append({"instance": instance, "split": split} | r)
    return pd.DataFrame(rows, columns=COLUMNS)


def seeds_to_decide(pairs: int, alpha: float = ALPHA) -> int:
    """The fewest seeds per solver with which `pairs` Holm-corrected Mann-Whitney tests can reach `alpha`."""
    n = 2
    while pairs * smallest_p(n, n) > alpha:
        n += 1
    return n


def best_solvers(indicators: pd.DataFrame, tests: pd.DataFrame, split: str = "val") -> pd.DataFrame:
    """Per instance: the solvers no other solver is significantly better than (Holm; the direction read
    from each pair's verdict), best mean first, and in plain words why; where some pair has too few seeds to
    decide, how many would."""
    rows = []
    ind = indicators[indicators.split == split] if len(indicators) else indicators
    for instance, g in ind.groupby("instance", sort=False) if len(ind) else []:
        means = g.groupby("solver").hypervolume.mean().sort_values(ascending=False)
        t = tests[(tests.instance == instance) & (tests.split == split)] if len(tests) else tests
        beaten = {s: set() for s in means.index}  # solver -> the solvers significantly better than it
        undecided = False
        for r in t.itertuples():
            if pair := decided(r):
                beaten[pair[1]].add(pair[0])
            undecided |= r.verdict == "too few seeds"
        best = [s for s in means.index if not beaten[s]]
        others = [s for s in means.index if s not in best]
        seeds = int(g.groupby("solver").seed.nunique().min())
        pairs = len(means) * (len(means) - 1) // 2
        if undecided:
            note = (
                f"too few seeds to decide every pair: {seeds} per solver; {seeds_to_decide(pairs)} would let "
                f"{pairs} Holm-corrected tests reach p ≤ {ALPHA}"
            )
        elif len(best) == 1 and all(best[0] in beaten[s] for s in others):
            note = f"{best[0]} is significantly better than every other solver"
        elif others:
            note = f"each of {', '.join(others)} is significantly worse than some solver; no test separates the rest"
        else:
            note = "no test separates any two solvers"
        rows.append(
            {
                "instance": instance,
                "best (no solver significantly better)": ", ".join(best),
                "top mean HV": float(means.iloc[0]),
                "seeds": seeds,
                "verdict": note,
            }
        )
    columns = ["instance", "best (no solver significantly better)", "top mean HV", "seeds", "verdict"]
    return pd.DataFrame(rows, columns=columns)
